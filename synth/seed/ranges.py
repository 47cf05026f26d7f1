"""Seeding ranges: numbers from minimum/maximum or the column's own CHECKs, dates in windows.

A CHECK such as ``rating BETWEEN 1 AND 5`` or ``price > 0`` narrows the range a column is
drawn from, so simple rules hold by construction and redraws stay rare. Dates never come
from the wall clock: a column without min_value/max_value gets the year before ``spec.now``.
"""

from __future__ import annotations

import datetime as dt
import math
import random

import sqlglot
from sqlglot import exp

from engine.spec.models import Column

DEFAULT_DAYS = 365  # a date column without a range is drawn from the year before spec.now


def _number(node: exp.Expression) -> float | None:
    neg = isinstance(node, exp.Neg)
    if neg:
        node = node.this
    if isinstance(node, exp.Literal) and not node.is_string:
        v = float(node.this)
        return -v if neg else v
    return None


def _col_name(node: exp.Expression) -> str | None:
    return node.name if isinstance(node, exp.Column) else None


def check_bounds(cname: str, checks: list[str]) -> tuple[float | None, float | None, list | None]:
    """(low, high, allowed values) that simple CHECKs on one column imply (strict -> open)."""
    lo: float | None = None
    hi: float | None = None
    allowed: list | None = None
    eps = 1e-6  # strict bounds: just inside (numeric_range snaps to the column's grid)
    for text in checks:
        try:
            tree = sqlglot.parse_one(text, read="sqlite")
        except Exception:  # noqa: BLE001 - an unparsable check is just not used for ranges
            continue
        parts = list(tree.flatten()) if isinstance(tree, exp.And) else [tree]
        for node in parts:
            if isinstance(node, exp.Between) and _col_name(node.this) == cname:
                a, b = _number(node.args["low"]), _number(node.args["high"])
                lo = a if a is not None and (lo is None or a > lo) else lo
                hi = b if b is not None and (hi is None or b < hi) else hi
            elif isinstance(node, exp.In) and _col_name(node.this) == cname:
                vals = [
                    e.this if e.is_string else _number(e)
                    for e in node.expressions
                    if isinstance(e, exp.Literal)
                ]
                allowed = vals or allowed
            elif isinstance(node, exp.GT | exp.GTE | exp.LT | exp.LTE):
                left, right = node.this, node.expression
                flip = _col_name(right) == cname and _number(left) is not None
                if not flip and not (_col_name(left) == cname and _number(right) is not None):
                    continue
                k = _number(left if flip else right)
                assert k is not None
                kind = type(node)
                if flip:  # 0 < x  ==  x > 0
                    kind = {exp.GT: exp.LT, exp.GTE: exp.LTE, exp.LT: exp.GT, exp.LTE: exp.GTE}[
                        kind
                    ]
                if kind in (exp.GT, exp.GTE):
                    v = k + (eps if kind is exp.GT else 0)
                    lo = v if lo is None or v > lo else lo
                else:
                    v = k - (eps if kind is exp.LT else 0)
                    hi = v if hi is None or v < hi else hi
    return lo, hi, allowed


def numeric_range(col: Column, cname: str, checks: list[str]) -> tuple[float, float]:
    """Seeding range: the column's minimum/maximum, narrowed by its simple CHECKs."""
    clo, chi, _ = check_bounds(cname, checks)
    dlo, dhi = (0.0, 1000.0) if col.type == "integer" else (1.0, 1000.0)
    lo = col.minimum if col.minimum is not None else clo if clo is not None else None
    hi = col.maximum if col.maximum is not None else chi if chi is not None else None
    if lo is None and hi is None:
        lo, hi = dlo, dhi
    elif lo is None:
        lo = min(dlo, hi) if hi >= dlo else hi - 1000  # type: ignore[operator]
    elif hi is None:
        hi = max(dhi, lo + 1000) if lo < dhi else lo + 1000
    step = 1.0 if col.type == "integer" else 10.0**-col.scale
    qlo = math.ceil(lo / step - 1e-7) * step  # the first grid point >= lo (strict: > bound)
    qhi = math.floor(hi / step + 1e-7) * step
    if col.type == "integer":
        return float(int(qlo)), float(int(max(qlo, qhi)))
    return round(qlo, col.scale), round(max(qlo, qhi), col.scale)


def _parse_when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.strip().replace("T", " "))


def date_range(col: Column, now: str) -> tuple[dt.datetime, dt.datetime]:
    """[min_value, max_value]; missing ends default to a year ending at ``spec.now``."""
    lo = _parse_when(col.min_value) if col.min_value else None
    hi = _parse_when(col.max_value) if col.max_value else None
    year = dt.timedelta(days=DEFAULT_DAYS)
    if hi is None:
        hi = (
            max(_parse_when(now), lo + year)
            if lo is not None and lo > _parse_when(now)
            else _parse_when(now)
        )
    if lo is None:
        lo = hi - year
    return lo, max(lo, hi)


def draw_dates(rng: random.Random, col: Column, now: str, n: int) -> list[str]:
    """Uniform dates ('YYYY-MM-DD') or datetimes ('YYYY-MM-DD HH:MM:SS') inside the range."""
    lo, hi = date_range(col, now)
    rnd = rng.random
    days: dict[int, str] = {}  # day offset -> text, built on demand (str() of a date is slow)

    def day(k: int) -> str:
        text = days.get(k)
        if text is None:
            text = days[k] = str(lo.date() + dt.timedelta(days=k))
        return text

    if col.type == "date":
        span = (hi.date() - lo.date()).days + 1
        return [day(int(rnd() * span)) for _ in range(n)]
    start = lo.hour * 3600 + lo.minute * 60 + lo.second  # seconds into lo's day
    span = int((hi - lo).total_seconds()) + 1
    out: list[str] = []
    add = out.append
    for _ in range(n):
        d, sec = divmod(start + int(rnd() * span), 86400)
        minute, s = divmod(sec, 60)
        add(day(d) + _HOUR_MINUTE[minute] + _SECOND[s])
    return out


_HOUR_MINUTE = [f" {h:02d}:{m:02d}:" for h in range(24) for m in range(60)]  # " HH:MM:"
_SECOND = [f"{s:02d}" for s in range(60)]
