"""Returns, exchanges and claims on finished cases, with approval by staff.

A claim names a finished case (the lifecycle's last state), asks for at most the case's
amount, and is submitted, then approved or rejected (staff) or withdrawn (the user).
Invariant: one claim per case that is not withdrawn or rejected; claim amount <= case amount.
Seed choices: the claim window (policy rule), the kinds and reasons vocabularies.
"""

from __future__ import annotations

from typing import Any

from synth.generate.builder import Builder, enum, exists, pk, sql, when
from synth.generate.sketch import Role

NAME = "claims"
REQUIRES: tuple[str, ...] = ("accounts", "lifecycle")

DEFAULT = Role(
    table="claims", noun="claim", id_pattern="CL######", kinds=["return", "exchange", "damage"]
)


def apply(b: Builder, params: dict[str, Any]) -> None:
    rng = b.rng(NAME)
    case = b.shared["case"]
    r = b.role("claim", DEFAULT)
    t, key, un = r.table, f"{r.key}_id", b.user.noun
    ct, ck, cn, done = case["table"], case["key"], case["role"].noun, case["done"]
    kinds = r.kinds or DEFAULT.kinds
    window = rng.choice([14, 30, 60, 90])
    reasons = rng.choice(
        [
            ["damaged", "not as described", "wrong item", "other"],
            ["quality issue", "late", "incomplete", "other"],
            ["defective", "not needed", "billing error"],
        ]
    )
    live = "('submitted', 'approved')"
    b.table(
        t,
        {
            "description": r.description or f"{r.noun.capitalize()}s {un}s file on {done} {cn}s.",
            "rows": 40,
            "natural_key": [ck, "created_at"],
            "columns": {
                key: pk(r.id_pattern, generated=True),
                ck: {"type": "string", "references": f"{ct}.{ck}"},
                "kind": enum(kinds),
                "reason": enum(reasons),
                "amount": {
                    "type": "decimal",
                    "check": "amount >= 0",
                    "faker": {
                        "sql": f"SELECT round(c.amount * (1 + CAST(substr({t}.{key}, -1) AS INTEGER)) / 10.0, 2) FROM {ct} c WHERE c.{ck} = {t}.{ck}"
                    },
                },
                "status": {
                    "type": "enum",
                    "values": ["submitted", "approved", "rejected", "withdrawn"],
                    "faker": {
                        "sql": f"SELECT CASE WHEN EXISTS (SELECT 1 FROM {t} o WHERE o.{ck} = {t}.{ck} AND o.{key} < {t}.{key}) THEN 'withdrawn' ELSE (CASE CAST(substr({t}.{key}, -1) AS INTEGER) % 3 WHEN 0 THEN 'submitted' WHEN 1 THEN 'approved' ELSE 'rejected' END) END"
                    },
                },
                "created_at": when("2024-03-01 00:00:00", "2024-05-15 12:00:00"),
            },
        },
    )
    b.invariant(
        {
            "name": f"one_live_{r.key}_per_{case['role'].key}",
            "description": f"A {cn} has at most one submitted or approved {r.noun}.",
            "violations": f"SELECT {ck} FROM {t} WHERE status IN {live} GROUP BY {ck} HAVING COUNT(*) > 1",
            "scope": {t: ck},
        }
    )
    b.invariant(
        {
            "name": f"{r.key}_within_{case['role'].key}_amount",
            "description": f"A {r.noun} on a {done} {cn} never asks for more than the {cn} cost.",
            "violations": f"SELECT x.{key}, x.amount, c.amount AS cost FROM {t} x JOIN {ct} c ON c.{ck} = x.{ck} WHERE x.amount > c.amount AND c.status = '{done}'",
            "message": f"{r.noun.capitalize()} {{{key}}} asks {{amount}} for a {cn} of {{cost}}.",
            "scope": {t: key, ct: f"{t}.{ck}"},
        }
    )
    kp = {key: {"type": "string", "references": f"{t}.{key}"}}
    b.tool(
        f"file_{r.key}",
        {
            "description": f"File a {r.noun} on a {done} {cn} for at most what it cost.",
            "params": {
                ck: {"type": "string", "references": f"{ct}.{ck}"},
                "kind": {"type": "enum", "values": kinds},
                "reason": {"type": "enum", "values": reasons},
                "amount": {"type": "number", "minimum": 0, "maximum": 5000},
            },
            "reads": [ct, t],
            "writes": [t],
            "generate": {key: {"pattern": r.id_pattern, "table": t, "column": key}},
            "preconditions": [
                exists(ct, ck),
                {
                    "check": f"SELECT status = '{done}', status FROM {ct} WHERE {ck} = :{ck}",
                    "error": f"{cn.capitalize()} {{{ck}}} is {{status}}; only {done} {cn}s can have a {r.noun}.",
                },
                {
                    "check": f"SELECT :amount <= amount, amount FROM {ct} WHERE {ck} = :{ck}",
                    "error": f"The {cn} cost {{amount}}; a {r.noun} cannot ask for more.",
                },
                {
                    "check": f"SELECT NOT EXISTS (SELECT 1 FROM {t} WHERE {ck} = :{ck} AND status IN {live})",
                    "error": f"{cn.capitalize()} {{{ck}}} already has an open {r.noun}.",
                },
            ],
            "effects": [
                f"INSERT INTO {t} ({key}, {ck}, kind, reason, amount, status, created_at) VALUES (:{key}, :{ck}, :kind, :reason, :amount, 'submitted', :now)"
            ],
            "returns": {
                "query": f"SELECT {key}, {ck}, kind, amount, status FROM {t} WHERE {key} = :{key}"
            },
        },
    )
    b.rule(
        {
            "name": f"{r.key}_within_{window}_days",
            "tool": f"file_{r.key}",
            "description": f"{r.noun.capitalize()}s must be filed within {window} days of the {cn}.",
            "violated": f"SELECT created_at < datetime(:now, '-{window} days') FROM {ct} WHERE {ck} = :{ck}",
            "explanation": f"The {cn} is more than {window} days old, so it can no longer get a {r.noun}.",
        }
    )
    b.tool(
        f"get_{r.key}",
        {
            "description": f"Get a {r.noun} with its status.",
            "params": kp,
            "reads": [t],
            "preconditions": [exists(t, key)],
            "returns": {
                "query": f"SELECT {key}, {ck}, kind, reason, amount, status, created_at FROM {t} WHERE {key} = :{key}"
            },
        },
    )
    b.tool(
        f"list_{case['role'].key}_{t}",
        {
            "description": f"List the {r.noun}s filed on a {cn}.",
            "params": {ck: {"type": "string", "references": f"{ct}.{ck}"}},
            "reads": [ct, t],
            "preconditions": [exists(ct, ck)],
            "returns": {
                "query": f"SELECT {key}, kind, amount, status FROM {t} WHERE {ck} = :{ck} ORDER BY created_at, {key}",
                "shape": "list",
            },
        },
    )
    submitted = {
        "check": f"SELECT status = 'submitted', status FROM {t} WHERE {key} = :{key}",
        "error": f"{r.noun.capitalize()} {{{key}}} is {{status}}.",
    }
    b.tool(
        f"withdraw_{r.key}",
        {
            "description": f"Withdraw a submitted {r.noun} at the {un}'s request.",
            "params": kp,
            "reads": [t],
            "writes": [t],
            "preconditions": [exists(t, key), submitted],
            "effects": [f"UPDATE {t} SET status = 'withdrawn' WHERE {key} = :{key}"],
            "returns": {"query": f"SELECT {key}, status FROM {t} WHERE {key} = :{key}"},
        },
    )
    for verb, state in (("approve", "approved"), ("reject", "rejected")):
        b.tool(
            f"{verb}_{r.key}",
            {
                "description": f"{verb.capitalize()} a submitted {r.noun} (back office).",
                "audience": "staff",
                "params": kp,
                "reads": [t],
                "writes": [t],
                "preconditions": [exists(t, key), submitted],
                "effects": [f"UPDATE {t} SET status = '{state}' WHERE {key} = :{key}"],
                "returns": {"query": f"SELECT {key}, status FROM {t} WHERE {key} = :{key}"},
            },
        )
    b.say(
        f"{r.noun.capitalize()}s",
        sql(
            f"""Only {done} {cn}s can get a {r.noun} ({", ".join(kinds)}), one open {r.noun} per {cn}, never for more than the {cn} cost, and within {window} days of the {cn}."""
        ),
        f"Approving or rejecting a {r.noun} is done by the back office; the {un} may withdraw a submitted one.",
    )
