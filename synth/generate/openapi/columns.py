"""Schema fields -> typed columns with CHECKs and seeding hints; what cannot be a column is
reported. Nested objects flatten one level (``address.city`` -> ``address_city``); arrays of
objects become child tables (``infer``); maps and arrays of scalars are reported and left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from engine.spec import Column
from synth.generate.openapi.model import Field
from synth.generate.openapi.naming import column_name, snake

MAX_COLUMNS = 10
ID_FIELDS = {"id", "kind", "etag", "self_link", "resource_name", "uid"}
DT_FORMATS = {"date-time", "google-datetime"}
INT_FORMATS = {"int32", "int64", "uint32", "uint64"}
NUM_FORMATS = {"double", "float", "decimal"}
PROSE = re.compile(
    r"(^|_)(description|notes?|comment|body|content|message|text|snippet|summary|details)$"
)
NOW = "2024-05-15 15:00:00"
TIMEZONES = (
    "America/New_York",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Paris",
    "Asia/Tokyo",
    "Australia/Sydney",
    "UTC",
)


@dataclass
class ColumnPlan:
    name: str
    column: Column
    field: Field
    writable: bool  # clients may set it (not read-only)
    status: bool = False  # a lifecycle state enum


def _enum_values(f: Field) -> list[str]:
    vals = [v for v in f.enum or [] if v and not v.upper().endswith("UNSPECIFIED")]
    out: list[str] = []
    for v in vals:
        if v not in out and len(v) <= 60:
            out.append(v)
    return out


def _is_identifier(f: Field, name: str) -> bool:
    if name in ID_FIELDS or name.endswith("_link"):
        return True
    d = f.description.lower()
    return name == "name" and ("resource name" in d or d.startswith("identifier") or "format:" in d)


def field_problem(f: Field, name: str) -> str | None:
    """Why a field is not a column (None: it is one)."""
    if _is_identifier(f, name):
        return "identifier field: the table's own key replaces it"
    if f.is_map:
        return "free-form map (additionalProperties) is not a column"
    if f.kind == "array":
        return f"array of {f.items_kind or 'values'} is not a column"
    if f.kind in ("oneOf", "anyOf", "any"):
        return f"{f.kind} schema has no single column type"
    if f.kind == "string" and f.format in ("byte", "binary", "google-fieldmask"):
        return f"{f.format} strings are not seeded"
    if f.kind == "object":
        return "object without scalar properties"
    return None


def column_for(f: Field, name: str, table: str) -> ColumnPlan | None:
    """The column of one scalar field, or None if the field has no column type."""
    desc = f.description[:300]
    nullable = not f.required
    kw: dict[str, Any] = {"description": desc, "nullable": nullable}
    fmt = f.format or ""
    values = _enum_values(f) if f.enum else []
    status = False
    if f.enum and values:
        col = Column(type="enum", values=values, **kw)
        status = bool(re.search(r"(^|_)(state|status|lifecycle_state)$", name))
    elif f.kind == "boolean":
        col = Column(type="boolean", **kw)
    elif f.kind == "integer" or (f.kind == "string" and fmt in INT_FORMATS):
        lo, hi = _bounds(f, name, 0, 1000)
        col = Column(type="integer", minimum=lo, maximum=hi, check=_range_check(name, f), **kw)
    elif f.kind == "number" or (f.kind == "string" and fmt in NUM_FORMATS):
        lo, hi = _bounds(f, name, 0, 1000)
        col = Column(type="decimal", minimum=lo, maximum=hi, check=_range_check(name, f), **kw)
    elif f.kind == "string" and (
        fmt in DT_FORMATS
        or re.search(r"(_time|_at|timestamp)$", name)
        or re.search(r"rfc ?3339|timestamp", f.description.lower())
    ):
        col = Column(type="datetime", min_value="2023-01-01 00:00:00", max_value=NOW, **kw)
    elif f.kind == "string" and fmt == "date":
        col = Column(type="date", min_value="2023-01-01", max_value="2025-12-31", **kw)
    elif f.kind == "string":
        long = bool(PROSE.search(name))
        cap = min(f.max_length or (500 if long else 120), 2000)
        check = f"length({name}) <= {cap}" if f.max_length else None
        if f.min_length:
            check = (check + " AND " if check else "") + f"length({name}) >= {f.min_length}"
        col = Column(
            type="text" if long else "string",
            max_length=cap,
            check=check,
            faker=_hint(f, name, table),
            match="semantic" if long else "exact",
            **kw,
        )
    else:
        return None
    return ColumnPlan(name, col, f, writable=not f.read_only, status=status)


def _bounds(f: Field, name: str, lo: float, hi: float) -> tuple[float, float]:
    if re.search(r"(percent|ratio)", name):
        lo, hi = 0, 100
    low = f.minimum if f.minimum is not None and abs(f.minimum) < 1e12 else lo
    high = f.maximum if f.maximum is not None and abs(f.maximum) < 1e12 else max(hi, low + 10)
    return low, high


def _range_check(name: str, f: Field) -> str | None:
    parts = []
    if f.minimum is not None and abs(f.minimum) < 1e12:
        parts.append(f"{name} >= {f.minimum:g}")
    if f.maximum is not None and abs(f.maximum) < 1e12:
        parts.append(f"{name} <= {f.maximum:g}")
    return " AND ".join(parts) or None


def _hint(f: Field, name: str, table: str) -> Any:
    """Seeding from the format, the example or the name (the seeder guesses the rest)."""
    by_format = {
        "email": "email",
        "uri": "url",
        "url": "url",
        "uuid": "uuid4",
        "ipv4": "ipv4",
        "ipv6": "ipv6",
        "hostname": "domain_name",
        "password": "password",
    }
    if f.format in by_format:
        return {"provider": by_format[f.format]}
    tokens = set(name.split("_"))
    for keys, provider in (
        ({"url", "uri", "link", "website", "homepage"}, "url"),
        ({"phone"}, "phone_number"),
        ({"country", "region"}, "country_code"),
        ({"currency"}, "currency_code"),
        ({"language", "locale"}, "language_code"),
        ({"color", "colour"}, "hex_color"),
        ({"mime"}, "mime_type"),
        ({"filename"}, "file_name"),
        ({"title", "subject", "label", "headline"}, "catch_phrase"),
    ):
        if tokens & keys:
            return {"provider": provider}
    if tokens & {"timezone", "tz"} or name.endswith("time_zone"):
        return {"choices": list(TIMEZONES)}
    if name == "display_name" or name == "name":
        person = re.search(
            r"(user|person|people|member|contact|student|teacher|customer|owner|author|employee|guardian)",
            table,
        )
        return {"provider": "name" if person else "catch_phrase"}
    return None


def plan_columns(
    fields: list[Field], table: str, taken: set[str]
) -> tuple[list[ColumnPlan], list[tuple[Field, str]]]:
    """Columns of a table from its fields (objects flattened one level), capped at MAX_COLUMNS
    by relevance; the rest come back as (field, reason)."""
    cands: list[ColumnPlan] = []
    dropped: list[tuple[Field, str]] = []
    for f in fields:
        base = column_name(f.name)
        if f.kind == "object" and not f.is_map and f.children:
            for c in f.children:
                name = column_name(f"{snake(f.name)}_{c.name}")
                problem = (
                    field_problem(c, column_name(c.name))
                    if c.kind != "object"
                    else "nested object below the first level"
                )
                plan = None if problem else column_for(c, name, table)
                if plan is None:
                    dropped.append((c, problem or "no column type"))
                else:
                    plan.writable = plan.writable and not f.read_only
                    cands.append(plan)
            continue
        problem = field_problem(f, base)
        plan = None if problem else column_for(f, base, table)
        if plan is None:
            dropped.append((f, problem or "no column type"))
        else:
            cands.append(plan)
    order = sorted(range(len(cands)), key=lambda i: (-_relevance(cands[i]), i))
    keep: list[ColumnPlan] = []
    for i in order:
        p = cands[i]
        if p.name in taken or len(p.name) > 48:
            dropped.append((p.field, f"column name '{p.name}' is already used"))
        elif len(keep) >= MAX_COLUMNS:
            dropped.append((p.field, f"more than {MAX_COLUMNS} columns: kept the most relevant"))
        else:
            taken.add(p.name)
            keep.append(p)
    keep.sort(key=lambda p: cands.index(p))
    if sum(p.status for p in keep) > 1:  # one lifecycle state per table
        first = next(p for p in keep if p.status)
        for p in keep:
            p.status = p is first
    return keep, dropped


def _relevance(p: ColumnPlan) -> int:
    """What a person would look at first: the state, the name, required and top-level
    fields, times; not deprecated or nested bookkeeping."""
    f, score = p.field, 0
    nested = f.where.count("/properties/") > 1 or p.name != column_name(f.name)
    desc = f.description.lower()
    if f.required:
        score += 8
    if p.status:
        score += 12
    if p.column.type == "enum":
        score += 4
    if re.fullmatch(r"(name|title|summary|subject|display_name|email|label)", p.name):
        score += 8
    elif re.search(r"(name|title|email)", p.name):
        score += 3
    if re.search(r"(start|end|due|time|date)", p.name) and p.column.type in ("datetime", "date"):
        score += 5
    if p.column.type in ("integer", "decimal"):
        score += 2
    if re.fullmatch(r"(status|state|description|location|notes|priority|type|kind)", p.name):
        score += 2
    if p.writable:
        score += 3
    score += -1 if nested else 2
    if "deprecated" in desc or desc.startswith("reserved"):
        score -= 12
    return score
