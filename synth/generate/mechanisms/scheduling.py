"""Staff scheduling with qualifications: shifts that need a skill, staff who hold it.

Back-office work (every tool's audience is staff): assign a qualified, active staff member
to an open shift without overlapping their other shifts. Seed choices: shift length, skills.
"""

from __future__ import annotations

from typing import Any

from synth.generate.builder import Builder, enum, exists, pk, when

NAME = "scheduling"
REQUIRES: tuple[str, ...] = ("accounts",)


def apply(b: Builder, params: dict[str, Any]) -> None:
    rng = b.rng(NAME)
    skills = params.get("skills") or rng.choice(
        [
            ["front_desk", "specialist", "supervisor"],
            ["driver", "technician", "dispatcher"],
            ["cashier", "floor", "manager"],
        ]
    )
    hours = rng.choice([4, 6, 8])
    staff, shifts, quals = "staff", "shifts", "qualifications"
    b.table(
        staff,
        {
            "description": "People who work shifts.",
            "rows": 20,
            "columns": {
                "staff_id": pk("EM####"),
                "name": {"type": "string", "max_length": 80, "faker": {"provider": "name"}},
                "status": enum(["active", "on_leave"], [0.9, 0.1]),
            },
        },
    )
    b.table(
        quals,
        {
            "description": "Which skills a staff member is qualified for, until when.",
            "rows": 40,
            "natural_key": ["staff_id", "skill"],
            "unique": [["staff_id", "skill"]],
            "columns": {
                "qualification_id": pk("QL#####"),
                "staff_id": {
                    "type": "string",
                    "references": f"{staff}.staff_id",
                    "on_delete": "cascade",
                },
                "skill": enum(skills),
                "valid_until": when("2024-03-01", "2025-12-31", exempt=False),
            },
        },
    )
    b.table(
        shifts,
        {
            "description": f"{hours}-hour shifts that need one qualified person.",
            "rows": 80,
            "columns": {
                "shift_id": pk("SF#####"),
                "skill": enum(skills),
                "starts_at": when("2024-05-01 06:00:00", "2024-06-15 18:00:00", exempt=False),
                "staff_id": {
                    "type": "string",
                    "references": f"{staff}.staff_id",
                    "nullable": True,
                    "faker": {"null_fraction": 0.5},
                },
            },
        },
    )
    sp = {"shift_id": {"type": "string", "references": f"{shifts}.shift_id"}}
    b.tool(
        "list_open_shifts",
        {
            "description": "Upcoming shifts nobody is assigned to, optionally needing one skill (back office).",
            "audience": "staff",
            "params": {"skill": {"type": "enum", "values": skills, "required": False}},
            "reads": [shifts],
            "returns": {
                "query": f"SELECT shift_id, skill, starts_at FROM {shifts} WHERE staff_id IS NULL AND starts_at > :now AND (:skill IS NULL OR skill = :skill) ORDER BY starts_at, shift_id LIMIT 30",
                "shape": "list",
            },
        },
    )
    b.tool(
        "get_staff_member",
        {
            "description": "A staff member with their qualifications (back office).",
            "audience": "staff",
            "params": {"staff_id": {"type": "string", "references": f"{staff}.staff_id"}},
            "reads": [staff, quals],
            "preconditions": [exists(staff, "staff_id")],
            "returns": {
                "query": f"SELECT s.staff_id, s.name, s.status, (SELECT json_group_array(json_object('skill', q.skill, 'valid_until', q.valid_until)) FROM (SELECT skill, valid_until FROM {quals} WHERE staff_id = s.staff_id ORDER BY skill) q) AS qualifications FROM {staff} s WHERE s.staff_id = :staff_id",
                "json_columns": ["qualifications"],
            },
        },
    )
    b.tool(
        "assign_shift",
        {
            "description": "Assign an open upcoming shift to an active staff member qualified for its skill, without overlapping their other shifts (back office).",
            "audience": "staff",
            "params": {**sp, "staff_id": {"type": "string", "references": f"{staff}.staff_id"}},
            "reads": [shifts, staff, quals],
            "writes": [shifts],
            "preconditions": [
                exists(shifts, "shift_id"),
                {
                    "check": f"SELECT staff_id IS NULL FROM {shifts} WHERE shift_id = :shift_id",
                    "error": "Shift {shift_id} is already assigned.",
                },
                {
                    "check": f"SELECT starts_at > :now, starts_at FROM {shifts} WHERE shift_id = :shift_id",
                    "error": "Shift {shift_id} started at {starts_at}.",
                },
                exists(staff, "staff_id"),
                {
                    "check": f"SELECT status = 'active', status FROM {staff} WHERE staff_id = :staff_id",
                    "error": "Staff member {staff_id} is {status}.",
                },
                {
                    "check": f"SELECT EXISTS (SELECT 1 FROM {quals} q JOIN {shifts} f ON f.skill = q.skill WHERE f.shift_id = :shift_id AND q.staff_id = :staff_id AND q.valid_until >= date(f.starts_at))",
                    "error": "Staff member {staff_id} is not qualified for this shift.",
                },
                {
                    "check": f"SELECT NOT EXISTS (SELECT 1 FROM {shifts} o, {shifts} f WHERE f.shift_id = :shift_id AND o.staff_id = :staff_id AND o.shift_id <> f.shift_id AND o.starts_at < datetime(f.starts_at, '+{hours} hours') AND f.starts_at < datetime(o.starts_at, '+{hours} hours'))",
                    "error": "Staff member {staff_id} already works then.",
                },
            ],
            "effects": [f"UPDATE {shifts} SET staff_id = :staff_id WHERE shift_id = :shift_id"],
            "returns": {
                "query": f"SELECT shift_id, staff_id FROM {shifts} WHERE shift_id = :shift_id"
            },
        },
    )
    b.tool(
        "unassign_shift",
        {
            "description": "Take a staff member off an upcoming shift (back office).",
            "audience": "staff",
            "params": sp,
            "reads": [shifts],
            "writes": [shifts],
            "preconditions": [
                exists(shifts, "shift_id"),
                {
                    "check": f"SELECT staff_id IS NOT NULL FROM {shifts} WHERE shift_id = :shift_id",
                    "error": "Shift {shift_id} has nobody assigned.",
                },
                {
                    "check": f"SELECT starts_at > :now, starts_at FROM {shifts} WHERE shift_id = :shift_id",
                    "error": "Shift {shift_id} started at {starts_at}.",
                },
            ],
            "effects": [f"UPDATE {shifts} SET staff_id = NULL WHERE shift_id = :shift_id"],
            "returns": {
                "query": f"SELECT shift_id, staff_id FROM {shifts} WHERE shift_id = :shift_id"
            },
        },
    )
    b.say(
        "Staff scheduling (back office)",
        f"Shifts last {hours} hours and need a staff member qualified for their skill on the day of the shift.",
    )
