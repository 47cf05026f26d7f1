"""Lists whose length the tool's checks fix, and lists of objects drawn as linked rows.

A precondition like ``json_array_length(:passengers) = (SELECT COUNT(*) FROM ... WHERE
reservation_id = :reservation_id)`` ties a list's length to the call's other args; a random
length almost never matches, so the other side is run with the args already drawn and the
list is drawn at that length. An array of objects is drawn from rows linked to the call
whose columns carry every field of the object (a reservation's passengers, the user's saved
passengers): a list that rewrites rows of a table the tool writes starts from those rows in
order and puts another linked row (or, with none, a corrected field) at one or two
positions, so the call changes what a user would ask to change and nothing they did not
name.
"""

from __future__ import annotations

import json
import random
import sqlite3
from functools import lru_cache
from typing import Any

from sqlglot import exp

from engine.spec.models import Param
from engine.spec.sql import params_used, parse_one_statement
from synth.tasks.context import Ctx
from synth.tasks.domain import TAG, rows_where


def _length_param(node: exp.Expression) -> str | None:
    """The param ``node`` takes the length of (``json_array_length(:p)``), else None."""
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "json_array_length":
        args = node.expressions
    elif type(node).__name__ == "JSONArrayLength":  # newer sqlglot parses it as its own node
        args = [node.this]
    else:
        return None
    if len(args) == 1 and isinstance(args[0], exp.Placeholder):
        return str(args[0].name)
    return None


@lru_cache(maxsize=1024)
def length_ties(sql: str) -> tuple[tuple[str, str], ...]:
    """(array param, SELECT of the other side) for each ``json_array_length(:p) = expr`` a
    check must satisfy (the check's whole condition, or one term of an AND), where ``expr``
    does not read ``:p``."""
    try:
        stmt = parse_one_statement(sql)
    except ValueError:
        return ()
    if not isinstance(stmt, exp.Select) or len(stmt.expressions) != 1:
        return ()
    out: list[tuple[str, str]] = []
    for eq in stmt.expressions[0].find_all(exp.EQ):
        up = eq.parent
        while isinstance(up, exp.And | exp.Paren):
            up = up.parent
        if up is not stmt:  # under an OR, a CASE, a subquery: not a condition on its own
            continue
        for side, other in ((eq.this, eq.expression), (eq.expression, eq.this)):
            name = _length_param(side)
            if name and all(ph.name != name for ph in other.find_all(exp.Placeholder)):
                out.append((name, "SELECT " + other.sql(dialect="sqlite")))
    return tuple(out)


def tied_length(ctx: Ctx, tool: str, pname: str, bound: dict[str, Any]) -> int | None:
    """The length a precondition demands of list ``pname`` given the ``bound`` args, read on
    the scratch session's state; None when no check ties it to those args."""
    params = ctx.tools[tool].params
    for pre in ctx.tools[tool].preconditions:
        for name, sql in length_ties(pre.check):
            if name != pname:
                continue
            used = params_used(sql) - {"now"}
            if not used <= bound.keys():
                continue
            binds = {
                k: json.dumps(bound[k]) if params[k].type == "array" else bound[k] for k in used
            }
            binds["now"] = ctx.spec.now
            try:
                row = ctx.conn.execute(TAG + sql, binds).fetchone()
            except sqlite3.Error:
                continue
            if row is not None and type(row[0]) is int and row[0] >= 0:
                return int(row[0])
    return None


def draw_objects(
    ctx: Ctx, tool: str, p: Param, n: int, context: list, rng: random.Random
) -> list[dict[str, Any]] | None:
    """``n`` objects for an array-of-objects param, from rows linked to the ``context`` rows
    that have every field as a column; None when no table has them all."""
    assert p.items is not None
    fields = list(p.items.properties or {})
    sources = sorted(
        t for t, ent in ctx.spec.entities.items() if fields and set(fields) <= set(ent.columns)
    )
    if not sources:
        return None
    writes = set(ctx.tools[tool].writes)
    current: list[tuple[str, dict[str, Any]]] = []  # (table, object): rows the call rewrites
    pool: list[dict[str, Any]] = []  # other linked rows (a saved passenger)
    for table in sources:
        for fk in ctx.info.parents(table):
            for t, key in context:
                if t != fk.parent or fk.pcol not in key:
                    continue
                for row in rows_where(ctx.conn, ctx.info, table, fk.column, key[fk.pcol]):
                    obj = {f: row[f] for f in fields}
                    if table in writes:
                        current.append((table, obj))
                    elif obj not in pool:
                        pool.append(obj)
    now = [o for _, o in current]
    fresh = [o for o in pool if o not in now]
    if len(now) == n and n > 0:
        out = list(now)
        k = min(len(fresh), rng.choice([1, 1, 1, 2]), n)
        if k:
            for i, o in zip(sorted(rng.sample(range(n), k)), rng.sample(fresh, k), strict=True):
                out[i] = o
            return out
        i = rng.randrange(n)  # nobody else to put there: correct one field of one entry
        f = rng.choice(fields)
        other = [
            v for v in ctx.free.column_values(ctx.conn, f"{current[i][0]}.{f}") if v != out[i][f]
        ]
        if other:
            out[i] = {**out[i], f: rng.choice(other)}
        return out
    picks = fresh + [o for o in now if o not in fresh]
    out = rng.sample(picks, min(n, len(picks)))
    while len(out) < n:  # too few linked rows: stored values of each field
        obj = {}
        for f in fields:
            vals = ctx.free.column_values(ctx.conn, f"{sources[0]}.{f}")
            obj[f] = rng.choice(vals) if vals else None
        out.append(obj)
    return out
