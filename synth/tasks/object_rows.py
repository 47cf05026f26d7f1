"""Lists of objects that name rows (flights by number and date, payments by method id).

A user never asks for an empty booking: an array of objects is drawn with at least one
element. When an object's fields reference columns, each element is one row of the table
those references meet in (a dated flight carries both its flight number and its date),
taken from rows linked to the call (the user's own payment methods) or, for rows nobody
owns, from the whole table; each position is screened by the tool's checks on the list so
far, so a leg is a flight date that is available with seats for the passengers already
drawn. An amount field (numeric, naming no column) is made to add up to a total the tool's
lets compute, with the split between two methods capped by what a row holds (a gift card's
balance): the helpers are the ones procedural testing uses (``synth.proctest.objects``).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from itertools import islice
from typing import Any

from engine.spec.models import Param
from synth.proctest.objects import amount_fields, let_numbers, settled
from synth.tasks.context import Ctx
from synth.tasks.domain import fetch_row, rows_where

Row = tuple[str, dict[str, Any]]
SAMPLE = 96  # rows of a table nobody owns tried for one list (a flight date per leg)
CHUNK = 16  # candidates screened at once


def draw_order(p: Param) -> int:
    """Where an array of objects goes among the arrays drawn last: plain fields first (the
    passengers), then rows (the flights, whose seats the passengers need), amounts last (a
    payment that adds up to the price of both)."""
    props = p.items.properties if p.items is not None else None
    if not props or not any(fp.references for fp in props.values()):
        return 0
    assert p.items is not None
    return 2 if amount_fields(p.items) else 1


def _row_table(ctx: Ctx, props: dict[str, Param]) -> str | None:
    """The table whose one row gives every referenced field: the referenced table that
    covers most of them, by the referenced column or by a column of the field's name."""
    refs = {f: fp.references for f, fp in props.items() if fp.references}
    tables = sorted({r.partition(".")[0] for r in refs.values()})
    best: tuple[int, str] | None = None
    for t in tables:
        ent = ctx.spec.entities.get(t)
        if ent is None:
            continue
        n = sum(1 for f, r in refs.items() if r.partition(".")[0] == t or f in ent.columns)
        if best is None or n > best[0]:
            best = (n, t)
    return best[1] if best else None


def _field(table: str, f: str, fp: Param, row: dict[str, Any]) -> Any:
    if fp.references and fp.references.partition(".")[0] == table:
        return row.get(fp.references.partition(".")[2])
    return row.get(f)


def _rows(ctx: Ctx, table: str, context: list[Row], rng: random.Random) -> list[Row]:
    """Rows of ``table`` linked to the context rows; for a table nobody owns and no link, a
    sample of the whole table (any flight date may be the one the user wants)."""
    out: list[Row] = []
    pk = ctx.info.pk(table)
    for fk in ctx.info.parents(table):
        for t, key in context:
            if t != fk.parent or fk.pcol not in key:
                continue
            for row in rows_where(ctx.conn, ctx.info, table, fk.column, key[fk.pcol]):
                r = (table, {c: row[c] for c in pk})
                if r not in out:
                    out.append(r)
    if out or ctx.info.owned(table):
        return out
    keys = ctx.keys(table)
    picked = rng.sample(range(len(keys)), min(SAMPLE, len(keys)))
    return [(table, ctx.key_dict(table, keys[i])) for i in picked]


def draw_row_objects(
    ctx: Ctx,
    tool: str,
    name: str,
    p: Param,
    n: int,
    context: list[Row],
    rows: list[Row],
    rng: random.Random,
    seek: str | None,
    bound: dict[str, Any],
) -> list[dict[str, Any]] | None:
    """Up to ``n`` objects (at least one where any passes the checks) for an array param
    whose object fields reference rows; None when they reference none. The rows used join
    ``rows`` and ``context`` (instructions describe them, ownership checks see them)."""
    assert p.items is not None
    props = p.items.properties or {}
    table = _row_table(ctx, props) if props else None
    if table is None:
        return None
    amounts = amount_fields(p.items)
    cands = _objects(ctx, table, props, amounts, _rows(ctx, table, context, rng))
    if amounts:
        got = _paid(ctx, tool, name, p, amounts[0], list(cands), rng, seek, bound)
    else:
        got = _legs(ctx, tool, name, cands, n, rng, seek, bound)
    for r, _o in got:
        if r not in rows:
            rows.append(r)
            context.append(r)
    if got:
        bound.update(_echoed(ctx, tool, bound, got[0][0]))
    return [o for _r, o in got]


def _echoed(ctx: Ctx, tool: str, bound: dict[str, Any], first: Row) -> dict[str, Any]:
    """Written text params no check reads, named like a column of the first element's row
    or a row it references (a booking's origin and destination: its first leg's flight's),
    so the call does not contradict the rows it books."""
    t = ctx.tools[tool]
    read = {u for _sql, _rule, used in ctx.checks[tool] for u in used}
    row = fetch_row(ctx.conn, ctx.info, first[0], first[1]) or {}
    found = [row]
    for fk in ctx.info.parents(first[0]):
        parent = fetch_row(ctx.conn, ctx.info, fk.parent, {fk.pcol: row.get(fk.column)})
        if parent is not None and ctx.info.pk(fk.parent) == [fk.pcol]:
            found.append(parent)
    out: dict[str, Any] = {}
    for name, p in t.params.items():
        src = ctx.sources[tool][name]
        if name not in bound or p.type != "string" or src.ref or not src.written or name in read:
            continue
        for r in found:
            if isinstance(r.get(name), str):
                out[name] = r[name]
                break
    return out


def _objects(
    ctx: Ctx, table: str, props: dict[str, Param], amounts: list[str], keys: list[Row]
) -> Iterator[tuple[Row, dict[str, Any]]]:
    """Each row's object (amounts 0 for now), each distinct object once, read as needed."""
    seen: set[str] = set()
    for r in keys:
        row = fetch_row(ctx.conn, ctx.info, table, r[1])
        if row is None:
            continue
        obj = {f: (0 if f in amounts else _field(table, f, fp, row)) for f, fp in props.items()}
        if all(v is not None for v in obj.values()) and repr(obj) not in seen:
            seen.add(repr(obj))
            yield r, obj


def _legs(
    ctx: Ctx,
    tool: str,
    name: str,
    cands: Iterator[tuple[Row, dict[str, Any]]],
    n: int,
    rng: random.Random,
    seek: str | None,
    bound: dict[str, Any],
) -> list[tuple[Row, dict[str, Any]]]:
    """``n`` rows' objects, each position screened by the tool's checks on the list so far
    (the candidates come in random order: a chunk at a time until one passes)."""
    out: list[tuple[Row, dict[str, Any]]] = []
    pool: list[tuple[Row, dict[str, Any]]] = []  # the candidates read so far
    for _ in range(n):
        good: list[tuple[Row, dict[str, Any]]] = []
        i = 0
        while not good:
            pool += islice(cands, max(0, i + CHUNK - len(pool)))
            part = [c for c in pool[i : i + CHUNK] if c not in out]
            if i >= len(pool):
                break
            i += CHUNK
            lists = [[*(o for _r, o in out), o] for _r, o in part]
            ok = {repr(x[-1]) for x in ctx.screen(tool, name, lists, seek, bound)}
            good = [c for c in part if repr(c[1]) in ok]
        if not good:
            break
        out.append(rng.choice(good))
    return out


def _paid(
    ctx: Ctx,
    tool: str,
    name: str,
    p: Param,
    field: str,
    cands: list[tuple[Row, dict[str, Any]]],
    rng: random.Random,
    seek: str | None,
    bound: dict[str, Any],
) -> list[tuple[Row, dict[str, Any]]]:
    """One row paying a total the tool computes, or two: one capped at the amount its row
    holds (a gift card's balance), another paying the rest; only lists the checks pass."""
    assert p.items is not None and p.items.properties is not None
    integer = p.items.properties[field].type == "integer"
    if not cands:
        return []
    probe = [{**cands[0][1], field: 0}]
    targets = sorted(set(let_numbers(ctx.s, tool, {**bound, name: probe})))
    options: list[list[tuple[Row, dict[str, Any]]]] = []
    for target in targets:
        if target <= 0:
            continue
        for r, o in cands:
            one = settled([o], field, target, integer)
            if one is not None:
                options.append([(r, one[0])])
        for r1, o1 in cands:
            held = (fetch_row(ctx.conn, ctx.info, r1[0], r1[1]) or {}).get(field)
            if not isinstance(held, int | float) or not 0 < held < target:
                continue
            cap = int(held) if integer else held
            for r2, o2 in cands:
                two = settled([o2, {**o1, field: cap}], field, target, integer) if cap else None
                if r2 != r1 and two is not None and two[0][field] > 0:
                    options.append([(r2, two[0]), (r1, two[1])])
    lists = [[o for _r, o in opt] for opt in options[:120]]
    ok = {repr(x) for x in ctx.screen(tool, name, lists, seek, bound)}
    good = [opt for opt in options[:120] if repr([o for _r, o in opt]) in ok]
    singles = [g for g in good if len(g) == 1]
    pairs = [g for g in good if len(g) > 1]
    if pairs and (not singles or rng.random() < 0.4):
        return rng.choice(pairs)
    return rng.choice(singles) if singles else []
