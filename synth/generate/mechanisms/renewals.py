"""Renewals with limits: prescriptions, licences, permits, memberships that run out.

Each renewable has renewals left and an expiry date; a renewal uses one, extends the expiry
by the term and is logged. Seed choices: the term, the renewal window before expiry (policy
rule), whether a lost item can be replaced.
"""

from __future__ import annotations

from typing import Any

from synth.generate.builder import Builder, enum, exists, pk, when
from synth.generate.sketch import Role

NAME = "renewals"
REQUIRES: tuple[str, ...] = ("accounts",)

DEFAULT = Role(
    table="licences",
    noun="licence",
    id_pattern="LC#######",
    names=["Standard licence", "Extended licence", "Permit"],
)


def apply(b: Builder, params: dict[str, Any]) -> None:
    rng = b.rng(NAME)
    r = b.role("renewable", DEFAULT)
    t, key, uid, un = r.table, f"{r.key}_id", b.uid, b.user.noun
    term = params.get("term_days") or rng.choice([30, 90, 180, 365])
    window = rng.choice([30, 60, 90])
    replace = rng.random() < 0.5
    lt = f"{r.key}_renewals"
    b.table(
        t,
        {
            "description": r.description or f"{r.noun.capitalize()}s held by {un}s.",
            "rows": 90,
            "columns": {
                key: pk(r.id_pattern),
                uid: {"type": "string", "references": f"{b.ut}.{uid}"},
                "name": {
                    "type": "string",
                    "max_length": 80,
                    "faker": {"choices": list(r.names)}
                    if r.names
                    else {"provider": "catch_phrase"},
                },
                "renewals_left": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": 5,
                    "check": "renewals_left >= 0",
                },
                "expires_on": when("2024-03-01", "2024-12-31", exempt=False),
                "status": enum(
                    ["active", "suspended", "revoked"] + (["replaced"] if replace else []),
                    [0.85, 0.1, 0.05] + ([0.0] if replace else []),
                ),
            },
        },
    )
    b.table(
        lt,
        {
            "description": f"Every renewal of a {r.noun}.",
            "rows": 60,
            "natural_key": [key, "renewed_at"],
            "columns": {
                "renewal_id": pk("RN######", generated=True),
                key: {"type": "string", "references": f"{t}.{key}"},
                "renewed_at": when("2023-01-01 00:00:00", "2024-05-15 12:00:00"),
                "new_expiry": {
                    "type": "date",
                    "faker": {"sql": f"SELECT date({lt}.renewed_at, '+{term} days')"},
                },
            },
        },
    )
    kp = {key: {"type": "string", "references": f"{t}.{key}"}}
    b.tool(
        f"list_{b.user.key}_{t}",
        {
            "description": f"List a {un}'s {r.noun}s with expiry dates and renewals left.",
            "params": {uid: b.user_param()},
            "reads": [b.ut, t],
            "preconditions": [b.user_exists()],
            "returns": {
                "query": f"SELECT {key}, name, expires_on, renewals_left, status FROM {t} WHERE {uid} = :{uid} ORDER BY expires_on, {key}",
                "shape": "list",
            },
        },
    )
    b.tool(
        f"get_{r.key}",
        {
            "description": f"Get a {r.noun} with its renewal history.",
            "params": kp,
            "reads": [t, lt],
            "preconditions": [exists(t, key)],
            "returns": {
                "query": f"SELECT x.{key}, x.{uid}, x.name, x.expires_on, x.renewals_left, x.status, (SELECT json_group_array(l.renewed_at) FROM (SELECT renewed_at FROM {lt} WHERE {key} = x.{key} ORDER BY renewed_at) l) AS renewals FROM {t} x WHERE x.{key} = :{key}",
                "json_columns": ["renewals"],
            },
        },
    )
    b.tool(
        f"renew_{r.key}",
        {
            "description": f"Renew an active {r.noun} that has renewals left: it runs {term} days past its expiry (or past today if expired).",
            "params": kp,
            "reads": [t],
            "writes": [t, lt],
            "generate": {
                "renewal_id": {"pattern": "RN######", "table": lt, "column": "renewal_id"}
            },
            "let": {
                "new_expiry": f"SELECT date(MAX(expires_on, date(:now)), '+{term} days') FROM {t} WHERE {key} = :{key}"
            },
            "preconditions": [
                exists(t, key),
                {
                    "check": f"SELECT status = 'active', status FROM {t} WHERE {key} = :{key}",
                    "error": f"{r.noun.capitalize()} {{{key}}} is {{status}}.",
                },
                {
                    "check": f"SELECT renewals_left > 0 FROM {t} WHERE {key} = :{key}",
                    "error": f"{r.noun.capitalize()} {{{key}}} has no renewals left.",
                },
            ],
            "effects": [
                f"UPDATE {t} SET renewals_left = renewals_left - 1, expires_on = :new_expiry WHERE {key} = :{key}",
                f"INSERT INTO {lt} (renewal_id, {key}, renewed_at, new_expiry) VALUES (:renewal_id, :{key}, :now, :new_expiry)",
            ],
            "returns": {
                "query": f"SELECT {key}, expires_on, renewals_left FROM {t} WHERE {key} = :{key}"
            },
        },
    )
    b.rule(
        {
            "name": f"renew_within_{window}_days_of_expiry",
            "tool": f"renew_{r.key}",
            "description": f"A {r.noun} can be renewed only in the {window} days before it expires, or after.",
            "violated": f"SELECT expires_on > date(:now, '+{window} days') FROM {t} WHERE {key} = :{key}",
            "explanation": f"The {r.noun} expires in more than {window} days; it is too early to renew it.",
        }
    )
    if replace:
        b.tool(
            f"report_{r.key}_lost",
            {
                "description": f"Report an active {r.noun} lost: it is marked replaced and a new one with the same expiry and renewals is issued.",
                "params": kp,
                "reads": [t],
                "writes": [t],
                "generate": {"new_id": {"pattern": r.id_pattern, "table": t, "column": key}},
                "preconditions": [
                    exists(t, key),
                    {
                        "check": f"SELECT status = 'active', status FROM {t} WHERE {key} = :{key}",
                        "error": f"{r.noun.capitalize()} {{{key}}} is {{status}}.",
                    },
                ],
                "effects": [
                    f"INSERT INTO {t} ({key}, {uid}, name, renewals_left, expires_on, status) SELECT :new_id, {uid}, name, renewals_left, expires_on, 'active' FROM {t} WHERE {key} = :{key}",
                    f"UPDATE {t} SET status = 'replaced' WHERE {key} = :{key}",
                ],
                "returns": {
                    "query": f"SELECT {key}, status, expires_on FROM {t} WHERE {key} = :new_id"
                },
            },
        )
    b.say(
        f"{r.noun.capitalize()}s",
        f"An active {r.noun} with renewals left can be renewed for {term} days, but only within {window} days of its expiry (or once expired).",
        f"A lost {r.noun} is replaced by a new one with the same expiry; the old one stops working."
        if replace
        else "",
    )
