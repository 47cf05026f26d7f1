"""Support tickets with comments, assignment to staff agents, escalation and closing.

Assignment is back-office work (audience: staff); opening, commenting, escalating and
closing are requests a user makes. Seed choices: the reopen window (policy rule), whether
tickets carry a priority that escalation raises, team names.
"""

from __future__ import annotations

from typing import Any

from synth.generate.builder import Builder, enum, exists, pk, text, when
from synth.generate.sketch import Role

NAME = "tickets"
REQUIRES: tuple[str, ...] = ("accounts",)

TICKET = Role(
    table="tickets",
    noun="ticket",
    id_pattern="TK######",
    kinds=["billing", "technical", "account", "other"],
)


def apply(b: Builder, params: dict[str, Any]) -> None:
    rng = b.rng(NAME)
    r = b.role("ticket", TICKET)
    t, key, uid, un = r.table, f"{r.key}_id", b.uid, b.user.noun
    kinds = r.kinds or TICKET.kinds
    at = rng.choice(["support_agents", "staff_members", "specialists"])
    reopen = rng.choice([7, 14, 30])
    subjects = (
        params.get("subjects")
        or r.names
        or [
            "Question about my account",
            "Problem with a recent visit",
            "Billing question",
            "Request for documents",
            "Complaint",
            "Change request",
        ]
    )
    b.table(
        at,
        {
            "description": "Staff who work tickets, by team.",
            "rows": 10,
            "columns": {
                "agent_id": pk("AG###"),
                "name": {"type": "string", "max_length": 80, "faker": {"provider": "name"}},
                "team": enum(kinds),
                "status": enum(["available", "away"], [0.8, 0.2]),
            },
        },
    )
    b.table(
        t,
        {
            "description": f"{r.noun.capitalize()}s opened by {un}s.",
            "rows": 110,
            "natural_key": [uid, "subject", "created_at"],
            "columns": {
                key: pk(r.id_pattern, generated=True),
                uid: {"type": "string", "references": f"{b.ut}.{uid}"},
                "subject": {
                    "type": "string",
                    "max_length": 120,
                    "faker": {"choices": list(subjects)},
                },
                "category": enum(kinds),
                "priority": enum(["low", "normal", "high"], [0.3, 0.55, 0.15]),
                "status": enum(["open", "escalated", "resolved", "closed"], [0.35, 0.1, 0.25, 0.3]),
                "agent_id": {
                    "type": "string",
                    "references": f"{at}.agent_id",
                    "nullable": True,
                    "faker": {"null_fraction": 0.4},
                },
                "created_at": when("2024-02-01 00:00:00", "2024-05-15 12:00:00"),
                "closed_at": {
                    "type": "datetime",
                    "nullable": True,
                    "match": "exempt",
                    "faker": {
                        "sql": f"SELECT CASE WHEN {t}.status = 'closed' THEN datetime({t}.created_at, '+2 days') END"
                    },
                },
            },
        },
    )
    ct = f"{r.key}_comments"
    b.table(
        ct,
        {
            "description": f"Messages on {r.noun}s.",
            "rows": 150,
            "natural_key": [key, "created_at", "body"],
            "columns": {
                "comment_id": pk("CM#######", generated=True),
                key: {"type": "string", "references": f"{t}.{key}", "on_delete": "cascade"},
                "author": enum([un, "agent"]),
                "body": {**text(nullable=False), "max_length": 500},
                "created_at": when("2024-02-01 00:00:00", "2024-05-15 12:00:00"),
            },
        },
    )
    tp = {key: {"type": "string", "references": f"{t}.{key}"}}
    b.tool(
        f"open_{r.key}",
        {
            "description": f"Open a {r.noun} for a {un} with a subject, category and first message.",
            "params": {
                uid: b.user_param(),
                "subject": {"type": "string", "min_length": 3, "max_length": 120},
                "category": {"type": "enum", "values": kinds},
                "message": {"type": "string", "min_length": 1, "max_length": 500},
            },
            "reads": [b.ut, t],
            "writes": [t, ct],
            "generate": {
                key: {"pattern": r.id_pattern, "table": t, "column": key},
                "comment_id": {"pattern": "CM#######", "table": ct, "column": "comment_id"},
            },
            "preconditions": [b.user_exists()],
            "effects": [
                f"INSERT INTO {t} ({key}, {uid}, subject, category, priority, status, created_at) VALUES (:{key}, :{uid}, :subject, :category, 'normal', 'open', :now)",
                f"INSERT INTO {ct} (comment_id, {key}, author, body, created_at) VALUES (:comment_id, :{key}, '{un}', :message, :now)",
            ],
            "returns": {"query": f"SELECT {key}, status FROM {t} WHERE {key} = :{key}"},
        },
    )
    b.tool(
        f"get_{r.key}",
        {
            "description": f"Get a {r.noun} with its messages.",
            "params": tp,
            "reads": [t, ct],
            "preconditions": [exists(t, key)],
            "returns": {
                "query": f"SELECT x.{key}, x.{uid}, x.subject, x.category, x.priority, x.status, x.agent_id, x.created_at, (SELECT json_group_array(json_object('author', c.author, 'body', c.body)) FROM (SELECT author, body FROM {ct} WHERE {key} = x.{key} ORDER BY created_at, comment_id) c) AS messages FROM {t} x WHERE x.{key} = :{key}",
                "json_columns": ["messages"],
            },
        },
    )
    b.tool(
        f"list_{b.user.key}_{t}",
        {
            "description": f"List a {un}'s {r.noun}s, newest first.",
            "params": {uid: b.user_param()},
            "reads": [b.ut, t],
            "preconditions": [b.user_exists()],
            "returns": {
                "query": f"SELECT {key}, subject, status, created_at FROM {t} WHERE {uid} = :{uid} ORDER BY created_at DESC, {key}",
                "shape": "list",
            },
        },
    )
    not_closed = {
        "check": f"SELECT status <> 'closed', status FROM {t} WHERE {key} = :{key}",
        "error": f"{r.noun.capitalize()} {{{key}}} is closed.",
    }
    b.tool(
        f"add_{r.key}_message",
        {
            "description": f"Add a message from the {un} to a {r.noun} that is not closed.",
            "params": {**tp, "message": {"type": "string", "min_length": 1, "max_length": 500}},
            "reads": [t],
            "writes": [ct],
            "generate": {
                "comment_id": {"pattern": "CM#######", "table": ct, "column": "comment_id"}
            },
            "preconditions": [exists(t, key), not_closed],
            "effects": [
                f"INSERT INTO {ct} (comment_id, {key}, author, body, created_at) VALUES (:comment_id, :{key}, '{un}', :message, :now)"
            ],
            "returns": {
                "query": f"SELECT comment_id, {key} FROM {ct} WHERE comment_id = :comment_id"
            },
        },
    )
    b.tool(
        f"escalate_{r.key}",
        {
            "description": f"Escalate an open {r.noun}: it becomes high priority and goes to a senior agent.",
            "params": tp,
            "reads": [t],
            "writes": [t],
            "preconditions": [
                exists(t, key),
                {
                    "check": f"SELECT status = 'open', status FROM {t} WHERE {key} = :{key}",
                    "error": f"{r.noun.capitalize()} {{{key}}} is {{status}}; only open {r.noun}s can be escalated.",
                },
            ],
            "effects": [
                f"UPDATE {t} SET status = 'escalated', priority = 'high' WHERE {key} = :{key}"
            ],
            "returns": {"query": f"SELECT {key}, status, priority FROM {t} WHERE {key} = :{key}"},
        },
    )
    b.tool(
        f"close_{r.key}",
        {
            "description": f"Close a {r.noun} the {un} no longer needs.",
            "params": tp,
            "reads": [t],
            "writes": [t],
            "preconditions": [exists(t, key), not_closed],
            "effects": [f"UPDATE {t} SET status = 'closed', closed_at = :now WHERE {key} = :{key}"],
            "returns": {"query": f"SELECT {key}, status FROM {t} WHERE {key} = :{key}"},
        },
    )
    b.tool(
        f"reopen_{r.key}",
        {
            "description": f"Reopen a closed {r.noun}.",
            "params": tp,
            "reads": [t],
            "writes": [t],
            "preconditions": [
                exists(t, key),
                {
                    "check": f"SELECT status = 'closed', status FROM {t} WHERE {key} = :{key}",
                    "error": f"{r.noun.capitalize()} {{{key}}} is {{status}}, not closed.",
                },
            ],
            "effects": [f"UPDATE {t} SET status = 'open', closed_at = NULL WHERE {key} = :{key}"],
            "returns": {"query": f"SELECT {key}, status FROM {t} WHERE {key} = :{key}"},
        },
    )
    b.rule(
        {
            "name": f"reopen_within_{reopen}_days",
            "tool": f"reopen_{r.key}",
            "description": f"A {r.noun} closed more than {reopen} days ago cannot be reopened; open a new one.",
            "violated": f"SELECT closed_at < datetime(:now, '-{reopen} days') FROM {t} WHERE {key} = :{key}",
            "explanation": f"The {r.noun} was closed more than {reopen} days ago; a new {r.noun} must be opened instead.",
        }
    )
    b.tool(
        f"assign_{r.key}",
        {
            "description": f"Assign a {r.noun} to an available agent of the matching team (back office).",
            "audience": "staff",
            "params": {**tp, "agent_id": {"type": "string", "references": f"{at}.agent_id"}},
            "reads": [t, at],
            "writes": [t],
            "preconditions": [
                exists(t, key),
                not_closed,
                exists(at, "agent_id"),
                {
                    "check": f"SELECT a.status = 'available', a.status FROM {at} a WHERE a.agent_id = :agent_id",
                    "error": "Agent {agent_id} is {status}.",
                },
                {
                    "check": f"SELECT a.team = x.category, a.team FROM {at} a, {t} x WHERE a.agent_id = :agent_id AND x.{key} = :{key}",
                    "error": f"Agent {{agent_id}} works on {{team}}, not this {r.noun}'s category.",
                },
            ],
            "effects": [f"UPDATE {t} SET agent_id = :agent_id WHERE {key} = :{key}"],
            "returns": {"query": f"SELECT {key}, agent_id FROM {t} WHERE {key} = :{key}"},
        },
    )
    b.say(
        f"{r.noun.capitalize()}s",
        f"Open a {r.noun} for anything you cannot resolve now; only open {r.noun}s can be escalated, and closed {r.noun}s can be reopened within {reopen} days of closing.",
    )
