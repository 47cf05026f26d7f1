"""The parts of a compiled world that are not in the document: the ``users`` table the
agent's user lives in (with the login tools), the policy text, and policy rules from
constraints the document states in words ("Immutable.")."""

from __future__ import annotations

import re
from typing import Any

from synth.generate.openapi import tools as T
from synth.generate.openapi.model import ApiModel
from synth.generate.openapi.naming import humanize

USERS = "users"


def users_entity() -> dict[str, Any]:
    return {
        "description": "People with an account; the agent serves one of them at a time.",
        "rows": 20,
        "columns": {
            "user_id": {"type": "string", "primary_key": True, "faker": {"pattern": "usr_#####"}},
            "first_name": {"type": "string", "max_length": 60, "faker": {"provider": "first_name"}},
            "last_name": {"type": "string", "max_length": 60, "faker": {"provider": "last_name"}},
            "email": {
                "type": "string",
                "unique": True,
                "max_length": 120,
                "faker": {"provider": "email"},
            },
        },
    }


def users_tools() -> dict[str, Any]:
    return {
        "find_user_by_email": {
            "description": "Find a user's id by their email address. Use it to authenticate the user.",
            "params": {
                "email": {
                    "type": "string",
                    "references": "users.email",
                    "min_length": 3,
                    "max_length": 120,
                }
            },
            "reads": [USERS],
            "preconditions": [
                {
                    "check": "SELECT 1 FROM users WHERE lower(email) = lower(trim(:email))",
                    "error": "No user with email {email}.",
                }
            ],
            "returns": {
                "query": "SELECT user_id FROM users WHERE lower(email) = lower(trim(:email))",
                "shape": "scalar",
            },
        },
        "get_user": {
            "description": "Get a user's profile: name and email.",
            "params": {"user_id": {"type": "string", "references": "users.user_id"}},
            "reads": [USERS],
            "preconditions": [
                {
                    "check": "SELECT 1 FROM users WHERE user_id = :user_id",
                    "error": "User {user_id} not found.",
                }
            ],
            "returns": {
                "query": "SELECT user_id, first_name, last_name, email FROM users WHERE user_id = :user_id"
            },
        },
    }


def immutable_rule(plan: T.TablePlan, tool: str) -> dict[str, Any] | None:
    """A field the document calls immutable may be sent with an update (the tool takes it)
    but must not change: a policy rule the agent enforces, as the document states it."""
    for c in plan.writable:
        if re.search(r"\bimmutable\b", c.field.description, re.IGNORECASE):
            field = humanize(c.name)
            return {
                "name": f"{c.name}_immutable_in_{tool}"[:63],
                "tool": tool,
                "description": f"The {field} of a {plan.label} cannot change after it is created.",
                "violated": f"SELECT :{c.name} IS NOT NULL AND :{c.name} IS NOT {c.name} "
                f"FROM {plan.name} WHERE {plan.pk} = :{plan.pk}",
                "explanation": f"The {field} of a {plan.label} is immutable once it is created.",
            }
    return None


def policy_text(model: ApiModel, plans: dict[str, T.TablePlan]) -> str:
    lines = [
        f"You help users of {model.title or model.name} manage their own data through the tools.",
        "Authenticate the user by email before reading or changing anything, and act only on "
        "resources that belong to that user.",
        "Confirm the exact change with the user before any create, update, delete or state change.",
    ]
    for plan in plans.values():
        if plan.children:
            kids = ", ".join(humanize(c.name) for c in plan.children)
            lines.append(f"A {plan.label} cannot be deleted while it still has {kids}.")
        req = [humanize(c.name) for c in plan.writable if not c.column.nullable]
        if req:
            lines.append(f"A new {plan.label} needs: {', '.join(req)}.")
    return "\n".join(lines[:40]) + "\n"
