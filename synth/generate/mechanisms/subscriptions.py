"""Subscriptions and plan changes with proration.

A downgrade credits the unused part of the fee difference to the subscription (prorated by
the days left in the period); an upgrade takes effect at once. Seed choices: the period
length, whether pausing exists, the minimum time between plan changes (policy rule).
"""

from __future__ import annotations

from typing import Any

from synth.generate.builder import Builder, enum, exists, label, pk, sql, when
from synth.generate.sketch import Role

NAME = "subscriptions"
REQUIRES: tuple[str, ...] = ("accounts",)

PLAN = Role(
    table="plans",
    noun="plan",
    id_pattern="PL##",
    names=["Basic", "Standard", "Plus", "Premium", "Family", "Pro"],
)
SUB = Role(table="subscriptions", noun="subscription", id_pattern="SB######")


def apply(b: Builder, params: dict[str, Any]) -> None:
    rng = b.rng(NAME)
    p, s = b.role("plan", PLAN), b.role("subscription", SUB)
    pt, pkey, st, skey, uid, un = p.table, f"{p.key}_id", s.table, f"{s.key}_id", b.uid, b.user.noun
    period = rng.choice([30, 30, 90, 365])
    gap = rng.choice([14, 30, 60])
    pause = rng.random() < 0.6
    lo, hi = params.get("fee", [5, 120])
    name_col, name_rows = label(p, 8)
    b.table(
        pt,
        {
            "description": p.description or f"{p.noun.capitalize()}s a {un} can subscribe to.",
            "rows": name_rows,
            "columns": {
                pkey: pk(p.id_pattern),
                "name": name_col,
                "fee": {
                    "type": "decimal",
                    "minimum": lo,
                    "maximum": hi,
                    "check": "fee >= 0",
                    "description": f"Price per {period}-day period.",
                },
                "status": enum(["offered", "retired"], [0.85, 0.15]),
            },
        },
    )
    states = ["active", "paused", "cancelled"] if pause else ["active", "cancelled"]
    b.table(
        st,
        {
            "description": f"{s.noun.capitalize()}s of {un}s to {p.noun}s.",
            "rows": 90,
            "natural_key": [uid, pkey, "started_at"],
            "columns": {
                skey: pk(s.id_pattern, generated=True),
                uid: {"type": "string", "references": f"{b.ut}.{uid}"},
                pkey: {"type": "string", "references": f"{pt}.{pkey}"},
                "status": enum(states, [0.75, 0.1, 0.15] if pause else [0.8, 0.2]),
                "started_at": when("2023-01-01 00:00:00", "2024-05-01 00:00:00"),
                "renews_on": when("2024-05-16", "2024-08-31", exempt=False),
                "changed_at": {
                    "type": "datetime",
                    "nullable": True,
                    "match": "exempt",
                    "min_value": "2024-03-01 00:00:00",
                    "max_value": "2024-05-15 00:00:00",
                    "faker": {"null_fraction": 0.6},
                },
                "credit": {
                    "type": "decimal",
                    "minimum": 0,
                    "maximum": 0,
                    "check": "credit >= 0",
                    "description": "Prorated credit from downgrades, used on the next renewal.",
                },
            },
        },
    )
    b.find_by_name(pt, pkey, p.noun)
    b.tool(
        f"list_{pt}",
        {
            "description": f"List the {p.noun}s on offer with their fees.",
            "reads": [pt],
            "returns": {
                "query": f"SELECT {pkey}, name, fee FROM {pt} WHERE status = 'offered' ORDER BY fee, {pkey}",
                "shape": "list",
            },
        },
    )
    b.tool(
        f"get_{p.key}",
        {
            "description": f"Get a {p.noun}: name, fee per {period}-day period and whether it is offered.",
            "params": {pkey: {"type": "string", "references": f"{pt}.{pkey}"}},
            "reads": [pt],
            "preconditions": [exists(pt, pkey)],
            "returns": {
                "query": f"SELECT {pkey}, name, fee, status FROM {pt} WHERE {pkey} = :{pkey}"
            },
        },
    )
    b.tool(
        f"list_{b.user.key}_{st}",
        {
            "description": f"List a {un}'s {s.noun}s.",
            "params": {uid: b.user_param()},
            "reads": [b.ut, st, pt],
            "preconditions": [b.user_exists()],
            "returns": {
                "query": f"SELECT x.{skey}, x.{pkey}, p.name AS {p.key}_name, x.status, x.renews_on FROM {st} x JOIN {pt} p ON p.{pkey} = x.{pkey} WHERE x.{uid} = :{uid} ORDER BY x.{skey}",
                "shape": "list",
            },
        },
    )
    b.tool(
        f"get_{s.key}",
        {
            "description": f"Get a {s.noun}: {p.noun}, status, renewal date and credit.",
            "params": {skey: {"type": "string", "references": f"{st}.{skey}"}},
            "reads": [st],
            "preconditions": [exists(st, skey)],
            "returns": {
                "query": f"SELECT {skey}, {uid}, {pkey}, status, renews_on, credit, changed_at FROM {st} WHERE {skey} = :{skey}"
            },
        },
    )
    offered = {
        "check": f"SELECT status = 'offered', status FROM {pt} WHERE {pkey} = :{pkey}",
        "error": f"{p.noun.capitalize()} {{{pkey}}} is {{status}}.",
    }
    b.tool(
        f"subscribe_to_{p.key}",
        {
            "description": f"Start a new {s.noun} to an offered {p.noun}; it renews after {period} days.",
            "params": {uid: b.user_param(), pkey: {"type": "string", "references": f"{pt}.{pkey}"}},
            "reads": [b.ut, pt, st],
            "writes": [st],
            "generate": {skey: {"pattern": s.id_pattern, "table": st, "column": skey}},
            "preconditions": [
                b.user_exists(),
                {
                    "check": f"SELECT status = 'active', status FROM {b.ut} WHERE {uid} = :{uid}",
                    "error": "The account is {status}.",
                },
                exists(pt, pkey),
                offered,
                {
                    "check": f"SELECT NOT EXISTS (SELECT 1 FROM {st} WHERE {uid} = :{uid} AND {pkey} = :{pkey} AND status <> 'cancelled')",
                    "error": f"The {un} already has this {p.noun}.",
                },
            ],
            "effects": [
                f"INSERT INTO {st} ({skey}, {uid}, {pkey}, status, started_at, renews_on, credit) VALUES (:{skey}, :{uid}, :{pkey}, 'active', :now, date(:now, '+{period} days'), 0)"
            ],
            "returns": {
                "query": f"SELECT {skey}, {pkey}, status, renews_on FROM {st} WHERE {skey} = :{skey}"
            },
        },
    )
    active = {
        "check": f"SELECT status = 'active', status FROM {st} WHERE {skey} = :{skey}",
        "error": f"{s.noun.capitalize()} {{{skey}}} is {{status}}.",
    }
    b.tool(
        f"change_{s.key}_{p.key}",
        {
            "description": f"Move an active {s.noun} to another offered {p.noun}; a downgrade credits the prorated difference for the days left.",
            "params": {
                skey: {"type": "string", "references": f"{st}.{skey}"},
                pkey: {"type": "string", "references": f"{pt}.{pkey}"},
            },
            "reads": [st, pt],
            "writes": [st],
            "let": {
                "old_fee": f"SELECT p.fee FROM {st} x JOIN {pt} p ON p.{pkey} = x.{pkey} WHERE x.{skey} = :{skey}",
                "new_fee": f"SELECT fee FROM {pt} WHERE {pkey} = :{pkey}",
                "days_left": f"SELECT MAX(0, MIN({period}, julianday(renews_on) - julianday(date(:now)))) FROM {st} WHERE {skey} = :{skey}",
            },
            "preconditions": [
                exists(st, skey),
                active,
                exists(pt, pkey),
                offered,
                {
                    "check": f"SELECT {pkey} <> :{pkey} FROM {st} WHERE {skey} = :{skey}",
                    "error": f"The {s.noun} is already on {p.noun} {{{pkey}}}.",
                },
            ],
            "effects": [
                sql(f"""
            UPDATE {st} SET {pkey} = :{pkey}, changed_at = :now,
              credit = credit + round(MAX(0, :old_fee - :new_fee) * :days_left / {period}.0, 2)
            WHERE {skey} = :{skey}
        """)
            ],
            "returns": {"query": f"SELECT {skey}, {pkey}, credit FROM {st} WHERE {skey} = :{skey}"},
        },
    )
    b.rule(
        {
            "name": f"one_{p.key}_change_per_{gap}_days",
            "tool": f"change_{s.key}_{p.key}",
            "description": f"A {s.noun} may change {p.noun} at most once every {gap} days.",
            "violated": f"SELECT changed_at IS NOT NULL AND changed_at > datetime(:now, '-{gap} days') FROM {st} WHERE {skey} = :{skey}",
            "explanation": f"The {p.noun} was changed less than {gap} days ago; it cannot change again yet.",
        }
    )
    b.tool(
        f"cancel_{s.key}",
        {
            "description": f"Cancel a {s.noun}; it does not renew.",
            "params": {skey: {"type": "string", "references": f"{st}.{skey}"}},
            "reads": [st],
            "writes": [st],
            "preconditions": [
                exists(st, skey),
                {
                    "check": f"SELECT status <> 'cancelled' FROM {st} WHERE {skey} = :{skey}",
                    "error": f"{s.noun.capitalize()} {{{skey}}} is already cancelled.",
                },
            ],
            "effects": [f"UPDATE {st} SET status = 'cancelled' WHERE {skey} = :{skey}"],
            "returns": {"query": f"SELECT {skey}, status FROM {st} WHERE {skey} = :{skey}"},
        },
    )
    if pause:
        b.tool(
            f"pause_{s.key}",
            {
                "description": f"Pause an active {s.noun}; the renewal date moves {period} days later when it resumes.",
                "params": {skey: {"type": "string", "references": f"{st}.{skey}"}},
                "reads": [st],
                "writes": [st],
                "preconditions": [exists(st, skey), active],
                "effects": [f"UPDATE {st} SET status = 'paused' WHERE {skey} = :{skey}"],
                "returns": {"query": f"SELECT {skey}, status FROM {st} WHERE {skey} = :{skey}"},
            },
        )
        b.tool(
            f"resume_{s.key}",
            {
                "description": f"Resume a paused {s.noun}; it renews {period} days from today.",
                "params": {skey: {"type": "string", "references": f"{st}.{skey}"}},
                "reads": [st],
                "writes": [st],
                "preconditions": [
                    exists(st, skey),
                    {
                        "check": f"SELECT status = 'paused', status FROM {st} WHERE {skey} = :{skey}",
                        "error": f"{s.noun.capitalize()} {{{skey}}} is {{status}}, not paused.",
                    },
                ],
                "effects": [
                    f"UPDATE {st} SET status = 'active', renews_on = date(:now, '+{period} days') WHERE {skey} = :{skey}"
                ],
                "returns": {
                    "query": f"SELECT {skey}, status, renews_on FROM {st} WHERE {skey} = :{skey}"
                },
            },
        )
    b.say(
        f"{s.noun.capitalize()}s",
        f"A {s.noun} renews every {period} days. Changing {p.noun}: only active {s.noun}s, only to offered {p.noun}s, at most once every {gap} days; a downgrade credits the fee difference for the days left.",
        f"Paused {s.noun}s can be resumed; the new period starts on the day of resuming."
        if pause
        else "",
    )
