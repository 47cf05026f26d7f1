"""Account balances and transfers: money moves between the user's own accounts, conserved,
within a per-transfer limit, never below zero; frozen accounts neither send nor receive.

Seed choices: the account noun (wallet, account, pocket), the account kinds, the per-transfer
limit of the policy rule and the hard limit of the tool.
"""

from __future__ import annotations

from typing import Any

from synth.generate.builder import Builder, enum, exists, pk, when
from synth.generate.sketch import Role

NAME = "transfers"
REQUIRES: tuple[str, ...] = ("accounts",)

DEFAULT = Role(
    table="balances", noun="balance account", id_pattern="BA#######", kinds=["main", "savings"]
)


def apply(b: Builder, params: dict[str, Any]) -> None:
    rng = b.rng(NAME)
    r = b.role("account", DEFAULT)
    t, key, uid, un = r.table, f"{r.key}_id", b.uid, b.user.noun
    kinds = r.kinds or ["main", "savings"]
    hard = rng.choice([2000, 5000, 10000])
    soft = hard // rng.choice([2, 4, 5])
    tt = f"{r.key}_transfers"
    b.table(
        t,
        {
            "description": r.description or f"Money a {un} holds with {b.sketch.title}.",
            "rows": 100,
            "natural_key": [uid, "nickname"],
            "unique": [[uid, "nickname"]],
            "columns": {
                key: pk(r.id_pattern),
                uid: {"type": "string", "references": f"{b.ut}.{uid}"},
                "kind": enum(kinds),
                "nickname": {
                    "type": "string",
                    "max_length": 40,
                    "faker": {
                        "sql": f"SELECT upper(substr({t}.kind, 1, 1)) || substr({t}.kind, 2) || ' ' || substr({t}.{key}, -8)"
                    },
                },
                "balance": {
                    "type": "decimal",
                    "minimum": 0,
                    "maximum": 9000,
                    "check": "balance >= 0",
                },
                "status": enum(["open", "frozen"], [0.92, 0.08]),
            },
        },
    )
    b.table(
        tt,
        {
            "description": f"Transfers between {r.noun}s.",
            "rows": 80,
            "natural_key": ["from_id", "to_id", "created_at", "amount"],
            "columns": {
                "transfer_id": pk("TR########", generated=True),
                "from_id": {"type": "string", "references": f"{t}.{key}"},
                "to_id": {"type": "string", "references": f"{t}.{key}"},
                "amount": {"type": "decimal", "minimum": 5, "maximum": 900, "check": "amount > 0"},
                "memo": {
                    "type": "string",
                    "nullable": True,
                    "max_length": 80,
                    "match": "semantic",
                    "faker": {
                        "choices": ["rent", "savings", "groceries", "gift", "bills"],
                        "null_fraction": 0.3,
                    },
                },
                "created_at": when("2024-01-01 00:00:00", "2024-05-15 12:00:00"),
            },
        },
    )
    b.tool(
        f"list_{b.user.key}_{t}",
        {
            "description": f"List a {un}'s {r.noun}s with balances.",
            "params": {uid: b.user_param()},
            "reads": [b.ut, t],
            "preconditions": [b.user_exists()],
            "returns": {
                "query": f"SELECT {key}, nickname, kind, balance, status FROM {t} WHERE {uid} = :{uid} ORDER BY {key}",
                "shape": "list",
            },
        },
    )
    b.tool(
        f"get_{r.key}",
        {
            "description": f"Get one {r.noun} with its balance and status.",
            "params": {key: {"type": "string", "references": f"{t}.{key}"}},
            "reads": [t],
            "preconditions": [exists(t, key)],
            "returns": {
                "query": f"SELECT {key}, {uid}, nickname, kind, balance, status FROM {t} WHERE {key} = :{key}"
            },
        },
    )
    b.tool(
        f"list_{r.key}_transfers",
        {
            "description": f"List the transfers in and out of a {r.noun}, newest first.",
            "params": {key: {"type": "string", "references": f"{t}.{key}"}},
            "reads": [t, tt],
            "preconditions": [exists(t, key)],
            "returns": {
                "query": f"SELECT transfer_id, from_id, to_id, amount, memo, created_at FROM {tt} WHERE from_id = :{key} OR to_id = :{key} ORDER BY created_at DESC, transfer_id LIMIT 30",
                "shape": "list",
            },
        },
    )
    b.tool(
        f"transfer_between_{t}",
        {
            "description": f"Move money between two open {r.noun}s of the same {un} (at most {hard} at a time).",
            "params": {
                "from_id": {"type": "string", "references": f"{t}.{key}"},
                "to_id": {"type": "string", "references": f"{t}.{key}"},
                "amount": {"type": "number", "minimum": 0.01, "maximum": hard},
                "memo": {"type": "string", "required": False, "max_length": 80},
            },
            "reads": [t],
            "writes": [t, tt],
            "generate": {
                "transfer_id": {"pattern": "TR########", "table": tt, "column": "transfer_id"}
            },
            "preconditions": [
                {
                    "check": f"SELECT 1 FROM {t} WHERE {key} = :from_id",
                    "error": f"No {r.noun} {{from_id}}.",
                },
                {
                    "check": f"SELECT 1 FROM {t} WHERE {key} = :to_id",
                    "error": f"No {r.noun} {{to_id}}.",
                },
                {
                    "check": "SELECT :from_id <> :to_id",
                    "error": "Source and destination are the same.",
                },
                {
                    "check": f"SELECT a.{uid} = b.{uid} FROM {t} a, {t} b WHERE a.{key} = :from_id AND b.{key} = :to_id",
                    "error": f"Both {r.noun}s must belong to the same {un}.",
                },
                {
                    "check": f"SELECT status = 'open', status FROM {t} WHERE {key} = :from_id",
                    "error": "{from_id} is {status}.",
                },
                {
                    "check": f"SELECT status = 'open', status FROM {t} WHERE {key} = :to_id",
                    "error": "{to_id} is {status}.",
                },
                {
                    "check": f"SELECT balance >= :amount, balance FROM {t} WHERE {key} = :from_id",
                    "error": "{from_id} holds only {balance}.",
                },
            ],
            "effects": [
                f"UPDATE {t} SET balance = balance - :amount WHERE {key} = :from_id",
                f"UPDATE {t} SET balance = balance + :amount WHERE {key} = :to_id",
                f"INSERT INTO {tt} (transfer_id, from_id, to_id, amount, memo, created_at) VALUES (:transfer_id, :from_id, :to_id, :amount, :memo, :now)",
            ],
            "returns": {
                "query": f"SELECT transfer_id, from_id, to_id, amount FROM {tt} WHERE transfer_id = :transfer_id"
            },
        },
    )
    b.rule(
        {
            "name": f"transfers_above_{soft}_need_review",
            "tool": f"transfer_between_{t}",
            "description": f"A single transfer above {soft} must be reviewed by a human agent.",
            "violated": f"SELECT :amount > {soft}",
            "explanation": f"Transfers above {soft} need a human review; transfer the {un} to a human agent.",
        }
    )
    b.tool(
        f"freeze_{r.key}",
        {
            "description": f"Freeze an open {r.noun} at the {un}'s request (lost card, suspected fraud).",
            "params": {key: {"type": "string", "references": f"{t}.{key}"}},
            "reads": [t],
            "writes": [t],
            "preconditions": [
                exists(t, key),
                {
                    "check": f"SELECT status = 'open', status FROM {t} WHERE {key} = :{key}",
                    "error": f"{r.noun.capitalize()} {{{key}}} is already {{status}}.",
                },
            ],
            "effects": [f"UPDATE {t} SET status = 'frozen' WHERE {key} = :{key}"],
            "returns": {"query": f"SELECT {key}, status FROM {t} WHERE {key} = :{key}"},
        },
    )
    b.tool(
        f"rename_{r.key}",
        {
            "description": f"Change the nickname of a {r.noun}; nicknames are unique per {un}.",
            "params": {
                key: {"type": "string", "references": f"{t}.{key}"},
                "nickname": {"type": "string", "min_length": 1, "max_length": 40},
            },
            "reads": [t],
            "writes": [t],
            "preconditions": [
                exists(t, key),
                {
                    "check": f"SELECT NOT EXISTS (SELECT 1 FROM {t} o WHERE o.nickname = :nickname AND o.{key} <> :{key} AND o.{uid} = (SELECT {uid} FROM {t} WHERE {key} = :{key}))",
                    "error": "Another of the {r.noun}s is already called {nickname}.".replace(
                        "{r.noun}", r.noun
                    ),
                },
            ],
            "effects": [f"UPDATE {t} SET nickname = :nickname WHERE {key} = :{key}"],
            "returns": {"query": f"SELECT {key}, nickname FROM {t} WHERE {key} = :{key}"},
        },
    )
    b.say(
        f"{r.noun.capitalize()}s",
        f"Money moves only between open {r.noun}s of the same {un}, never more than the balance and at most {hard} at once; above {soft} a human agent must review the transfer.",
        f"A frozen {r.noun} neither sends nor receives money; unfreezing is done by a human agent.",
    )
