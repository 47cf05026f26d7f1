"""An order/case lifecycle as a configurable state machine.

The case (an order, a work order, a service request) belongs to the user, optionally names a
catalog item, and moves through ``states``; the first ``cancellable`` states may be
cancelled, the first one edited. Seed choices: how many states are cancellable, an on-hold
state with hold/resume, the cancellation window of the policy rule, the reason vocabulary.
Shared entity: ``b.shared["case"]``.
"""

from __future__ import annotations

from typing import Any

from synth.generate.builder import Builder, enum, exists, pk, sql, text, when
from synth.generate.sketch import Role

NAME = "lifecycle"
REQUIRES: tuple[str, ...] = ("accounts",)

DEFAULT = Role(table="orders", noun="order", id_pattern="OR######")
SHAPES = [
    ["placed", "confirmed", "in_progress", "completed"],
    ["requested", "scheduled", "in_progress", "completed"],
    ["submitted", "accepted", "processing", "fulfilled"],
    ["open", "approved", "under_way", "done"],
]


def apply(b: Builder, params: dict[str, Any]) -> None:
    r = b.role("case", DEFAULT)
    rng = b.rng(NAME)
    t, key, uid = r.table, f"{r.key}_id", b.uid
    states = list(params.get("states") or rng.choice(SHAPES))
    cancellable = states[: rng.choice([1, 2])]
    hold = rng.random() < 0.4
    window = rng.choice([7, 14, 30])
    reasons = rng.choice(
        [
            ["no longer needed", "ordered by mistake"],
            ["changed my mind", "found a better option", "duplicate request"],
            ["no longer needed", "too expensive", "timing no longer works"],
        ]
    )
    all_states = states + (["on_hold"] if hold else []) + ["cancelled"]
    item = b.shared.get("item")
    cols: dict[str, Any] = {
        key: pk(r.id_pattern, generated=True, description=f"{r.noun.capitalize()} id."),
        uid: {
            "type": "string",
            "references": f"{b.ut}.{uid}",
            "description": f"The {b.user.noun} it belongs to.",
        },
    }
    if item:
        it, ik = item["table"], item["key"]
        cols[ik] = {"type": "string", "references": f"{it}.{ik}"}
        cols["quantity"] = {"type": "integer", "minimum": 1, "maximum": 4, "check": "quantity > 0"}
        cols["amount"] = {
            "type": "decimal",
            "check": "amount >= 0",
            "faker": {"sql": f"SELECT price * {t}.quantity FROM {it} WHERE {it}.{ik} = {t}.{ik}"},
        }
    else:
        cols["amount"] = {"type": "decimal", "minimum": 20, "maximum": 900, "check": "amount >= 0"}
    weights = [0.2] * len(states)
    weights[-1] = 0.4
    cols["status"] = enum(all_states, _norm(weights + ([0.05] if hold else []) + [0.1]))
    cols["priority"] = enum(["normal", "urgent"], [0.85, 0.15])
    cols["cancel_reason"] = {
        "type": "enum",
        "values": reasons,
        "nullable": True,
        "faker": {"sql": f"SELECT CASE WHEN {t}.status = 'cancelled' THEN '{reasons[0]}' END"},
    }
    cols["note"] = text()
    cols["created_at"] = when("2024-02-01 00:00:00", "2024-05-15 12:00:00")
    b.table(
        t,
        {
            "description": r.description
            or f"{r.noun.capitalize()}s of {b.user.noun}s, each moving through {' -> '.join(states)}.",
            "rows": 120,
            "natural_key": [uid, "created_at", "amount"],
            "checks": [
                {
                    "name": "reason_only_when_cancelled",
                    "check": "cancel_reason IS NULL OR status = 'cancelled'",
                }
            ],
            "columns": cols,
        },
    )
    b.shared["case"] = {"role": r, "table": t, "key": key, "done": states[-1], "states": states}
    fields = ", ".join(c for c in cols if c != "note")
    b.tool(
        f"get_{r.key}",
        {
            "description": f"Get one {r.noun} with its status, amount and dates.",
            "params": {key: {"type": "string", "references": f"{t}.{key}"}},
            "reads": [t],
            "preconditions": [exists(t, key)],
            "returns": {"query": f"SELECT {fields}, note FROM {t} WHERE {key} = :{key}"},
        },
    )
    b.tool(
        f"list_{b.user.key}_{r.table}",
        {
            "description": f"List a {b.user.noun}'s {r.noun}s, newest first.",
            "params": {uid: b.user_param()},
            "reads": [b.ut, t],
            "preconditions": [b.user_exists()],
            "returns": {
                "query": f"SELECT {key}, status, amount, created_at FROM {t} WHERE {uid} = :{uid} ORDER BY created_at DESC, {key}",
                "shape": "list",
            },
        },
    )
    create: dict[str, Any] = {
        "description": f"Create a new {r.noun} for a {b.user.noun}; it starts as {states[0]}.",
        "params": {uid: b.user_param()},
        "reads": [b.ut, t],
        "writes": [t],
        "generate": {key: {"pattern": r.id_pattern, "table": t, "column": key}},
        "preconditions": [
            b.user_exists(),
            {
                "check": f"SELECT status = 'active', status FROM {b.ut} WHERE {uid} = :{uid}",
                "error": f"The account is {{status}}; it cannot make new {r.noun}s.",
            },
        ],
    }
    if item:
        it, ik = item["table"], item["key"]
        create["params"][ik] = {"type": "string", "references": f"{it}.{ik}"}
        create["params"]["quantity"] = {"type": "integer", "minimum": 1, "maximum": 4}
        create["reads"].append(it)
        create["preconditions"] += [
            exists(it, ik),
            {
                "check": f"SELECT status = '{item['ok']}', status FROM {it} WHERE {ik} = :{ik}",
                "error": f"{item['role'].noun.capitalize()} {{{ik}}} is {{status}}.",
            },
        ]
        create["let"] = {"amount": f"SELECT price * :quantity FROM {it} WHERE {ik} = :{ik}"}
        create["effects"] = [
            f"INSERT INTO {t} ({key}, {uid}, {ik}, quantity, amount, status, priority, created_at) VALUES (:{key}, :{uid}, :{ik}, :quantity, :amount, '{states[0]}', 'normal', :now)"
        ]
    else:
        create["params"]["amount"] = {"type": "number", "minimum": 20, "maximum": 900}
        create["effects"] = [
            f"INSERT INTO {t} ({key}, {uid}, amount, status, priority, created_at) VALUES (:{key}, :{uid}, :amount, '{states[0]}', 'normal', :now)"
        ]
    create["returns"] = {"query": f"SELECT {key}, status, amount FROM {t} WHERE {key} = :{key}"}
    b.tool(f"create_{r.key}", create)
    in_list = ", ".join(f"'{s}'" for s in cancellable)
    b.tool(
        f"cancel_{r.key}",
        {
            "description": f"Cancel a {r.noun} that is still {' or '.join(cancellable)}.",
            "params": {
                key: {"type": "string", "references": f"{t}.{key}"},
                "reason": {"type": "enum", "values": reasons},
            },
            "reads": [t],
            "writes": [t],
            "preconditions": [
                exists(t, key),
                {
                    "check": f"SELECT status IN ({in_list}), status FROM {t} WHERE {key} = :{key}",
                    "error": f"{r.noun.capitalize()} {{{key}}} is {{status}}; only {' or '.join(cancellable)} {r.noun}s can be cancelled.",
                },
            ],
            "effects": [
                f"UPDATE {t} SET status = 'cancelled', cancel_reason = :reason WHERE {key} = :{key}"
            ],
            "returns": {
                "query": f"SELECT {key}, status, cancel_reason FROM {t} WHERE {key} = :{key}"
            },
        },
    )
    b.rule(
        {
            "name": f"cancel_{r.key}_within_{window}_days",
            "tool": f"cancel_{r.key}",
            "description": f"{r.noun.capitalize()}s created more than {window} days ago cannot be cancelled.",
            "violated": f"SELECT created_at < datetime(:now, '-{window} days') FROM {t} WHERE {key} = :{key}",
            "explanation": f"The {r.noun} was created more than {window} days ago, so it can no longer be cancelled.",
        }
    )
    if item:
        it, ik = item["table"], item["key"]
        b.tool(
            f"change_{r.key}_quantity",
            {
                "description": f"Change the quantity of a {r.noun} that is still {states[0]}; the amount follows the current price.",
                "params": {
                    key: {"type": "string", "references": f"{t}.{key}"},
                    "quantity": {"type": "integer", "minimum": 1, "maximum": 4},
                },
                "reads": [t, it],
                "writes": [t],
                "preconditions": [
                    exists(t, key),
                    {
                        "check": f"SELECT status = '{states[0]}', status FROM {t} WHERE {key} = :{key}",
                        "error": f"{r.noun.capitalize()} {{{key}}} is {{status}}; only {states[0]} {r.noun}s can be changed.",
                    },
                ],
                "effects": [
                    sql(f"""
                UPDATE {t} SET quantity = :quantity,
                  amount = :quantity * (SELECT price FROM {it} WHERE {it}.{ik} = {t}.{ik})
                WHERE {key} = :{key}
            """)
                ],
                "returns": {
                    "query": f"SELECT {key}, quantity, amount FROM {t} WHERE {key} = :{key}"
                },
            },
        )
    open_states = ", ".join(f"'{s}'" for s in states[:-1])
    b.tool(
        f"set_{r.key}_priority",
        {
            "description": f"Mark an open {r.noun} urgent or normal.",
            "params": {
                key: {"type": "string", "references": f"{t}.{key}"},
                "priority": {"type": "enum", "values": ["normal", "urgent"]},
            },
            "reads": [t],
            "writes": [t],
            "preconditions": [
                exists(t, key),
                {
                    "check": f"SELECT status IN ({open_states}), status FROM {t} WHERE {key} = :{key}",
                    "error": f"{r.noun.capitalize()} {{{key}}} is {{status}}; its priority can no longer change.",
                },
            ],
            "effects": [f"UPDATE {t} SET priority = :priority WHERE {key} = :{key}"],
            "returns": {"query": f"SELECT {key}, priority FROM {t} WHERE {key} = :{key}"},
        },
    )
    b.tool(
        f"add_{r.key}_note",
        {
            "description": f"Replace the note on a {r.noun} (delivery or access instructions, requests).",
            "params": {
                key: {"type": "string", "references": f"{t}.{key}"},
                "note": {"type": "string", "min_length": 1, "max_length": 300},
            },
            "reads": [t],
            "writes": [t],
            "preconditions": [exists(t, key)],
            "effects": [f"UPDATE {t} SET note = :note WHERE {key} = :{key}"],
            "returns": {"query": f"SELECT {key}, note FROM {t} WHERE {key} = :{key}"},
        },
    )
    if hold:
        mid = states[1]
        b.tool(
            f"hold_{r.key}",
            {
                "description": f"Put a {mid} {r.noun} on hold at the {b.user.noun}'s request.",
                "params": {key: {"type": "string", "references": f"{t}.{key}"}},
                "reads": [t],
                "writes": [t],
                "preconditions": [
                    exists(t, key),
                    {
                        "check": f"SELECT status = '{mid}', status FROM {t} WHERE {key} = :{key}",
                        "error": f"{r.noun.capitalize()} {{{key}}} is {{status}}; only {mid} {r.noun}s can be put on hold.",
                    },
                ],
                "effects": [f"UPDATE {t} SET status = 'on_hold' WHERE {key} = :{key}"],
                "returns": {"query": f"SELECT {key}, status FROM {t} WHERE {key} = :{key}"},
            },
        )
        b.tool(
            f"resume_{r.key}",
            {
                "description": f"Resume a {r.noun} that is on hold; it goes back to {mid}.",
                "params": {key: {"type": "string", "references": f"{t}.{key}"}},
                "reads": [t],
                "writes": [t],
                "preconditions": [
                    exists(t, key),
                    {
                        "check": f"SELECT status = 'on_hold', status FROM {t} WHERE {key} = :{key}",
                        "error": f"{r.noun.capitalize()} {{{key}}} is {{status}}, not on hold.",
                    },
                ],
                "effects": [f"UPDATE {t} SET status = '{mid}' WHERE {key} = :{key}"],
                "returns": {"query": f"SELECT {key}, status FROM {t} WHERE {key} = :{key}"},
            },
        )
    b.say(
        f"{r.noun.capitalize()}s",
        f"A {r.noun} moves through {' -> '.join(states)}; it can be cancelled only while {' or '.join(cancellable)}, and only within {window} days of being created.",
        f"Cancellation reasons: {', '.join(reasons)}.",
        f"Only {states[0]} {r.noun}s can be changed." if item else "",
        f"A {mid_or(states)} {r.noun} can be put on hold and resumed later." if hold else "",
    )


def mid_or(states: list[str]) -> str:
    return states[1]


def _norm(ws: list[float]) -> list[float]:
    s = sum(ws)
    return [round(w / s, 4) for w in ws]
