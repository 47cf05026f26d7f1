"""Enrollments with prerequisites and capacity (courses, programmes, classes, clinics).

Invariant: a session never has more enrolled users than seats (seeding lifts the seats over
what was drawn). A prerequisite must be completed before enrolling. Seed choices: the drop
deadline (policy rule), whether a waitlist status exists, the term vocabulary.
"""

from __future__ import annotations

from typing import Any

from synth.generate.builder import Builder, enum, exists, label, pk, sql, when
from synth.generate.sketch import Role

NAME = "enrollments"
REQUIRES: tuple[str, ...] = ("accounts",)

COURSE = Role(
    table="courses",
    noun="course",
    id_pattern="CR###",
    provider="catch_phrase",
    kinds=["beginner", "intermediate", "advanced"],
)


def apply(b: Builder, params: dict[str, Any]) -> None:
    rng = b.rng(NAME)
    c = b.role("course", COURSE)
    t, key, uid, un = c.table, f"{c.key}_id", b.uid, b.user.noun
    et = "enrollments"
    levels = c.kinds or COURSE.kinds
    drop_days = rng.choice([3, 7, 14])
    name_col, name_rows = label(c, 24)
    b.table(
        t,
        {
            "description": c.description or f"{c.noun.capitalize()}s {un}s can enroll in.",
            "rows": name_rows,
            "columns": {
                key: pk(c.id_pattern),
                "title": name_col,
                "level": enum(levels),
                "prerequisite_id": {
                    "type": "string",
                    "references": f"{t}.{key}",
                    "nullable": True,
                    "faker": {"null_fraction": 0.6},
                    "description": f"A {c.noun} to complete first (NULL: none).",
                },
                "starts_on": when("2024-04-01", "2024-08-31", exempt=False),
                "seats": {
                    "type": "integer",
                    "check": "seats >= 1",
                    "faker": {
                        "sql": f"SELECT MAX(2 + CAST(substr({t}.{key}, -1) AS INTEGER) % 6, (SELECT COUNT(*) FROM {et} e WHERE e.{key} = {t}.{key} AND e.status = 'enrolled'))"
                    },
                },
                "status": enum(["open", "closed"], [0.85, 0.15]),
            },
        },
    )
    b.table(
        et,
        {
            "description": f"Who is enrolled in which {c.noun}.",
            "rows": 120,
            "natural_key": [uid, key, "created_at"],
            "columns": {
                "enrollment_id": pk("EN######", generated=True),
                key: {"type": "string", "references": f"{t}.{key}"},
                uid: {"type": "string", "references": f"{b.ut}.{uid}"},
                "status": enum(["enrolled", "completed", "dropped"], [0.45, 0.4, 0.15]),
                "created_at": when("2023-09-01 00:00:00", "2024-05-15 12:00:00"),
            },
        },
    )
    b.invariant(
        {
            "name": f"{t}_within_seats",
            "description": f"A {c.noun} never has more enrolled {un}s than seats.",
            "violations": f"SELECT x.{key}, x.seats FROM {t} x WHERE (SELECT COUNT(*) FROM {et} e WHERE e.{key} = x.{key} AND e.status = 'enrolled') > x.seats",
            "message": f"{c.noun.capitalize()} {{{key}}} is over its {{seats}} seats.",
            "scope": {t: key, et: key},
        }
    )
    left = (
        f"x.seats - (SELECT COUNT(*) FROM {et} e WHERE e.{key} = x.{key} AND e.status = 'enrolled')"
    )
    b.find_by_name(t, key, c.noun, "title")
    b.tool(
        f"list_{t}",
        {
            "description": f"List open {c.noun}s starting after today, optionally of one level, with seats left.",
            "params": {"level": {"type": "enum", "values": levels, "required": False}},
            "reads": [t, et],
            "returns": {
                "query": f"SELECT x.{key}, x.title, x.level, x.starts_on, {left} AS seats_left FROM {t} x WHERE x.status = 'open' AND x.starts_on > date(:now) AND (:level IS NULL OR x.level = :level) ORDER BY x.starts_on, x.{key}",
                "shape": "list",
            },
        },
    )
    b.tool(
        f"get_{c.key}",
        {
            "description": f"Get a {c.noun}: title, level, start date, prerequisite and seats left.",
            "params": {key: {"type": "string", "references": f"{t}.{key}"}},
            "reads": [t, et],
            "preconditions": [exists(t, key)],
            "returns": {
                "query": f"SELECT x.{key}, x.title, x.level, x.starts_on, x.prerequisite_id, x.status, {left} AS seats_left FROM {t} x WHERE x.{key} = :{key}"
            },
        },
    )
    b.tool(
        f"enroll_in_{c.key}",
        {
            "description": f"Enroll a {un} in an open {c.noun} that has seats, once its prerequisite is completed.",
            "params": {uid: b.user_param(), key: {"type": "string", "references": f"{t}.{key}"}},
            "reads": [b.ut, t, et],
            "writes": [et],
            "generate": {
                "enrollment_id": {"pattern": "EN######", "table": et, "column": "enrollment_id"}
            },
            "preconditions": [
                b.user_exists(),
                exists(t, key),
                {
                    "check": f"SELECT status = 'open', status FROM {t} WHERE {key} = :{key}",
                    "error": f"{c.noun.capitalize()} {{{key}}} is {{status}}.",
                },
                {
                    "check": f"SELECT starts_on > date(:now), starts_on FROM {t} WHERE {key} = :{key}",
                    "error": f"{c.noun.capitalize()} {{{key}}} started on {{starts_on}}.",
                },
                {
                    "check": f"SELECT {left} > 0 FROM {t} x WHERE x.{key} = :{key}",
                    "error": f"{c.noun.capitalize()} {{{key}}} is full.",
                },
                {
                    "check": f"SELECT NOT EXISTS (SELECT 1 FROM {et} WHERE {uid} = :{uid} AND {key} = :{key} AND status IN ('enrolled', 'completed'))",
                    "error": f"The {un} is already enrolled in or completed {{{key}}}.",
                },
                {
                    "check": sql(f"""
                SELECT x.prerequisite_id IS NULL OR EXISTS (SELECT 1 FROM {et} e WHERE e.{uid} = :{uid}
                  AND e.{key} = x.prerequisite_id AND e.status = 'completed'), x.prerequisite_id
                FROM {t} x WHERE x.{key} = :{key}
            """),
                    "error": f"The {un} must first complete {{prerequisite_id}}.",
                },
            ],
            "effects": [
                f"INSERT INTO {et} (enrollment_id, {key}, {uid}, status, created_at) VALUES (:enrollment_id, :{key}, :{uid}, 'enrolled', :now)"
            ],
            "returns": {
                "query": f"SELECT enrollment_id, {key}, status FROM {et} WHERE enrollment_id = :enrollment_id"
            },
        },
    )
    ep = {"enrollment_id": {"type": "string", "references": f"{et}.enrollment_id"}}
    b.tool(
        "drop_enrollment",
        {
            "description": f"Drop an enrollment; the seat goes back to the {c.noun}.",
            "params": ep,
            "reads": [et],
            "writes": [et],
            "preconditions": [
                exists(et, "enrollment_id"),
                {
                    "check": f"SELECT status = 'enrolled', status FROM {et} WHERE enrollment_id = :enrollment_id",
                    "error": "Enrollment {enrollment_id} is {status}.",
                },
            ],
            "effects": [f"UPDATE {et} SET status = 'dropped' WHERE enrollment_id = :enrollment_id"],
            "returns": {
                "query": f"SELECT enrollment_id, status FROM {et} WHERE enrollment_id = :enrollment_id"
            },
        },
    )
    b.rule(
        {
            "name": f"drop_{drop_days}_days_before_start",
            "tool": "drop_enrollment",
            "description": f"Enrollments cannot be dropped later than {drop_days} days before the {c.noun} starts.",
            "violated": f"SELECT x.starts_on < date(:now, '+{drop_days} days') FROM {et} e JOIN {t} x ON x.{key} = e.{key} WHERE e.enrollment_id = :enrollment_id",
            "explanation": f"The {c.noun} starts in less than {drop_days} days (or already started), so the enrollment can no longer be dropped.",
        }
    )
    b.tool(
        f"list_{b.user.key}_enrollments",
        {
            "description": f"List a {un}'s enrollments with {c.noun} titles.",
            "params": {uid: b.user_param()},
            "reads": [b.ut, et, t],
            "preconditions": [b.user_exists()],
            "returns": {
                "query": f"SELECT e.enrollment_id, e.{key}, x.title, e.status FROM {et} e JOIN {t} x ON x.{key} = e.{key} WHERE e.{uid} = :{uid} ORDER BY e.created_at DESC, e.enrollment_id",
                "shape": "list",
            },
        },
    )
    b.say(
        "Enrollments",
        f"{un.capitalize()}s enroll in open {c.noun}s that have not started and have seats, after completing the prerequisite; drops are allowed until {drop_days} days before the start.",
    )
