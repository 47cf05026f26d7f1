"""Tool argument validation, compiled once per tool into plain closures (no jsonschema per call).

The rules are the JSON Schema that ``engine.toolschema.tools`` publishes for a ``Param``, checked
strictly: ``bool`` is not an integer, an integral float is not an integer, NaN and infinity
are no numbers, strings never hold NUL or lone surrogates and are at most 10,000 characters
unless the spec says otherwise, dates and datetimes must have exactly the SQLite text form.
Every message names the argument: ``'quantity' must be an integer ≥ 1, got -2``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from engine.spec.models import DATE_FMT, DATETIME_FMT, Param

DEFAULT_MAX_LENGTH = 10_000
INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # what SQLite can store
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME_RE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")

Check = Callable[[Any], Any]  # returns the value to bind, raises ArgError


class ArgError(ValueError):
    """An argument does not fit its parameter; ``str(err)`` is the message for the agent."""


def show(value: Any, limit: int = 60) -> str:
    """A short, safe rendering of an agent-supplied value for an error message."""
    if isinstance(value, str):
        text = repr(value[: limit + 1])
    elif isinstance(value, bool | int | float) or value is None:
        text = repr(value)
    else:
        text = f"{type(value).__name__} {value!r}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "array",
        dict: "object",
    }.get(type(value), type(value).__name__)


def _range_text(p: Param) -> str:
    lo, hi = p.minimum, p.maximum
    fmt = lambda x: str(int(x)) if float(x).is_integer() else str(x)  # noqa: E731
    if lo is not None and hi is not None:
        return f" between {fmt(lo)} and {fmt(hi)}"
    if lo is not None:
        return f" ≥ {fmt(lo)}"
    return f" ≤ {fmt(hi)}" if hi is not None else ""


def _number_check(name: str, p: Param, integer: bool) -> Check:
    lo, hi = p.minimum, p.maximum
    what = ("an integer" if integer else "a number") + _range_text(p)

    def check(v: Any) -> Any:
        t = type(v)
        if t is int:
            if not INT_MIN <= v <= INT_MAX:
                raise ArgError(f"{name!r} must be {what}, got {show(v)} (out of range)")
        elif t is float and not integer:
            if not math.isfinite(v):
                raise ArgError(f"{name!r} must be a finite number, got {show(v)}")
        else:
            got = f"{_kind(v)} {show(v)}" if t is not float else show(v)
            raise ArgError(f"{name!r} must be {what}, got {got}")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise ArgError(f"{name!r} must be {what}, got {show(v)}")
        return v

    return check


def _string_check(name: str, p: Param) -> Check:
    lo = p.min_length or 0
    hi = p.max_length or DEFAULT_MAX_LENGTH
    pattern = re.compile(p.pattern) if p.pattern else None

    def check(v: Any) -> Any:
        if type(v) is not str:
            raise ArgError(f"{name!r} must be a string, got {_kind(v)} {show(v)}")
        n = len(v)
        if n > hi:
            raise ArgError(f"{name!r} must be at most {hi} characters, got {n}")
        if n < lo:
            raise ArgError(
                f"{name!r} must be at least {lo} character{'s' if lo != 1 else ''}, got {show(v)}"
            )
        if "\x00" in v:
            raise ArgError(f"{name!r} must not contain NUL characters")
        if not v.isascii():
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                raise ArgError(f"{name!r} is not valid Unicode text (lone surrogate)") from None
        if pattern is not None and pattern.search(v) is None:
            raise ArgError(f"{name!r} must match {p.pattern}, got {show(v)}")
        return v

    return check


def _time_check(name: str, p: Param) -> Check:
    is_date = p.type == "date"
    rx, fmt = (_DATE_RE, DATE_FMT) if is_date else (_DATETIME_RE, DATETIME_FMT)
    example = "2024-05-15 (YYYY-MM-DD)" if is_date else "2024-05-15 14:30:00 (YYYY-MM-DD HH:MM:SS)"

    def check(v: Any) -> Any:
        if type(v) is not str or rx.fullmatch(v) is None:
            raise ArgError(f"{name!r} must be a {p.type} like {example}, got {show(v)}")
        try:
            datetime.strptime(v, fmt)
        except ValueError:
            raise ArgError(f"{name!r} is not a real {p.type}: {show(v)}") from None
        return v

    return check


def _enum_check(name: str, p: Param) -> Check:
    values = list(p.values or [])
    allowed = {(type(x), x) for x in values}
    listing = ", ".join(repr(x) for x in values[:20]) + (" …" if len(values) > 20 else "")

    def check(v: Any) -> Any:
        try:
            ok = (type(v), v) in allowed
        except TypeError:  # unhashable (a list or dict)
            ok = False
        if not ok:
            raise ArgError(f"{name!r} must be one of {listing}; got {show(v)}")
        return v

    return check


def _bool_check(name: str) -> Check:
    def check(v: Any) -> Any:
        if type(v) is not bool:
            raise ArgError(f"{name!r} must be true or false, got {_kind(v)} {show(v)}")
        return v

    return check


def _object_fields(name: str, p: Param) -> Check:
    """An object's fields checked like params (unknown ones refused): the dict to bind."""
    fields = dict(p.properties or {})
    checks = {f: param_check(f"{name}.{f}", fp) for f, fp in fields.items()}
    required = [f for f, fp in fields.items() if fp.required]
    known = ", ".join(fields)

    def check(v: Any) -> Any:
        if type(v) is not dict:
            raise ArgError(f"{name!r} must be an object, got {_kind(v)} {show(v)}")
        for f in required:
            if f not in v:
                raise ArgError(f"{name!r} is missing its field {f!r}")
        extra = [k for k in v if k not in fields]
        if extra:
            raise ArgError(f"{name!r} has an unknown field {show(extra[0])} (fields: {known})")
        return {f: checks[f](x) if x is not None or f in required else None for f, x in v.items()}

    return check


def _object_check(name: str, p: Param) -> Check:
    fields = _object_fields(name, p)
    return lambda v: json.dumps(fields(v), ensure_ascii=False, separators=(",", ":"))


def _element_check(name: str, p: Param) -> Check:
    """An array element: an object stays a dict (the array is bound as one JSON text)."""
    return _object_fields(name, p) if p.type == "object" else param_check(name, p)


def _array_check(name: str, p: Param) -> Check:
    assert p.items is not None
    item_checks = [_element_check(f"{name}[{i}]", p.items) for i in range(p.max_items or 0)]
    lo, hi, unique = p.min_items or 0, p.max_items, p.unique_items
    items = p.items

    def check(v: Any) -> Any:
        if type(v) is not list:
            raise ArgError(f"{name!r} must be an array, got {_kind(v)} {show(v)}")
        n = len(v)
        if hi is not None and n > hi:
            raise ArgError(f"{name!r} must have at most {hi} item{'s' if hi != 1 else ''}, got {n}")
        if n < lo:
            raise ArgError(
                f"{name!r} must have at least {lo} item{'s' if lo != 1 else ''}, got {n}"
            )
        if n > DEFAULT_MAX_LENGTH:
            raise ArgError(f"{name!r} must have at most {DEFAULT_MAX_LENGTH} items, got {n}")
        out = []
        for i, x in enumerate(v):
            c = item_checks[i] if i < len(item_checks) else _element_check(f"{name}[{i}]", items)
            out.append(c(x))
        if unique and len({json.dumps(x, sort_keys=True) for x in out}) != n:
            raise ArgError(f"{name!r} must not repeat items, got {show(v)}")
        return json.dumps(out, ensure_ascii=False, separators=(",", ":"))

    return check


def param_check(name: str, p: Param) -> Check:
    """A closure validating one value for ``p`` and returning what to bind."""
    match p.type:
        case "integer":
            return _number_check(name, p, integer=True)
        case "number":
            return _number_check(name, p, integer=False)
        case "string":
            return _string_check(name, p)
        case "date" | "datetime":
            return _time_check(name, p)
        case "enum":
            return _enum_check(name, p)
        case "boolean":
            return _bool_check(name)
        case "array":
            return _array_check(name, p)
        case "object":
            return _object_check(name, p)
    raise AssertionError(p.type)


def default_bind(p: Param) -> Any:
    """What an omitted optional parameter binds: its default (arrays as JSON), else NULL."""
    if p.default is None:
        return None
    if p.type in ("array", "object"):
        return json.dumps(p.default, ensure_ascii=False, separators=(",", ":"))
    return p.default


def parse_args(args: Any) -> dict[str, Any]:
    """Arguments as a dict: a dict as is, a JSON object text parsed (an OpenAI tool call)."""
    if args is None:
        return {}
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except (ValueError, RecursionError) as exc:
            raise ArgError(f"arguments are not valid JSON: {str(exc)[:80]}") from None
    if not isinstance(args, dict):
        raise ArgError(f"arguments must be a JSON object of named values, got {_kind(args)}")
    return args


def compile_params(params: dict[str, Param]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """One validator for a whole parameter set: returns the bind dict or raises ArgError."""
    required = [(n, param_check(n, p)) for n, p in params.items() if p.required]
    optional = [
        (n, param_check(n, p), default_bind(p)) for n, p in params.items() if not p.required
    ]
    known = ", ".join(params) or "none"

    def validate(args: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        seen = 0
        for n, check in required:
            if n not in args:
                raise ArgError(f"missing required argument {n!r}")
            out[n] = check(args[n])
            seen += 1
        for n, check, default in optional:
            if n in args and args[n] is not None:
                out[n] = check(args[n])
                seen += 1
            else:
                seen += n in args
                out[n] = default
        if seen != len(args):
            extra = [k for k in args if k not in params]
            raise ArgError(f"unknown argument {show(extra[0])} (parameters: {known})")
        return out

    return validate
