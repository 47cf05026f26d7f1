"""Date-range reservations of units (rooms, vehicles, equipment) that never overlap.

Invariant: two confirmed reservations of one unit never share a night. Seeding keeps it:
a seeded reservation that overlaps an earlier one of the same unit is seeded cancelled.
Seed choices: maximum stay, whether dates can be changed, the cancellation notice.
"""

from __future__ import annotations

from typing import Any

from synth.generate.builder import Builder, enum, exists, label, money, pk, sql, when
from synth.generate.sketch import Role

NAME = "reservations"
REQUIRES: tuple[str, ...] = ("accounts",)

UNIT = Role(
    table="units",
    noun="unit",
    id_pattern="UN###",
    provider="catch_phrase",
    kinds=["standard", "large"],
)
RES = Role(table="reservations", noun="reservation", id_pattern="RS######")


def apply(b: Builder, params: dict[str, Any]) -> None:
    un, rs = b.role("unit", UNIT), b.role("reservation", RES)
    rng = b.rng(NAME)
    ut, ukey = un.table, f"{un.key}_id"
    rt, rkey, uid = rs.table, f"{rs.key}_id", b.uid
    max_days = rng.choice([7, 14, 21, 28])
    notice = rng.choice([1, 2, 3, 7])
    kinds = un.kinds or ["standard", "large"]
    lo, hi = params.get("rate", [40, 300])
    name_col, name_rows = label(un, 20)
    b.table(
        ut,
        {
            "description": un.description or f"The {un.noun}s that can be reserved by the day.",
            "rows": name_rows,
            "columns": {
                ukey: pk(un.id_pattern),
                "name": name_col,
                "kind": enum(kinds),
                "daily_rate": money(lo, hi, "daily_rate", "Price per day."),
                "status": enum(["in_service", "maintenance"], [0.9, 0.1]),
            },
        },
    )
    overlap = sql(f"""
        SELECT CASE WHEN EXISTS (
          SELECT 1 FROM {rt} o WHERE o.{ukey} = {rt}.{ukey} AND o.{rkey} < {rt}.{rkey}
            AND o.start_date < {rt}.end_date AND {rt}.start_date < o.end_date)
        THEN 'cancelled'
        WHEN {rt}.end_date < date('2024-05-15') THEN 'completed' ELSE 'confirmed' END
    """)
    b.table(
        rt,
        {
            "description": f"{rs.noun.capitalize()}s of {un.noun}s from a start date to an end date (exclusive).",
            "rows": 120,
            "natural_key": [uid, ukey, "start_date", "created_at"],
            "checks": [{"name": "end_after_start", "check": "end_date > start_date"}],
            "columns": {
                rkey: pk(rs.id_pattern, generated=True),
                ukey: {"type": "string", "references": f"{ut}.{ukey}"},
                uid: {"type": "string", "references": f"{b.ut}.{uid}"},
                "start_date": when("2024-03-01", "2024-07-31", exempt=False),
                "end_date": {
                    "type": "date",
                    "faker": {
                        "sql": f"SELECT date({rt}.start_date, '+' || (1 + CAST(substr({rt}.{rkey}, -2) AS INTEGER) % 6) || ' days')"
                    },
                },
                "status": {
                    "type": "enum",
                    "values": ["confirmed", "cancelled", "completed"],
                    "faker": {"sql": " ".join(overlap.split())},
                },
                "total": {
                    "type": "decimal",
                    "check": "total >= 0",
                    "faker": {
                        "sql": f"SELECT u.daily_rate * (julianday({rt}.end_date) - julianday({rt}.start_date)) FROM {ut} u WHERE u.{ukey} = {rt}.{ukey}"
                    },
                },
                "created_at": when("2024-01-01 00:00:00", "2024-05-15 12:00:00"),
            },
        },
    )
    b.invariant(
        {
            "name": f"{rt}_do_not_overlap",
            "description": f"Two confirmed {rs.noun}s of one {un.noun} never share a day.",
            "violations": sql(f"""
            SELECT a.{ukey}, a.{rkey}, b.{rkey} AS other FROM {rt} a JOIN {rt} b
              ON b.{ukey} = a.{ukey} AND b.{rkey} <> a.{rkey}
            WHERE a.status = 'confirmed' AND b.status = 'confirmed'
              AND a.start_date < b.end_date AND b.start_date < a.end_date
        """),
            "message": f"{rs.noun.capitalize()} {{{rkey}}} overlaps {{other}}.",
            "scope": {rt: ukey},
        }
    )
    clash = sql(f"""
        SELECT NOT EXISTS (SELECT 1 FROM {rt} o WHERE o.{ukey} = :{ukey} AND o.status = 'confirmed'
          AND o.start_date < :end_date AND :start_date < o.end_date)
    """)
    dates_ok = [
        {
            "check": "SELECT :end_date > :start_date",
            "error": "The end date {end_date} must be after the start date {start_date}.",
        },
        {
            "check": "SELECT :start_date >= date(:now)",
            "error": "The start date {start_date} is in the past.",
        },
        {
            "check": f"SELECT julianday(:end_date) - julianday(:start_date) <= {max_days}",
            "error": f"A {rs.noun} lasts at most {max_days} days.",
        },
    ]
    date_params = {
        "start_date": {"type": "date"},
        "end_date": {"type": "date", "description": "The day after the last day (exclusive)."},
    }
    b.find_by_name(ut, ukey, un.noun)
    b.tool(
        f"list_{ut}",
        {
            "description": f"List {un.noun}s in service, optionally of one kind, cheapest first.",
            "params": {"kind": {"type": "enum", "values": kinds, "required": False}},
            "reads": [ut],
            "returns": {
                "query": f"SELECT {ukey}, name, kind, daily_rate FROM {ut} WHERE status = 'in_service' AND (:kind IS NULL OR kind = :kind) ORDER BY daily_rate, {ukey}",
                "shape": "list",
            },
        },
    )
    b.tool(
        f"get_{un.key}",
        {
            "description": f"Get a {un.noun}: name, kind, daily rate and status.",
            "params": {ukey: {"type": "string", "references": f"{ut}.{ukey}"}},
            "reads": [ut],
            "preconditions": [exists(ut, ukey)],
            "returns": {
                "query": f"SELECT {ukey}, name, kind, daily_rate, status FROM {ut} WHERE {ukey} = :{ukey}"
            },
        },
    )
    b.tool(
        f"check_{un.key}_availability",
        {
            "description": f"Say whether a {un.noun} is free for a date range and what it would cost.",
            "params": {ukey: {"type": "string", "references": f"{ut}.{ukey}"}, **date_params},
            "reads": [ut, rt],
            "preconditions": [exists(ut, ukey), dates_ok[0]],
            "returns": {
                "query": sql(f"""
            SELECT u.{ukey}, u.status = 'in_service' AND NOT EXISTS (
                SELECT 1 FROM {rt} o WHERE o.{ukey} = u.{ukey} AND o.status = 'confirmed'
                  AND o.start_date < :end_date AND :start_date < o.end_date) AS available,
              u.daily_rate * (julianday(:end_date) - julianday(:start_date)) AS total
            FROM {ut} u WHERE u.{ukey} = :{ukey}
        """)
            },
        },
    )
    b.tool(
        f"reserve_{un.key}",
        {
            "description": f"Reserve a {un.noun} for a {b.user.noun} from start_date to end_date (exclusive).",
            "params": {
                uid: b.user_param(),
                ukey: {"type": "string", "references": f"{ut}.{ukey}"},
                **date_params,
            },
            "reads": [b.ut, ut, rt],
            "writes": [rt],
            "generate": {rkey: {"pattern": rs.id_pattern, "table": rt, "column": rkey}},
            "let": {
                "total": f"SELECT daily_rate * (julianday(:end_date) - julianday(:start_date)) FROM {ut} WHERE {ukey} = :{ukey}"
            },
            "preconditions": [
                b.user_exists(),
                {
                    "check": f"SELECT status = 'active', status FROM {b.ut} WHERE {uid} = :{uid}",
                    "error": "The account is {status}.",
                },
                exists(ut, ukey),
                {
                    "check": f"SELECT status = 'in_service', status FROM {ut} WHERE {ukey} = :{ukey}",
                    "error": f"{un.noun.capitalize()} {{{ukey}}} is in {{status}}.",
                },
                *dates_ok,
                {
                    "check": clash,
                    "error": f"{un.noun.capitalize()} {{{ukey}}} is already reserved for part of those dates.",
                },
            ],
            "effects": [
                f"INSERT INTO {rt} ({rkey}, {ukey}, {uid}, start_date, end_date, status, total, created_at) VALUES (:{rkey}, :{ukey}, :{uid}, :start_date, :end_date, 'confirmed', :total, :now)"
            ],
            "returns": {
                "query": f"SELECT {rkey}, {ukey}, start_date, end_date, total, status FROM {rt} WHERE {rkey} = :{rkey}"
            },
        },
    )
    upcoming = [
        exists(rt, rkey),
        {
            "check": f"SELECT status = 'confirmed', status FROM {rt} WHERE {rkey} = :{rkey}",
            "error": f"{rs.noun.capitalize()} {{{rkey}}} is {{status}}.",
        },
        {
            "check": f"SELECT start_date > date(:now), start_date FROM {rt} WHERE {rkey} = :{rkey}",
            "error": f"{rs.noun.capitalize()} {{{rkey}}} already started on {{start_date}}.",
        },
    ]
    b.tool(
        f"cancel_{rs.key}",
        {
            "description": f"Cancel a confirmed {rs.noun} that has not started.",
            "params": {rkey: {"type": "string", "references": f"{rt}.{rkey}"}},
            "reads": [rt],
            "writes": [rt],
            "preconditions": upcoming,
            "effects": [f"UPDATE {rt} SET status = 'cancelled' WHERE {rkey} = :{rkey}"],
            "returns": {"query": f"SELECT {rkey}, status FROM {rt} WHERE {rkey} = :{rkey}"},
        },
    )
    b.rule(
        {
            "name": f"cancel_{rs.key}_{notice}_days_ahead",
            "tool": f"cancel_{rs.key}",
            "description": f"{rs.noun.capitalize()}s must be cancelled at least {notice} days before they start.",
            "violated": f"SELECT start_date < date(:now, '+{notice} days') FROM {rt} WHERE {rkey} = :{rkey}",
            "explanation": f"The {rs.noun} starts in less than {notice} days, so it can no longer be cancelled.",
        }
    )
    if rng.random() < 0.7:
        b.tool(
            f"change_{rs.key}_dates",
            {
                "description": f"Move a confirmed, upcoming {rs.noun} to new dates on the same {un.noun}; the total is repriced.",
                "params": {rkey: {"type": "string", "references": f"{rt}.{rkey}"}, **date_params},
                "reads": [rt, ut],
                "writes": [rt],
                "let": {
                    ukey: f"SELECT {ukey} FROM {rt} WHERE {rkey} = :{rkey}",
                    "total": f"SELECT u.daily_rate * (julianday(:end_date) - julianday(:start_date)) FROM {rt} r JOIN {ut} u ON u.{ukey} = r.{ukey} WHERE r.{rkey} = :{rkey}",
                },
                "preconditions": [
                    *upcoming,
                    *dates_ok,
                    {
                        "check": sql(f"""
                    SELECT NOT EXISTS (SELECT 1 FROM {rt} o WHERE o.{ukey} = :{ukey} AND o.status = 'confirmed'
                      AND o.{rkey} <> :{rkey} AND o.start_date < :end_date AND :start_date < o.end_date)
                """),
                        "error": f"The {un.noun} is already reserved for part of those dates.",
                    },
                ],
                "effects": [
                    f"UPDATE {rt} SET start_date = :start_date, end_date = :end_date, total = :total WHERE {rkey} = :{rkey}"
                ],
                "returns": {
                    "query": f"SELECT {rkey}, start_date, end_date, total FROM {rt} WHERE {rkey} = :{rkey}"
                },
            },
        )
    b.tool(
        f"get_{rs.key}",
        {
            "description": f"Get a {rs.noun}: {un.noun}, dates, total and status.",
            "params": {rkey: {"type": "string", "references": f"{rt}.{rkey}"}},
            "reads": [rt],
            "preconditions": [exists(rt, rkey)],
            "returns": {
                "query": f"SELECT {rkey}, {ukey}, {uid}, start_date, end_date, total, status FROM {rt} WHERE {rkey} = :{rkey}"
            },
        },
    )
    b.tool(
        f"list_{b.user.key}_{rt}",
        {
            "description": f"List a {b.user.noun}'s {rs.noun}s, latest start first.",
            "params": {uid: b.user_param()},
            "reads": [b.ut, rt],
            "preconditions": [b.user_exists()],
            "returns": {
                "query": f"SELECT {rkey}, {ukey}, start_date, end_date, status FROM {rt} WHERE {uid} = :{uid} ORDER BY start_date DESC, {rkey}",
                "shape": "list",
            },
        },
    )
    b.say(
        f"{rs.noun.capitalize()}s",
        f"A {rs.noun} runs from its start date up to (not including) its end date, lasts at most {max_days} days and cannot start in the past; a {un.noun} is never double-booked.",
        f"Cancellations need at least {notice} days' notice.",
    )
