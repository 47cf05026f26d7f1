"""Accounts and authentication: the user table, the look-ups that sign a user in, profile edits.

Every domain has it: the user entity is the login table the task sampler draws users from,
and its unique identifying columns (email, phone, member number) are what a user tells the
agent. Seed choices: whether addresses live on the profile or in their own table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from synth.generate.builder import Builder, enum, exists, pk, sql, when

NAME = "accounts"
REQUIRES: tuple[str, ...] = ()


def apply(b: Builder, params: dict[str, Any]) -> None:
    u, t, uid = b.user, b.ut, b.uid
    rng = b.rng(NAME)
    split_addresses = rng.random() < 0.5
    prefs = rng.choice(
        [["email", "sms", "post"], ["email", "sms", "phone call"], ["email", "app", "sms"]]
    )
    cols: dict[str, Any] = {
        uid: pk(u.id_pattern, description=f"{u.noun.capitalize()} id."),
        "first_name": {"type": "string", "max_length": 60, "faker": {"provider": "first_name"}},
        "last_name": {"type": "string", "max_length": 60, "faker": {"provider": "last_name"}},
        "email": {
            "type": "string",
            "unique": True,
            "max_length": 120,
            "faker": {"provider": "email"},
            "description": "Email address on file; identifies the account.",
        },
        "phone": {
            "type": "string",
            "unique": True,
            "max_length": 16,
            "faker": {"pattern": "+1 555-###-####"},
            "description": "Phone number on file.",
        },
        "date_of_birth": when("1940-01-01", "2006-12-31", exempt=False),
    }
    if "member_number" in u.auth:
        cols["member_number"] = {
            "type": "string",
            "unique": True,
            "max_length": 12,
            "faker": {"pattern": "M#########"},
            "description": "Membership number printed on the card.",
        }
    if not split_addresses:
        cols["street"] = {
            "type": "string",
            "max_length": 120,
            "faker": {"provider": "street_address"},
        }
        cols["city"] = {"type": "string", "max_length": 60, "faker": {"provider": "city"}}
        cols["postal_code"] = {"type": "string", "max_length": 10, "faker": {"pattern": "#####"}}
    cols["contact_preference"] = enum(
        prefs, description="How the " + u.noun + " wants to be contacted."
    )
    cols["status"] = enum(
        ["active", "suspended", "closed"],
        [0.93, 0.05, 0.02],
        description="Only active accounts can make new requests.",
    )
    cols["joined_at"] = when("2015-01-01 00:00:00", "2024-04-30 23:59:59")
    b.table(
        t,
        {
            "description": u.description or f"The {u.noun}s this desk serves (the login entity).",
            "rows": 60,
            "columns": cols,
        },
    )

    profile_cols = ", ".join(c for c in cols if c != "date_of_birth")
    b.tool(
        f"find_{u.key}_by_email",
        {
            "description": f"Find a {u.noun}'s id by the email address on file.",
            "params": {"email": {"type": "string", "references": f"{t}.email", "max_length": 120}},
            "reads": [t],
            "preconditions": [
                {
                    "check": f"SELECT 1 FROM {t} WHERE email = :email",
                    "error": f"No {u.noun} with email {{email}}.",
                }
            ],
            "returns": {"query": f"SELECT {uid} FROM {t} WHERE email = :email", "shape": "scalar"},
        },
    )
    if "phone" in u.auth:
        b.tool(
            f"find_{u.key}_by_phone",
            {
                "description": f"Find a {u.noun}'s id by the phone number on file.",
                "params": {
                    "phone": {"type": "string", "references": f"{t}.phone", "max_length": 16}
                },
                "reads": [t],
                "preconditions": [
                    {
                        "check": f"SELECT 1 FROM {t} WHERE phone = :phone",
                        "error": f"No {u.noun} with phone {{phone}}.",
                    }
                ],
                "returns": {
                    "query": f"SELECT {uid} FROM {t} WHERE phone = :phone",
                    "shape": "scalar",
                },
            },
        )
    if "member_number" in u.auth:
        b.tool(
            f"find_{u.key}_by_member_number",
            {
                "description": f"Find a {u.noun}'s id by their membership number.",
                "params": {
                    "member_number": {
                        "type": "string",
                        "references": f"{t}.member_number",
                        "max_length": 12,
                    }
                },
                "reads": [t],
                "preconditions": [
                    {
                        "check": f"SELECT 1 FROM {t} WHERE member_number = :member_number",
                        "error": "No membership {member_number}.",
                    }
                ],
                "returns": {
                    "query": f"SELECT {uid} FROM {t} WHERE member_number = :member_number",
                    "shape": "scalar",
                },
            },
        )
    if "name_dob" in u.auth:
        b.tool(
            f"find_{u.key}_by_name_and_birth_date",
            {
                "description": f"Find the ids of {u.noun}s with this first name, last name and date of birth.",
                "params": {
                    "first_name": {
                        "type": "string",
                        "references": f"{t}.first_name",
                        "max_length": 60,
                    },
                    "last_name": {
                        "type": "string",
                        "references": f"{t}.last_name",
                        "max_length": 60,
                    },
                    "date_of_birth": {"type": "date", "references": f"{t}.date_of_birth"},
                },
                "reads": [t],
                "returns": {
                    "query": sql(f"""
                    SELECT {uid} FROM {t}
                    WHERE first_name = :first_name AND last_name = :last_name
                      AND date_of_birth = :date_of_birth
                    ORDER BY {uid}
                """),
                    "shape": "list",
                },
            },
        )
    b.tool(
        f"get_{u.key}_profile",
        {
            "description": f"Get a {u.noun}'s profile: name, contact details and account status.",
            "params": {uid: b.user_param()},
            "reads": [t],
            "preconditions": [b.user_exists()],
            "returns": {"query": f"SELECT {profile_cols} FROM {t} WHERE {uid} = :{uid}"},
        },
    )
    b.tool(
        f"update_{u.key}_phone",
        {
            "description": f"Change the phone number on a {u.noun}'s profile.",
            "params": {
                uid: b.user_param(),
                "phone": {
                    "type": "string",
                    "pattern": r"^\+1 555-\d{3}-\d{4}$",
                    "description": "New number, +1 555-###-####.",
                },
            },
            "reads": [t],
            "writes": [t],
            "preconditions": [
                b.user_exists(),
                {
                    "check": f"SELECT NOT EXISTS (SELECT 1 FROM {t} WHERE phone = :phone AND {uid} <> :{uid})",
                    "error": f"Phone {{phone}} is already on another {u.noun}'s profile.",
                },
            ],
            "effects": [f"UPDATE {t} SET phone = :phone WHERE {uid} = :{uid}"],
            "returns": {"query": f"SELECT {uid}, phone FROM {t} WHERE {uid} = :{uid}"},
        },
    )
    b.tool(
        f"set_{u.key}_contact_preference",
        {
            "description": f"Set how the {u.noun} wants to be contacted.",
            "params": {uid: b.user_param(), "preference": {"type": "enum", "values": prefs}},
            "reads": [t],
            "writes": [t],
            "preconditions": [b.user_exists()],
            "effects": [f"UPDATE {t} SET contact_preference = :preference WHERE {uid} = :{uid}"],
            "returns": {"query": f"SELECT {uid}, contact_preference FROM {t} WHERE {uid} = :{uid}"},
        },
    )
    b.tool(
        f"update_{u.key}_name",
        {
            "description": f"Correct the first and last name on a {u.noun}'s profile (after a legal name change).",
            "params": {
                uid: b.user_param(),
                "first_name": {"type": "string", "min_length": 1, "max_length": 60},
                "last_name": {"type": "string", "min_length": 1, "max_length": 60},
            },
            "reads": [t],
            "writes": [t],
            "preconditions": [b.user_exists()],
            "effects": [
                f"UPDATE {t} SET first_name = :first_name, last_name = :last_name WHERE {uid} = :{uid}"
            ],
            "returns": {
                "query": f"SELECT {uid}, first_name, last_name FROM {t} WHERE {uid} = :{uid}"
            },
        },
    )
    b.tool(
        f"close_{u.key}_account",
        {
            "description": f"Close a {u.noun}'s account at their request; a closed account cannot make new requests.",
            "params": {uid: b.user_param()},
            "reads": [t],
            "writes": [t],
            "preconditions": [
                b.user_exists(),
                {
                    "check": f"SELECT status <> 'closed' FROM {t} WHERE {uid} = :{uid}",
                    "error": "The account is already closed.",
                },
            ],
            "effects": [f"UPDATE {t} SET status = 'closed' WHERE {uid} = :{uid}"],
            "returns": {"query": f"SELECT {uid}, status FROM {t} WHERE {uid} = :{uid}"},
        },
    )
    b.say(
        "Authentication",
        f"You are the {b.sketch.agent_role} of {b.sketch.title}. Before you look at or change anything,"
        f" identify the {u.noun} by {_auth_words(u.auth)}.",
        f"Only act on the authenticated {u.noun}'s own records; refuse requests about other {u.noun}s.",
        "Suspended and closed accounts may look at their records but cannot make new requests.",
    )
    if split_addresses:
        _addresses(b)
    else:
        b.tool(
            f"update_{u.key}_address",
            {
                "description": f"Change the postal address on a {u.noun}'s profile.",
                "params": {
                    uid: b.user_param(),
                    "street": {"type": "string", "min_length": 3, "max_length": 120},
                    "city": {"type": "string", "min_length": 2, "max_length": 60},
                    "postal_code": {"type": "string", "pattern": r"^\d{5}$"},
                },
                "reads": [t],
                "writes": [t],
                "preconditions": [b.user_exists()],
                "effects": [
                    f"UPDATE {t} SET street = :street, city = :city, postal_code = :postal_code WHERE {uid} = :{uid}"
                ],
                "returns": {
                    "query": f"SELECT {uid}, street, city, postal_code FROM {t} WHERE {uid} = :{uid}"
                },
            },
        )


def _auth_words(methods: Sequence[str]) -> str:
    words = {
        "email": "the email address on file",
        "phone": "the phone number on file",
        "name_dob": "first name, last name and date of birth together",
        "member_number": "their membership number",
    }
    return " or by ".join(words[m] for m in methods) if methods else words["email"]


def _addresses(b: Builder) -> None:
    """Table split: a user's saved addresses, one of them the default."""
    u, uid = b.user, b.uid
    t = f"{u.key}_addresses"
    b.table(
        t,
        {
            "description": f"Saved postal addresses of a {u.noun}.",
            "rows": 70,
            "natural_key": [uid, "label"],
            "unique": [[uid, "label"]],
            "columns": {
                "address_id": pk("AD#####", generated=True),
                uid: {"type": "string", "references": f"{b.ut}.{uid}", "on_delete": "cascade"},
                "label": enum(["home", "work", "other"], description="Unique per " + u.noun + "."),
                "street": {
                    "type": "string",
                    "max_length": 120,
                    "faker": {"provider": "street_address"},
                },
                "city": {"type": "string", "max_length": 60, "faker": {"provider": "city"}},
                "postal_code": {"type": "string", "max_length": 10, "faker": {"pattern": "#####"}},
            },
        },
    )
    b.tool(
        f"list_{u.key}_addresses",
        {
            "description": f"List a {u.noun}'s saved addresses.",
            "params": {uid: b.user_param()},
            "reads": [b.ut, t],
            "preconditions": [b.user_exists()],
            "returns": {
                "query": f"SELECT address_id, label, street, city, postal_code FROM {t} WHERE {uid} = :{uid} ORDER BY label",
                "shape": "list",
            },
        },
    )
    b.tool(
        f"save_{u.key}_address",
        {
            "description": f"Save an address under a label (home, work, other) for a {u.noun}, replacing one with the same label.",
            "params": {
                uid: b.user_param(),
                "label": {"type": "enum", "values": ["home", "work", "other"]},
                "street": {"type": "string", "min_length": 3, "max_length": 120},
                "city": {"type": "string", "min_length": 2, "max_length": 60},
                "postal_code": {"type": "string", "pattern": r"^\d{5}$"},
            },
            "reads": [b.ut, t],
            "writes": [t],
            "generate": {"address_id": {"pattern": "AD#####", "table": t, "column": "address_id"}},
            "preconditions": [b.user_exists()],
            "effects": [
                f"DELETE FROM {t} WHERE {uid} = :{uid} AND label = :label",
                f"INSERT INTO {t} (address_id, {uid}, label, street, city, postal_code) VALUES (:address_id, :{uid}, :label, :street, :city, :postal_code)",
            ],
            "returns": {
                "query": f"SELECT address_id, label, street, city, postal_code FROM {t} WHERE {uid} = :{uid} AND label = :label"
            },
        },
    )
    b.tool(
        f"remove_{u.key}_address",
        {
            "description": f"Remove one of a {u.noun}'s saved addresses.",
            "params": {"address_id": {"type": "string", "references": f"{t}.address_id"}},
            "reads": [t],
            "writes": [t],
            "preconditions": [exists(t, "address_id")],
            "effects": [f"DELETE FROM {t} WHERE address_id = :address_id"],
        },
    )
