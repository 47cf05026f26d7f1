"""One registry of column and param kinds: what each type means everywhere.

A column type decides its SQL type, its JSON schema in tool results, its canonical form
under the ``exact`` match policy and the text format of its values; a param type decides
its JSON schema, the words that describe its format and the format the runtime checks.
Modules ask the registry (``column_kind(col).numeric``, ``param_kind(p).json_type``)
instead of comparing type names, so adding a type means adding one entry here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:
    from engine.spec.models import Column, Param

DATE_FMT = "%Y-%m-%d"
DATETIME_FMT = "%Y-%m-%d %H:%M:%S"  # the format of SQLite's datetime(): comparable as text
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
DATETIME_PATTERN = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"

_TRUE = {"1", "true", "t", "yes", "y"}
_FALSE = {"0", "false", "f", "no", "n", ""}


def to_decimal(value: Any, scale: int | None = None) -> Decimal | None:
    """``value`` as a Decimal (via ``str`` so floats keep their shortest form), rounded
    half-up to ``scale`` digits when given; None if it is not a number."""
    if value is None or isinstance(value, bool):
        return Decimal(int(value)) if isinstance(value, bool) else None
    try:
        d = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        return None
    if not d.is_finite():
        return None
    if scale is not None:
        d = d.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
    return d


def to_bool(value: Any) -> bool | None:
    """0/1, True/False and their usual spellings as one bool; None if unrecognisable."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    text = str(value).strip().casefold()
    if text in _TRUE:
        return True
    return False if text in _FALSE else None


# ---- canonical forms (exact match) ----------------------------------------------------------
def _canon_text(col: Column, value: Any) -> Any:
    return ("str", str(value))


def _canon_decimal(col: Column, value: Any) -> Any:
    d = to_decimal(value, col.scale)
    return ("num", d) if d is not None else ("str", str(value))


def _canon_integer(col: Column, value: Any) -> Any:
    d = to_decimal(value)
    if d is not None and d == d.to_integral_value():
        return ("num", int(d))
    return ("str", str(value))


def _canon_boolean(col: Column, value: Any) -> Any:
    b = to_bool(value)
    return ("bool", b) if b is not None else ("str", str(value))


def _canon_datetime(col: Column, value: Any) -> Any:
    return ("str", str(value).strip().replace("T", " ", 1))


def _canon_json(col: Column, value: Any) -> Any:
    """Structural: JSON text parsed, object keys unordered, list order kept, numbers as
    decimals (1 and 1.0 are one value, 1 and "1" are not); text that is not JSON compares
    as text."""
    if isinstance(value, str):
        try:
            value = json.loads(value, parse_float=Decimal, parse_int=Decimal)
        except (ValueError, RecursionError):
            return ("str", value)
    return ("json", _json_form(value))


def _json_form(v: Any) -> Any:
    if isinstance(v, dict):
        return ("obj", tuple(sorted((str(k), _json_form(x)) for k, x in v.items())))
    if isinstance(v, list):
        return ("list", tuple(_json_form(x) for x in v))
    if isinstance(v, bool) or v is None:
        return ("lit", v)
    if isinstance(v, int | float | Decimal):
        return ("num", Decimal(str(v)))
    return ("str", str(v))


@dataclass(frozen=True)
class ColumnKind:
    """What a column type means to the schema, the reward and the builders."""

    name: str
    sql: Callable[[Column], sa.types.TypeEngine]  # the SQLAlchemy type (dates: ISO text)
    json_types: tuple[str, ...]  # JSON types of its values in tool results
    canonical: Callable[[Column, Any], Any]  # hashable form under the exact match policy
    numeric: bool = False
    temporal: bool = False
    discrete: bool = False  # few distinct values (enum, boolean): strata for sampling
    text_format: str | None = None  # strftime format of stored values (temporal kinds)


@dataclass(frozen=True)
class ParamKind:
    """What a param type means to argument checks and published tool schemas."""

    name: str
    json_type: str  # JSON Schema type ("enum" params: derived from their values)
    numeric: bool = False
    temporal: bool = False
    pattern: str | None = None  # the format the runtime checks, as a JSON Schema pattern
    json_format: str | None = None  # JSON Schema "format"
    format_words: str | None = None  # the format in words (strict schemas carry no pattern)
    text_format: str | None = None


COLUMN_KINDS: dict[str, ColumnKind] = {
    k.name: k
    for k in (
        ColumnKind("string", lambda c: sa.String(c.max_length or 255), ("string",), _canon_text),
        ColumnKind("text", lambda c: sa.Text(), ("string",), _canon_text),
        ColumnKind("integer", lambda c: sa.Integer(), ("integer",), _canon_integer, numeric=True),
        ColumnKind(
            "decimal",
            lambda c: sa.Numeric(c.precision, c.scale, asdecimal=False),
            ("number",),
            _canon_decimal,
            numeric=True,
        ),
        ColumnKind(
            "boolean",
            lambda c: sa.Boolean(create_constraint=False),
            ("boolean", "integer"),
            _canon_boolean,
            discrete=True,
        ),
        ColumnKind(
            "date",
            lambda c: sa.Date(),
            ("string",),
            _canon_text,
            temporal=True,
            text_format=DATE_FMT,
        ),
        ColumnKind(
            "datetime",
            lambda c: sa.DateTime(),
            ("string",),
            _canon_datetime,
            temporal=True,
            text_format=DATETIME_FMT,
        ),
        ColumnKind(
            "enum",
            lambda c: sa.String(max(len(v) for v in c.values or [""]) or 1),
            ("string",),
            _canon_text,
            discrete=True,
        ),
        # JSON as TEXT (a "JSON" column type would get NUMERIC affinity in SQLite); results
        # show it as text unless the query lists it in returns.json_columns
        ColumnKind("json", lambda c: sa.Text(), ("string",), _canon_json),
    )
}

PARAM_KINDS: dict[str, ParamKind] = {
    k.name: k
    for k in (
        ParamKind("string", "string"),
        ParamKind("integer", "integer", numeric=True),
        ParamKind("number", "number", numeric=True),
        ParamKind("boolean", "boolean"),
        ParamKind("enum", "string"),
        ParamKind(
            "date",
            "string",
            temporal=True,
            pattern=DATE_PATTERN,
            json_format="date",
            format_words="format YYYY-MM-DD",
            text_format=DATE_FMT,
        ),
        ParamKind(
            "datetime",
            "string",
            temporal=True,
            pattern=DATETIME_PATTERN,
            format_words="format YYYY-MM-DD HH:MM:SS",
            text_format=DATETIME_FMT,
        ),
        ParamKind("array", "array"),
        ParamKind("object", "object"),  # its 'properties' (scalars); bound as JSON text
    )
}


def column_kind(col: Column) -> ColumnKind:
    """The kind of a column (its ``type`` is validated against ``COLUMN_KINDS``)."""
    return COLUMN_KINDS[col.type]


def param_kind(param: Param) -> ParamKind:
    """The kind of a param (its ``type`` is validated against ``PARAM_KINDS``)."""
    return PARAM_KINDS[param.type]
