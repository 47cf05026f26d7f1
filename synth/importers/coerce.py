"""One imported value -> the value the seeder would have stored, or the reason it is refused.

The stored forms are the seeder's (integers as int, decimals as float, booleans as 0/1,
dates and datetimes as ISO text, JSON as compact JSON text), so a world imported from its
own exported rows is byte-identical to the seeded one. ``textual`` values (CSV fields,
SQLite text) are parsed; JSON values are taken as data (a dict for a json column is data,
a string is a JSON string).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from engine.spec.kinds import DATE_FMT, DATETIME_FMT, to_bool, to_decimal
from engine.spec.models import Column

NULL_TEXT = "\\N"


class Refused(ValueError):
    """A value the column cannot hold (the message says why)."""


def json_text(value: Any) -> str:
    """Compact JSON as SQLite's json() writes it (key order kept, UTF-8 kept)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def coerce(col: Column, value: Any, *, textual: bool) -> Any:
    """``value`` as ``col`` stores it (None is NULL); ``Refused`` names the problem."""
    if textual and value == NULL_TEXT:
        value = None
    if textual and value == "" and col.type not in ("string", "text", "enum"):
        value = None
    if value is None:
        if col.nullable:
            return None
        raise Refused("NULL in a NOT NULL column")
    kind = col.type
    if kind == "json":
        if textual and isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise Refused(f"not JSON text ({exc.msg})") from None
        try:
            return json_text(value)
        except (TypeError, ValueError) as exc:
            raise Refused(f"not JSON data ({exc})") from None
    if isinstance(value, dict | list):
        raise Refused(f"a {type(value).__name__} in a {kind} column")
    if kind == "boolean":
        b = to_bool(value)
        if b is None:
            raise Refused(f"{value!r} is not a boolean")
        return int(b)
    if kind == "integer":
        if isinstance(value, bool):
            raise Refused(f"{value!r} is not an integer")
        d = to_decimal(value)
        if d is None or d != d.to_integral_value():
            raise Refused(f"{value!r} is not an integer")
        return int(d)
    if kind == "decimal":
        if isinstance(value, bool):
            raise Refused(f"{value!r} is not a number")
        if isinstance(value, int | float):
            return float(value)
        d = to_decimal(value)
        if d is None:
            raise Refused(f"{value!r} is not a number")
        return float(d)
    if isinstance(value, bool):
        raise Refused(f"{value!r} is not text")
    text = value if isinstance(value, str) else str(value)
    if kind == "date":
        _parse(text, DATE_FMT, "YYYY-MM-DD")
    elif kind == "datetime":
        text = text.replace("T", " ", 1)
        _parse(text, DATETIME_FMT, "YYYY-MM-DD HH:MM:SS")
    elif kind == "enum" and text not in (col.values or []):
        raise Refused(f"{text!r} is not one of {col.values}")
    if col.max_length is not None and len(text) > col.max_length:
        raise Refused(f"{len(text)} characters, more than max_length {col.max_length}")
    return text


def _parse(text: str, fmt: str, words: str) -> None:
    try:
        ok = datetime.strptime(text, fmt).strftime(fmt) == text
    except ValueError:
        ok = False
    if not ok:
        raise Refused(f"{text!r} is not {words}")
