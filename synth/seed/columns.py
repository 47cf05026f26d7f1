"""One generator per non-FK column: how the seeder draws its values, and how many distinct.

The source of a column is, in order: its FakerHint (pattern, choices, provider; a ``sql``
fill gets a placeholder drawn by type), its ``default`` when it has no explicit range, its
type and name (integer keys 1..n, string keys ``CUS00001``, ranges from minimum/maximum or
the column's CHECKs, names/emails/cities... guessed from the column name).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from engine.spec.models import Column, DomainSpec, Entity
from synth.seed import ranges as R
from synth.seed import values as V

Draw = Callable[[random.Random, int], list[Any]]
NULL_FRACTION = 0.1  # nullable columns without a FakerHint
DEFAULT_WEIGHT = 0.6  # share of an enum/boolean column's default value


@dataclass
class ColumnGen:
    """``draw(rng, n)`` gives n values (distinct when ``unique``); ``capacity`` bounds n."""

    draw: Draw
    unique: bool = False
    capacity: int | None = None  # distinct values available (None: unbounded)
    domain: int | None = None  # distinct values it can ever draw (composite-unique caps)
    source: tuple[str, str, Any] = ("type", "", None)  # ('provider', name, args) for guesses


def column_checks(table: str, cname: str, entity: Entity) -> list[str]:
    """The CHECK texts that mention only this column (its own and table checks on it)."""
    out = [entity.columns[cname].check] if entity.columns[cname].check else []
    for chk in entity.checks:
        if R.check_bounds(cname, [chk.check]) != (None, None, None):
            out.append(chk.check)
    return [c for c in out if c]


def _choices(vals: list[Any], weights: list[float] | None, unique: bool) -> ColumnGen:
    if unique:
        distinct = list(dict.fromkeys(vals))
        return ColumnGen(lambda rng, n: rng.sample(distinct, n), True, len(distinct), len(distinct))
    if len(vals) == 1:
        only = vals[0]
        return ColumnGen(lambda rng, n: [only] * n, domain=1)
    cum = list(accumulate(weights)) if weights else None

    def draw(rng: random.Random, n: int) -> list[Any]:
        return rng.choices(vals, cum_weights=cum, k=n)

    return ColumnGen(draw, domain=len(set(map(repr, vals))))


def _pooled(
    seed: int, provider: str, args: dict, col: Column, n: int, unique: bool, where: str
) -> ColumnGen:
    problem = V.provider_problem(provider)
    if problem:
        raise V.SeedError(f"{where}: {problem}")
    max_length = col.max_length if col.type != "text" else None

    def draw(rng: random.Random, k: int) -> list[Any]:  # the pool is built on first use
        if provider == "name" and not args:  # first x last name: many more distinct people
            firsts = V.pool(seed, "first_name", {}, n)
            lasts = V.pool(seed, "last_name", {}, n)
            pairs = zip(rng.choices(firsts, k=k), rng.choices(lasts, k=k), strict=True)
            out = [f"{a} {b}"[:max_length] if max_length else f"{a} {b}" for a, b in pairs]
        else:
            out = rng.choices(V.pool(seed, provider, args, n, max_length), k=k)
        return V.make_unique(out, col.max_length) if unique else out

    return ColumnGen(draw, unique, None, None, ("provider", provider, args))


def _pattern(pattern: str, unique: bool) -> ColumnGen:
    pat = V.Pattern(pattern)
    cap = pat.capacity
    return ColumnGen(lambda rng, n: pat.draw(rng, n, unique), unique, cap if unique else None, cap)


def _numbers(col: Column, cname: str, checks: list[str], unique: bool) -> ColumnGen:
    lo, hi = R.numeric_range(col, cname, checks)
    if col.type == "integer":
        ilo, span = int(lo), int(hi) - int(lo) + 1
        if unique:
            return ColumnGen(
                lambda rng, n: sorted(rng.sample(range(ilo, ilo + span), n)), True, span, span
            )

        def ints(rng: random.Random, n: int) -> list[int]:
            rnd = rng.random
            return [ilo + int(rnd() * span) for _ in range(n)]

        return ColumnGen(ints, domain=span)
    scale, width = col.scale, hi - lo
    steps = round(width * 10**scale) + 1

    def decimals(rng: random.Random, n: int) -> list[float]:
        rnd = rng.random
        if unique:
            return [round(lo + k / 10**scale, scale) for k in sorted(rng.sample(range(steps), n))]
        return [min(hi, round(lo + rnd() * width, scale)) for _ in range(n)]

    return ColumnGen(decimals, unique, steps if unique else None, steps)


def _distinct(draw: Draw, capacity: int | None) -> ColumnGen:
    """Unique values from any drawer: redraw the repeats a bounded number of rounds."""

    def unique_draw(rng: random.Random, n: int) -> list[Any]:
        out = list(dict.fromkeys(draw(rng, n)))
        for _ in range(50):
            if len(out) >= n:
                break
            out = list(dict.fromkeys(out + draw(rng, 2 * (n - len(out)) + 8)))
        if len(out) < n:
            raise V.SeedError(f"cannot draw {n} distinct values")
        return out[:n]

    return ColumnGen(unique_draw, True, capacity, capacity)


def _dates(spec: DomainSpec, col: Column, unique: bool) -> ColumnGen:
    def draw(rng: random.Random, n: int) -> list[str]:
        return R.draw_dates(rng, col, spec.now, n)

    lo, hi = R.date_range(col, spec.now)
    cap = (
        (hi.date() - lo.date()).days + 1
        if col.type == "date"
        else int((hi - lo).total_seconds()) + 1
    )
    return _distinct(draw, cap) if unique else ColumnGen(draw, domain=cap)


def _key_counter(table: str, col: Column) -> ColumnGen:
    prefix = "".join(ch for ch in table.upper() if ch.isalnum())[:3] or "K"

    def draw(rng: random.Random, n: int) -> list[str]:
        width = max(5, len(str(n)))
        p = prefix
        if col.max_length and len(p) + width > col.max_length:
            p = p[: max(0, col.max_length - width)]
        return [f"{p}{i:0{width}d}" for i in range(1, n + 1)]

    return ColumnGen(draw, True, None)


def _with_nulls(gen: ColumnGen, fraction: float) -> ColumnGen:
    if fraction <= 0:
        return gen
    inner = gen.draw

    def draw(rng: random.Random, n: int) -> list[Any]:
        vals = inner(rng, n)
        rnd = rng.random
        return [None if rnd() < fraction else v for v in vals]

    return ColumnGen(draw, gen.unique, gen.capacity, gen.domain, gen.source)


def _by_type(
    spec: DomainSpec,
    table: str,
    entity: Entity,
    cname: str,
    col: Column,
    n: int,
    unique: bool,
    seed: int,
) -> ColumnGen:
    checks = column_checks(table, cname, entity)
    if col.type == "json":  # its default as JSON text ('{}' without one)
        d = col.default if col.default is not None else {}
        text = d if isinstance(d, str) else json.dumps(d, separators=(",", ":"))
        return ColumnGen(lambda rng, k: [text] * k, domain=1)
    ranged = col.minimum is not None or col.maximum is not None or col.min_value or col.max_value
    if (
        col.default is not None
        and not ranged
        and col.type not in ("enum", "boolean")
        and not unique
    ):
        default = int(col.default) if isinstance(col.default, bool) else col.default
        return ColumnGen(lambda rng, k: [default] * k, domain=1)
    if col.type == "enum":
        vals = list(col.values or [])
        if col.default in vals and not unique:
            w = [
                DEFAULT_WEIGHT if v == col.default else (1 - DEFAULT_WEIGHT) / max(1, len(vals) - 1)
                for v in vals
            ]
            return _choices(vals, w if len(vals) > 1 else None, False)
        return _choices(vals, None, unique)
    if col.type == "boolean":
        if col.default is None or unique:
            return _choices([0, 1], None, unique)
        d = int(bool(col.default))
        return _choices([d, 1 - d], [DEFAULT_WEIGHT, 1 - DEFAULT_WEIGHT], False)
    allowed = R.check_bounds(cname, checks)[2]
    if allowed:
        return _choices(allowed, None, unique)
    if col.type in ("integer", "decimal"):
        if col.primary_key and col.type == "integer" and entity.primary_key == [cname]:
            return ColumnGen(lambda rng, k: list(range(1, k + 1)), True, None)
        return _numbers(col, cname, checks, unique)
    if col.type in ("date", "datetime"):
        return _dates(spec, col, unique)
    if col.primary_key and entity.primary_key == [cname]:
        return _key_counter(table, col)
    kind, name, args = V.guess_source(cname, col)
    if kind == "pattern":
        return _pattern(name, unique)
    return _pooled(seed, name, args, col, n, unique, f"{table}.{cname}")


def make_generator(spec: DomainSpec, table: str, cname: str, n: int, seed: int) -> ColumnGen:
    """The generator of one non-FK column of ``table`` for about ``n`` rows."""
    entity = spec.entities[table]
    col = entity.columns[cname]
    unique = col.unique or entity.primary_key == [cname]
    hint = col.faker
    keyed = unique or any(cname in g for g in entity.unique) or cname in entity.primary_key
    if hint is not None and hint.sql and col.type in ("integer", "decimal") and not keyed:
        # placeholder until the fill runs: the lowest valid value (meets `x <= other` checks)
        low = R.numeric_range(col, cname, column_checks(table, cname, entity))[0]
        value = int(low) if col.type == "integer" else low
        gen = ColumnGen(lambda rng, k: [value] * k, domain=1)
    elif hint is None or hint.sql:
        gen = _by_type(spec, table, entity, cname, col, n, unique, seed)
    elif hint.pattern:
        gen = _pattern(hint.pattern, unique)
    elif hint.choices:
        vals = [int(bool(v)) if col.type == "boolean" else v for v in hint.choices]
        gen = _choices(vals, hint.weights, unique)
    elif hint.provider:
        gen = _pooled(seed, hint.provider, dict(hint.args), col, n, unique, f"{table}.{cname}")
    else:  # a hint with only null_fraction
        gen = _by_type(spec, table, entity, cname, col, n, unique, seed)
    nulls = 0.0
    if col.nullable and not col.primary_key:
        nulls = hint.null_fraction if hint is not None else NULL_FRACTION
    return _with_nulls(gen, nulls)
