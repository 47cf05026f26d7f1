"""Drawing arguments for a trial call: values linked by foreign keys to the user and the
target row, weighted by how close and how specific the link is, screened by the tool's own
cheap checks (a pending order, an available flight) before any call is made.
"""

from __future__ import annotations

import random
from typing import Any

from engine.spec.models import Param
from synth.tasks.context import Ctx
from synth.tasks.domain import fetch_row, rows_where
from synth.tasks.links import owner
from synth.tasks.object_rows import draw_order, draw_row_objects
from synth.tasks.objects import draw_objects, tied_length


def _weighted(rng: random.Random, cands: dict[Any, float], k: int) -> list[Any]:
    items = list(cands.items())
    out: list[Any] = []
    for _ in range(min(k, len(items))):
        total = sum(w for _, w in items)
        r = rng.random() * total
        for i, (v, w) in enumerate(items):
            r -= w
            if r <= 0 or i == len(items) - 1:
                out.append(v)
                items.pop(i)
                break
    return out


Cands = dict[Any, tuple[int, float]]  # value -> (link length, weight)


def _pick(rng: random.Random, cands: Cands, k: int = 1) -> list[Any]:
    """``k`` values. Mostly by weight with a steep discount per extra link length (the
    route of the chosen flight, not of the user's old trips); sometimes from a random link
    length (other variants of the same product, three links away)."""
    if not cands:
        return []
    lengths = sorted({n for n, _ in cands.values()})
    rank = {n: i for i, n in enumerate(lengths)}
    if rng.random() < 0.75 or len(lengths) == 1:
        return _weighted(rng, {v: w * 0.15 ** rank[n] for v, (n, w) in cands.items()}, k)
    first = rng.choice(lengths)
    out = _weighted(rng, {v: w for v, (n, w) in cands.items() if n == first}, k)
    if len(out) < k:
        rest = {v: w * 0.15 ** rank[n] for v, (n, w) in cands.items() if v not in out}
        out += _weighted(rng, rest, k - len(out))
    return out


def _candidates(ctx: Ctx, context: list[tuple[str, dict]], ref: str, pname: str) -> Cands:
    """Values of ``ref`` linked to the context rows: (shortest link, weight); specific context
    rows (a dated flight more than the user) and a key column named like the param weigh most."""
    out: Cands = {}
    utable = ctx.info.user_table
    user = next((next(iter(k.values())) for t, k in context if t == utable), None)
    for table, key in context:
        specific = (1 + _depth(ctx, table)) ** 2
        for v, n, via in ctx.related(table, key, ref):
            bonus = (
                10.0
                if via and (via == pname or pname.startswith(via) or via.startswith(pname))
                else 1.0
            )
            w = specific * bonus
            old = out.get(v)
            if old is None or (n, -w) < (old[0], -old[1]):
                out[v] = (n, w)
    return ctx.mine(ref, ctx.allowed(ref, out), user)


def _row_of(ctx: Ctx, ref: str, value: Any) -> tuple[str, dict[str, Any]] | None:
    table, _, col = ref.partition(".")
    pk = ctx.info.pk(table)
    if pk == [col]:
        return table, {col: value}
    rows = rows_where(ctx.conn, ctx.info, table, col, value, limit=1)
    return (table, {c: rows[0][c] for c in pk}) if rows else None


def primary_param(ctx: Ctx, tool: str) -> str | None:
    for name, p in ctx.tools[tool].params.items():
        if p.type != "array" and ctx.sources[tool][name].ref:
            return name
    return None


class NoCandidates(Exception):
    """The target param has no value that can pass its own checks (the user has no pending
    order): trying again with the same user is pointless."""


class DeadEnd(NoCandidates):
    """The primary value drawn leaves a later param no value that passes the tool's checks
    (the order's user has no payment method but the current one): draw another primary."""


_DEAD = object()


def _screened(
    ctx: Ctx, tool: str, pname: str, cands: Cands, seek: str | None, bound: dict | None = None
) -> Cands:
    keep = set(map(repr, ctx.screen(tool, pname, list(cands)[:80], seek, bound)))
    return {v: c for v, c in cands.items() if repr(v) in keep}


def draw_args(
    ctx: Ctx,
    tool: str,
    rng: random.Random,
    user: Any,
    primary: Any = None,
    fixed: dict[str, Any] | None = None,
    seek: str | None = None,
    dead: set[str] | None = None,
) -> tuple[dict[str, Any], Any, tuple[str, dict] | None, list[tuple[str, dict]]]:
    """Arguments for one trial: (args, user, primary row, rows the args name). ``seek`` names
    a policy rule the args should break (refusal sub-goals). With ``dead`` (a set, filled
    here), a primary value that leaves a later param no value passing the tool's checks is
    added to it and ``DeadEnd`` raised; primary values in it are not drawn again."""
    info, t, srcs = ctx.info, ctx.tools[tool], ctx.sources[tool]
    utable = info.user_table
    upk = info.pk(utable)[0]
    args: dict[str, Any] = {}
    rows: list[tuple[str, dict]] = []
    context: list[tuple[str, dict]] = []
    if user is not None:
        context.append((utable, {upk: user}))
    pname = primary_param(ctx, tool)
    prow = None
    if pname is not None:
        ref = srcs[pname].ref or ""
        value = primary
        if value is None:
            cands = _candidates(ctx, context, ref, pname) if user is not None else {}
            if user is None or (not cands and _public(ctx, ref)):
                cands = _global(ctx, ref, rng, 60)
            cands = _screened(ctx, tool, pname, cands, seek)
            if dead:
                cands = {v: c for v, c in cands.items() if repr(v) not in dead}
            if not cands:
                raise NoCandidates(f"{tool}.{pname}")
            value = _pick(rng, cands)[0]
        args[pname] = value
        prow = _row_of(ctx, ref, value)
        if prow is not None:
            rows.append(prow)
            context.append(prow)
            if user is None:
                user = owner(ctx.conn, info, prow[0], prow[1])
    if user is None:
        key = ctx.random_key(utable, rng)
        user = key[upk] if key else None
    if user is not None and (not context or context[0][0] != utable):
        context.insert(0, (utable, {upk: user}))
    n_items = rng.choice([1, 1, 1, 1, 2, 2, 3])
    groups: dict[str, list[dict]] = {}  # array item table -> rows chosen
    for name in _param_order(ctx, tool):
        p = t.params[name]
        if name in args:
            continue
        if fixed and name in fixed:
            args[name] = fixed[name]
            continue
        if not p.required and rng.random() < 0.5:
            continue
        src = srcs[name]
        if p.type == "array":
            need = tied_length(ctx, tool, name, args)  # a length the checks demand, if any
            if p.items is not None and p.items.type == "object":  # never an empty list
                objs = None
                if not (need or p.min_items):
                    k = rng.choice([1, 1, 1, 1, 2, 2, 3])  # its own count (legs, not passengers)
                    objs = draw_row_objects(ctx, tool, name, p, k, context, rows, rng, seek, args)
                    if objs == []:  # no row passes with the args drawn: draw them again
                        raise DeadEnd(f"{tool}.{name}")
                if objs is None:
                    objs = draw_objects(
                        ctx, tool, p, need or max(p.min_items or 1, n_items), context, rng
                    )
                if objs is not None:
                    args[name] = objs
                    continue
            args[name] = _draw_array(
                ctx, tool, name, p, src.ref, context, rows, groups,
                n_items if need is None else need, rng, seek, args,
            )  # fmt: skip
            if not args[name] and (p.min_items or 0) > 0:
                args[name] = [
                    ctx.free.value(ctx.conn, p.items, src, rng, name) for _ in range(n_items)
                ]  # type: ignore[arg-type]
            continue
        if src.ref and not (src.written and not ctx.info.is_id_ref(src.ref)):
            value = _draw_ref(
                ctx, tool, name, src.ref, context, rows, args, rng, seek, dead is not None
            )
            if value is _DEAD:
                assert dead is not None
                if pname is not None:
                    dead.add(repr(args.get(pname)))
                raise DeadEnd(f"{tool}.{name}")
            if value is not None:
                args[name] = value
                continue
        drawn = [
            ctx.free.value(ctx.conn, p, src, rng, name)
            for _ in range(4 if src.column or p.type in ("integer", "number") else 1)
        ]
        args[name] = (ctx.screen(tool, name, drawn, seek, args) or drawn)[0]
    return args, user, prow, rows


def _draw_ref(
    ctx: Ctx,
    tool: str,
    name: str,
    ref: str,
    context: list,
    rows: list,
    bound: dict,
    rng: random.Random,
    seek: str | None,
    strict: bool = False,
) -> Any:
    """A value for a param naming ``ref``: picked as a row linked to the context (so a date
    comes from the same dated flight as the route), which then joins the context. With
    ``strict``, ``_DEAD`` when linked rows exist but none passes the tool's checks."""
    table, _, col = ref.partition(".")
    pk = ctx.info.pk(table)
    key_ref = f"{table}.{pk[0]}" if len(pk) == 1 else ref
    cands = _candidates(ctx, context, key_ref, name)
    if _public(ctx, ref) and (not cands or (len(context) <= 1 and rng.random() < 0.5)):
        cands = _global(ctx, key_ref, rng)
    if key_ref == ref:
        screened = _screened(ctx, tool, name, cands, seek, bound)
        if strict and cands and not screened:
            return _DEAD
        cands = screened or cands
    for picked in _pick(rng, cands, 3):
        if key_ref == ref:
            r = _row_of(ctx, ref, picked)
            value = picked
        else:
            row = fetch_row(ctx.conn, ctx.info, table, {pk[0]: picked})
            value = row.get(col) if row else None
            r = (table, {pk[0]: picked}) if row else None
        if value is None:
            continue
        if r is not None:
            context.append(r)
            if ctx.info.is_id_ref(ref):
                rows.append(r)
        return value
    vals = ctx.free.column_values(ctx.conn, ref)
    return rng.choice(vals) if vals else None


def _draw_array(
    ctx: Ctx,
    tool: str,
    name: str,
    p: Param,
    ref: str | None,
    context: list,
    rows: list,
    groups: dict,
    n: int,
    rng: random.Random,
    seek: str | None,
    bound: dict[str, Any],
) -> list[Any]:
    """Elements linked to the context rows, drawn one position at a time: each is screened
    by the tool's checks on the list so far, with the lists already drawn cut to the same
    length (the new variant at position i is paired with the old item at i)."""
    lo = p.min_items or 1
    hi = p.max_items or 10
    n = max(lo, min(n, hi))
    if not ref:
        return []
    table, _, col = ref.partition(".")
    pk = ctx.info.pk(table)
    if table in groups:  # a parallel array over the same rows (names, dates of passengers)
        return [r.get(col) for r in groups[table]]
    key_ref = f"{table}.{pk[0]}" if len(pk) == 1 else ref
    cands = _candidates(ctx, context, key_ref, name)
    if _public(ctx, ref) and (not cands or (len(context) <= 1 and rng.random() < 0.5)):
        cands = _global(ctx, key_ref, rng, 60)
    root = ctx.info.root(ref)
    twins = [  # lists drawn before naming the same kind of row (old items for new ones)
        v
        for k, v in bound.items()
        if isinstance(v, list) and ctx.info.root(ctx.sources[tool][k].ref or "") == root
    ]
    keys: list[Any] = []
    for i in range(n):
        left = {v: c for v, c in cands.items() if v not in keys}
        if key_ref == ref:
            cut = {k: v[: i + 1] if isinstance(v, list) else v for k, v in bound.items()}
            ok = ctx.screen(tool, name, [[*keys, v] for v in list(left)[:80]], seek, cut)
            good = {repr(x[-1]) for x in ok}
            left = {v: c for v, c in left.items() if repr(v) in good} or (left if i == 0 else {})
        same = {repr(t[i]) for t in twins if i < len(t)}  # not the very row it replaces
        left = {v: c for v, c in left.items() if repr(v) not in same}
        got = _pick(rng, left, 1)
        if not got:
            break
        keys += got
    if not keys and not twins:
        keys = _pick(rng, cands, n)
    if len(pk) != 1:  # values of a column that names no row alone: the rows they come from
        for v in keys:
            linked = _linked_row(ctx, table, col, v, context, rows)
            if linked is not None:
                rows.append(linked)
                context.append(linked)
        return keys
    chosen = [fetch_row(ctx.conn, ctx.info, table, {pk[0]: k}) for k in keys]
    chosen = [r for r in chosen if r is not None]
    if not chosen:
        return []
    groups[table] = chosen
    for r in chosen:
        if ctx.info.is_id_ref(ref):
            rows.append((table, {pk[0]: r[pk[0]]}))
    context.extend((table, {pk[0]: r[pk[0]]}) for r in chosen)
    return [r.get(col) for r in chosen]


def _linked_row(
    ctx: Ctx, table: str, col: str, value: Any, context: list, taken: list
) -> tuple[str, dict[str, Any]] | None:
    """The row of ``table`` with ``col`` = ``value`` that hangs off a context row (the item
    of this order), one not taken yet (a second copy of the same item)."""
    pk = ctx.info.pk(table)
    for row in rows_where(ctx.conn, ctx.info, table, col, value):
        key = {c: row[c] for c in pk}
        if (table, key) in taken:
            continue
        for fk in ctx.info.parents(table):
            if any(t == fk.parent and k.get(fk.pcol) == row.get(fk.column) for t, k in context):
                return table, key
    return None


def _depth(ctx: Ctx, table: str) -> int:
    """How many tables stand above ``table`` through its foreign keys (a dated flight: 2)."""
    hit = ctx.depths.get(table)
    if hit is None:
        hit = ctx.depths[table] = _depth_of(ctx, table, frozenset())
    return hit


def _depth_of(ctx: Ctx, table: str, seen: frozenset[str]) -> int:
    parents = [
        f.parent for f in ctx.info.parents(table) if f.parent not in seen and f.parent != table
    ]
    return max((1 + _depth_of(ctx, p, seen | {table}) for p in parents), default=0)


def _param_order(ctx: Ctx, tool: str) -> list[str]:
    """Params naming the most specific rows first (flights before airports, items before
    variants), so the rest are drawn from rows linked to them; free values next; arrays of
    objects last, whose checks read the rest (seats for a cabin, a price to pay)."""
    srcs = ctx.sources[tool]

    params = ctx.tools[tool].params

    def rank(item: tuple[int, str]) -> tuple[int, int, int]:
        i, name = item
        p = params[name]
        if p.type == "array" and p.items is not None and p.items.type == "object":
            return (2, draw_order(p), i)  # after the scalars their checks read
        ref = srcs[name].ref
        return (-_depth(ctx, ref.split(".")[0]) if ref else 1, 0, i)

    return [n for _, n in sorted(enumerate(ctx.tools[tool].params), key=rank)]


def _public(ctx: Ctx, ref: str) -> bool:
    """Rows nobody owns (flights, products): any of them may be what the user wants."""
    table = ref.split(".")[0]
    return table != ctx.info.user_table and ctx.info.up_path(table, ctx.info.user_table) is None


def _global(ctx: Ctx, ref: str, rng: random.Random, k: int = 24) -> Cands:
    vals = (
        ctx.free.column_values(ctx.conn, ref)
        if ctx.info.pk(ref.split(".")[0]) != [ref.split(".")[1]]
        else ctx.key_values(ref.split(".")[0])
    )
    return (
        ctx.allowed(ref, {v: (1, 1.0) for v in rng.sample(vals, min(k, len(vals)))}) if vals else {}
    )
