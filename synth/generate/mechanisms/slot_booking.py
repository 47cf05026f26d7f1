"""Booking of capacity-limited time slots with a provider (a dentist, a class, a technician).

Invariant: a slot never holds more active bookings than its capacity (seeding lifts the
capacity over what was drawn, so it holds from the start). Seed choices: the late-cancel
window of the policy rule, whether rescheduling exists, the booking-status vocabulary.
"""

from __future__ import annotations

from typing import Any

from synth.generate.builder import Builder, enum, exists, label, pk, sql, when
from synth.generate.sketch import Role

NAME = "slot_booking"
REQUIRES: tuple[str, ...] = ("accounts",)

PROVIDER = Role(
    table="providers",
    noun="provider",
    id_pattern="PV###",
    provider="name",
    kinds=["general", "specialist"],
)
BOOKING = Role(table="bookings", noun="booking", id_pattern="BK######")


def apply(b: Builder, params: dict[str, Any]) -> None:
    p, bk = b.role("provider", PROVIDER), b.role("booking", BOOKING)
    rng = b.rng(NAME)
    pt, pkey = p.table, f"{p.key}_id"
    st = f"{p.key}_slots"
    bt, bkey, uid = bk.table, f"{bk.key}_id", b.uid
    hours = rng.choice([12, 24, 48])
    active = rng.choice(["booked", "confirmed", "reserved"])
    kinds = p.kinds or ["general", "specialist"]
    name_col, name_rows = label(p, 12)
    b.table(
        pt,
        {
            "description": p.description or f"The {p.noun}s whose time can be booked.",
            "rows": name_rows,
            "columns": {
                pkey: pk(p.id_pattern),
                "name": name_col,
                "specialty": enum(kinds),
                "status": enum(["active", "on_leave"], [0.9, 0.1]),
            },
        },
    )
    b.table(
        st,
        {
            "description": f"Bookable time slots of {p.noun}s; capacity is how many {bk.noun}s a slot takes.",
            "rows": 160,
            "columns": {
                "slot_id": pk("SL#####"),
                pkey: {"type": "string", "references": f"{pt}.{pkey}"},
                "starts_at": when("2024-04-15 08:00:00", "2024-06-30 18:00:00", exempt=False),
                "capacity": {
                    "type": "integer",
                    "check": "capacity >= 1",
                    "faker": {
                        "sql": sql(f"""
                    SELECT MAX(1 + CAST(substr({st}.slot_id, -1) AS INTEGER) % 3,
                               (SELECT COUNT(*) FROM {bt} b WHERE b.slot_id = {st}.slot_id AND b.status = '{active}'))
                """)
                    },
                },
                "status": enum(["open", "closed"], [0.9, 0.1]),
            },
        },
    )
    b.table(
        bt,
        {
            "description": f"{bk.noun.capitalize()}s of slots by {b.user.noun}s.",
            "rows": 140,
            "natural_key": [uid, "slot_id", "created_at"],
            "columns": {
                bkey: pk(bk.id_pattern, generated=True),
                "slot_id": {"type": "string", "references": f"{st}.slot_id"},
                uid: {"type": "string", "references": f"{b.ut}.{uid}"},
                "status": enum(
                    [active, "cancelled", "attended", "no_show"], [0.55, 0.15, 0.2, 0.1]
                ),
                "created_at": when("2024-03-01 00:00:00", "2024-05-15 12:00:00"),
            },
        },
    )
    b.invariant(
        {
            "name": f"{st}_within_capacity",
            "description": f"A slot never holds more active {bk.noun}s than its capacity.",
            "violations": sql(f"""
            SELECT s.slot_id, s.capacity FROM {st} s
            WHERE (SELECT COUNT(*) FROM {bt} b WHERE b.slot_id = s.slot_id AND b.status = '{active}') > s.capacity
        """),
            "message": "Slot {slot_id} is over its capacity of {capacity}.",
            "scope": {st: "slot_id", bt: "slot_id"},
        }
    )
    seats = f"s.capacity - (SELECT COUNT(*) FROM {bt} b WHERE b.slot_id = s.slot_id AND b.status = '{active}')"
    b.find_by_name(pt, pkey, p.noun)
    b.tool(
        f"list_{pt}",
        {
            "description": f"List active {p.noun}s, optionally of one specialty.",
            "params": {"specialty": {"type": "enum", "values": kinds, "required": False}},
            "reads": [pt],
            "returns": {
                "query": f"SELECT {pkey}, name, specialty FROM {pt} WHERE status = 'active' AND (:specialty IS NULL OR specialty = :specialty) ORDER BY name, {pkey}",
                "shape": "list",
            },
        },
    )
    b.tool(
        f"get_{p.key}",
        {
            "description": f"Get a {p.noun}: name, specialty and whether they take {bk.noun}s.",
            "params": {pkey: {"type": "string", "references": f"{pt}.{pkey}"}},
            "reads": [pt],
            "preconditions": [exists(pt, pkey)],
            "returns": {
                "query": f"SELECT {pkey}, name, specialty, status FROM {pt} WHERE {pkey} = :{pkey}"
            },
        },
    )
    b.tool(
        "list_open_slots",
        {
            "description": f"List the upcoming open slots of a {p.noun} that still have room, earliest first.",
            "params": {pkey: {"type": "string", "references": f"{pt}.{pkey}"}},
            "reads": [pt, st, bt],
            "preconditions": [exists(pt, pkey)],
            "returns": {
                "query": sql(f"""
                SELECT s.slot_id, s.starts_at, {seats} AS places_left
                FROM {st} s
                WHERE s.{pkey} = :{pkey} AND s.status = 'open' AND s.starts_at > :now
                  AND {seats} > 0
                ORDER BY s.starts_at, s.slot_id LIMIT 20
            """),
                "shape": "list",
            },
        },
    )
    slot_ok = [
        exists(st, "slot_id"),
        {
            "check": f"SELECT status = 'open', status FROM {st} WHERE slot_id = :slot_id",
            "error": "Slot {slot_id} is {status}.",
        },
        {
            "check": f"SELECT starts_at > :now, starts_at FROM {st} WHERE slot_id = :slot_id",
            "error": "Slot {slot_id} started at {starts_at}; it is in the past.",
        },
        {
            "check": f"SELECT {seats} > 0 FROM {st} s WHERE s.slot_id = :slot_id",
            "error": "Slot {slot_id} is full.",
        },
        {
            "check": f"SELECT p.status = 'active', p.status FROM {pt} p JOIN {st} s ON s.{pkey} = p.{pkey} WHERE s.slot_id = :slot_id",
            "error": f"The {p.noun} of slot {{slot_id}} is {{status}}.",
        },
    ]
    b.tool(
        "book_slot",
        {
            "description": f"Book a slot for a {b.user.noun}.",
            "params": {
                uid: b.user_param(),
                "slot_id": {"type": "string", "references": f"{st}.slot_id"},
            },
            "reads": [b.ut, pt, st, bt],
            "writes": [bt],
            "generate": {bkey: {"pattern": bk.id_pattern, "table": bt, "column": bkey}},
            "preconditions": [
                b.user_exists(),
                {
                    "check": f"SELECT status = 'active', status FROM {b.ut} WHERE {uid} = :{uid}",
                    "error": "The account is {status}.",
                },
                *slot_ok,
                {
                    "check": f"SELECT NOT EXISTS (SELECT 1 FROM {bt} WHERE slot_id = :slot_id AND {uid} = :{uid} AND status = '{active}')",
                    "error": f"The {b.user.noun} already holds a {bk.noun} in slot {{slot_id}}.",
                },
            ],
            "effects": [
                f"INSERT INTO {bt} ({bkey}, slot_id, {uid}, status, created_at) VALUES (:{bkey}, :slot_id, :{uid}, '{active}', :now)"
            ],
            "returns": {
                "query": f"SELECT {bkey}, slot_id, status FROM {bt} WHERE {bkey} = :{bkey}"
            },
        },
    )
    mine_active = [
        exists(bt, bkey),
        {
            "check": f"SELECT status = '{active}', status FROM {bt} WHERE {bkey} = :{bkey}",
            "error": f"{bk.noun.capitalize()} {{{bkey}}} is {{status}}.",
        },
        {
            "check": f"SELECT s.starts_at > :now, s.starts_at FROM {bt} b JOIN {st} s ON s.slot_id = b.slot_id WHERE b.{bkey} = :{bkey}",
            "error": f"{bk.noun.capitalize()} {{{bkey}}} started at {{starts_at}}.",
        },
    ]
    b.tool(
        f"cancel_{bk.key}",
        {
            "description": f"Cancel an upcoming {bk.noun}; its place goes back to the slot.",
            "params": {bkey: {"type": "string", "references": f"{bt}.{bkey}"}},
            "reads": [bt, st],
            "writes": [bt],
            "preconditions": mine_active,
            "effects": [f"UPDATE {bt} SET status = 'cancelled' WHERE {bkey} = :{bkey}"],
            "returns": {"query": f"SELECT {bkey}, status FROM {bt} WHERE {bkey} = :{bkey}"},
        },
    )
    b.rule(
        {
            "name": f"no_cancel_within_{hours}_hours",
            "tool": f"cancel_{bk.key}",
            "description": f"{bk.noun.capitalize()}s cannot be cancelled less than {hours} hours before they start.",
            "violated": f"SELECT s.starts_at < datetime(:now, '+{hours} hours') FROM {bt} b JOIN {st} s ON s.slot_id = b.slot_id WHERE b.{bkey} = :{bkey}",
            "explanation": f"The {bk.noun} starts in less than {hours} hours, so it can no longer be cancelled.",
        }
    )
    if rng.random() < 0.7:
        b.tool(
            f"reschedule_{bk.key}",
            {
                "description": f"Move an upcoming {bk.noun} to another open slot of the same {p.noun}.",
                "params": {
                    bkey: {"type": "string", "references": f"{bt}.{bkey}"},
                    "slot_id": {
                        "type": "string",
                        "references": f"{st}.slot_id",
                        "description": "The new slot.",
                    },
                },
                "reads": [bt, st, pt],
                "writes": [bt],
                "preconditions": [
                    *mine_active,
                    *slot_ok,
                    {
                        "check": f"SELECT s2.{pkey} = s1.{pkey} FROM {bt} b JOIN {st} s1 ON s1.slot_id = b.slot_id JOIN {st} s2 ON s2.slot_id = :slot_id WHERE b.{bkey} = :{bkey}",
                        "error": f"Slot {{slot_id}} is with another {p.noun}.",
                    },
                ],
                "effects": [f"UPDATE {bt} SET slot_id = :slot_id WHERE {bkey} = :{bkey}"],
                "returns": {
                    "query": f"SELECT {bkey}, slot_id, status FROM {bt} WHERE {bkey} = :{bkey}"
                },
            },
        )
    b.tool(
        f"get_{bk.key}",
        {
            "description": f"Get a {bk.noun} with its slot time and {p.noun}.",
            "params": {bkey: {"type": "string", "references": f"{bt}.{bkey}"}},
            "reads": [bt, st, pt],
            "preconditions": [exists(bt, bkey)],
            "returns": {
                "query": sql(f"""
            SELECT b.{bkey}, b.{uid}, b.status, s.slot_id, s.starts_at, p.{pkey}, p.name AS {p.key}_name
            FROM {bt} b JOIN {st} s ON s.slot_id = b.slot_id JOIN {pt} p ON p.{pkey} = s.{pkey}
            WHERE b.{bkey} = :{bkey}
        """)
            },
        },
    )
    b.tool(
        f"list_{b.user.key}_{bt}",
        {
            "description": f"List a {b.user.noun}'s {bk.noun}s with their times, newest first.",
            "params": {uid: b.user_param()},
            "reads": [b.ut, bt, st],
            "preconditions": [b.user_exists()],
            "returns": {
                "query": sql(f"""
            SELECT b.{bkey}, b.status, s.starts_at FROM {bt} b JOIN {st} s ON s.slot_id = b.slot_id
            WHERE b.{uid} = :{uid} ORDER BY s.starts_at DESC, b.{bkey}
        """),
                "shape": "list",
            },
        },
    )
    b.say(
        f"{bk.noun.capitalize()}s",
        f"{bk.noun.capitalize()}s are made in open, upcoming slots of active {p.noun}s that still have room; one {bk.noun} per {b.user.noun} per slot.",
        f"A {bk.noun} cannot be cancelled less than {hours} hours before it starts; moving it to another slot is only possible with the same {p.noun}.",
    )
