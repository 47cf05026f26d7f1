"""Custom verbs (``:cancel``, ``/approve``, ``stop``) -> the status value they move an item to.

A verb compiles to a state transition only when the item's status enum has a value that
the verb names (cancel -> CANCELLED, start -> RUNNING); otherwise the report says why not.
"""

from __future__ import annotations

import re

SYNONYMS: dict[str, tuple[str, ...]] = {
    "cancel": ("cancelled", "canceled", "cancelling", "canceling"),
    "capture": ("captured", "succeeded", "paid"),
    "approve": ("approved", "active"),
    "reject": ("rejected", "declined", "denied"),
    "deny": ("denied", "rejected"),
    "decline": ("declined", "rejected"),
    "accept": ("accepted", "active", "approved"),
    "start": ("running", "started", "active", "in_progress", "starting"),
    "run": ("running", "in_progress", "active"),
    "stop": ("stopped", "terminated", "inactive", "stopping"),
    "suspend": ("suspended", "suspending", "paused"),
    "resume": ("active", "running", "resumed", "resuming", "enabled"),
    "pause": ("paused", "pausing", "suspended"),
    "unpause": ("active", "running", "enabled"),
    "enable": ("enabled", "active"),
    "disable": ("disabled", "inactive"),
    "activate": ("active", "activated", "enabled"),
    "deactivate": ("inactive", "deactivated", "disabled"),
    "archive": ("archived",),
    "unarchive": ("active", "unarchived"),
    "publish": ("published", "live", "active", "on_sale"),
    "unpublish": ("unpublished", "draft"),
    "complete": ("completed", "done", "succeeded"),
    "finish": ("finished", "completed", "done"),
    "close": ("closed",),
    "reopen": ("open", "reopened", "active"),
    "open": ("open", "opened"),
    "undelete": ("active", "enabled", "ready"),
    "restore": ("active", "ready", "restored", "restoring"),
    "submit": ("submitted", "pending", "in_review", "pending_review"),
    "verify": ("verified",),
    "retry": ("pending", "running", "queued"),
    "deploy": ("deployed", "active", "deploying"),
    "rollback": ("rolled_back", "rolling_back"),
    "lock": ("locked",),
    "unlock": ("unlocked", "active"),
    "revoke": ("revoked",),
    "expire": ("expired",),
    "fail": ("failed",),
    "hold": ("on_hold", "held"),
    "release": ("released", "active"),
    "confirm": ("confirmed",),
    "terminate": ("terminated",),
    "abort": ("aborted", "cancelled"),
    "reset": ("active", "ready", "pending"),
    "promote": ("promoted", "promoting", "active"),
    "schedule": ("scheduled",),
    "deprecate": ("deprecated",),
    "delete": ("deleted",),
    "trash": ("trashed", "deleted"),
    "untrash": ("active",),
    "ship": ("shipped",),
    "refund": ("refunded",),
    "void": ("voided", "void"),
    "return": ("returned",),
    "assign": ("assigned",),
    "resolve": ("resolved",),
    "escalate": ("escalated",),
    "mark": (),
}


def _norm(v: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", v.lower()).strip("_")


def _stem(verb: str) -> str:
    """The leading verb of a camelCase method name: pauseReplica -> pause."""
    m = re.match(r"[a-z]+", verb)
    return (m.group(0) if m else verb).lower()


def target_state(verb: str, values: list[str]) -> str | None:
    """The enum value a verb moves an item to, or None."""
    stem = _stem(verb)
    normed = {_norm(v): v for v in values}
    cands = list(SYNONYMS.get(stem, ()))
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", verb).lower().split("_")
    if len(words) > 1:  # checkIn -> checked_in, signOut -> signed_out
        rest = "_".join(words[1:])
        cands += [f"{w}_{rest}" for w in (stem + "ed", stem + "d")]
    cands += [stem + "ed", stem + "d", stem[:-1] + "ied" if stem.endswith("y") else stem + "ed"]
    if len(stem) > 3:
        cands += [stem + stem[-1] + "ed"]
    for c in cands:
        if c in normed:
            return normed[c]
    for c in cands:  # STATE_CANCELLED, JOB_STATE_RUNNING
        for n, v in normed.items():
            if n.endswith("_" + c):
                return v
    return None
