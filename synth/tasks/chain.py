"""Seed chains: a write call that really succeeds, and the reads that produce its arguments.

A write's arguments are drawn from rows linked by foreign keys to its target row and the
user (an order's items, the user's payment methods, other variants of the same product) and
checked by calling the tool; a candidate that fails, breaks a policy rule or changes
nothing is redrawn. Then every argument the user cannot know (an item id, a variant id, the
user id when they only know their email) is traced back to a read tool whose result holds
it, called with facts the user knows or earlier results: the chain runs as it stands.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.runtime.call import ToolResult
from engine.spec.task import RowChange, Task
from synth.tasks.context import Ctx, field_values, meaningful_result
from synth.tasks.domain import fetch_row
from synth.tasks.draw import DeadEnd, NoCandidates, _row_of, draw_args
from synth.tasks.ownership import foreign_args
from synth.tasks.same import SameSet, same

Accept = Callable[[ToolResult, list[RowChange], list[str]], bool]


@dataclass
class Call:
    """One successful call: its args, result and (for writes) the row changes it made."""

    tool: str
    args: dict[str, Any]
    result: Any = None
    changes: list[RowChange] = field(default_factory=list)
    user: Any = None  # the user row's key value
    primary: tuple[str, dict[str, Any]] | None = None  # the target row
    rows: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # rows the args name


@dataclass
class Facts:
    """What the user can say, by value lineage (root column) -> values, in order of relevance."""

    by_root: dict[str, list[Any]] = field(default_factory=dict)
    seen: dict[str, SameSet] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:  # values given as ``by_root`` are known too
        for root, vals in self.by_root.items():
            if root not in self.seen:
                self.seen[root] = SameSet()
                for v in vals:
                    self.seen[root].add(v)

    def add(self, root: str, value: Any) -> None:
        if value is None or isinstance(value, dict | list):
            return
        seen = self.seen.setdefault(root, SameSet())
        if value not in seen:
            seen.add(value)
            self.by_root.setdefault(root, []).append(value)

    def has(self, root: str, value: Any) -> bool:
        seen = self.seen.get(root)
        return seen is not None and value in seen

    def copy(self) -> Facts:
        return Facts(
            {k: list(v) for k, v in self.by_root.items()},
            {k: v.copy() for k, v in self.seen.items()},
        )


def default_accept(ctx: Ctx, tool: str) -> Accept:
    if ctx.tools[tool].read_only:
        return lambda res, ch, bad: res.ok and meaningful_result(res.result)
    return lambda res, ch, bad: res.ok and ctx.meaningful(ch) and not bad


# ---- drawing arguments ----------------------------------------------------------------------------
def sample_call(
    ctx: Ctx,
    state: bytes | Task,
    tool: str,
    rng: random.Random,
    *,
    user: Any = None,
    primary: Any = None,
    fixed: dict[str, Any] | None = None,
    accept: Accept | None = None,
    seek: str | None = None,
    tries: int = 60,
) -> Call | None:
    """A call of ``tool`` on ``state`` that passes ``accept`` (default: succeeds, changes a
    compared column, breaks no policy rule), or None after ``tries`` draws."""
    ok = accept or default_accept(ctx, tool)
    dead: set[str] = set()  # primary values no later param can complete
    for _ in range(tries):
        ctx.at(state)
        try:
            args, u, prow, rows = draw_args(ctx, tool, rng, user, primary, fixed, seek, dead)
        except DeadEnd as exc:
            ctx.why[f"no value of {exc} passes the tool's checks with the target drawn"] += 1
            continue
        except NoCandidates as exc:
            ctx.why[f"no value of {exc} passes the tool's own checks"] += 1
            if user is not None or primary is not None:
                return None
            continue
        mine = foreign_args(ctx.conn, ctx.info, tool, args, u) if u is not None else []
        if mine:
            ctx.why[f"{', '.join(mine)}: only other users' rows"] += 1
            continue  # a customer acts only on their own rows
        bad = [r.name for r in ctx.violated(tool, args)]
        res = ctx.call(tool, args)
        changes = ctx.s.changes() if res.ok and not ctx.tools[tool].read_only else []
        if not res.ok:
            ctx.why[f"{res.error_type}: {res.message[:90]}"] += 1
        elif bad:
            ctx.why[f"breaks policy rule {bad[0]}"] += 1
        elif not ctx.tools[tool].read_only and not ctx.meaningful(changes):
            ctx.why["changes no compared column"] += 1
        if ok(res, changes, bad):
            args, res, changes = _minimal(ctx, state, tool, args, res, changes, ok)
            return Call(tool, args, res.result, changes, u, prow, rows)
    return None


def _minimal(
    ctx: Ctx,
    state: bytes | Task,
    tool: str,
    args: dict,
    res: ToolResult,
    changes: list[RowChange],
    ok: Accept,
) -> tuple[dict, ToolResult, list[RowChange]]:
    """Drop optional args the call does not need (same outcome without them): a gold call
    should not name a payment method that pays nothing."""
    for name, p in ctx.tools[tool].params.items():
        if p.required or name not in args:
            continue
        fewer = {k: v for k, v in args.items() if k != name}
        ctx.at(state)
        bad = [r.name for r in ctx.violated(tool, fewer)]
        r2 = ctx.call(tool, fewer)
        ch2 = ctx.s.changes() if r2.ok and not ctx.tools[tool].read_only else []
        if ok(r2, ch2, bad) and _same_changes(ch2, changes):
            args, res, changes = fewer, r2, ch2
    return args, res, changes


def _same_changes(a: list[RowChange], b: list[RowChange]) -> bool:
    return [c.model_dump() for c in a] == [c.model_dump() for c in b]


# ---- tracing arguments back to reads ----------------------------------------------------------------
def user_facts(ctx: Ctx, state: bytes | Task, user: Any, group: list[str]) -> Facts:
    """What the user says about themself: the login group's values (their email, or name and
    zip, or their id) in ``state``."""
    ctx.at(state)
    facts = Facts()
    utable = ctx.info.user_table
    row = fetch_row(ctx.conn, ctx.info, utable, {ctx.info.pk(utable)[0]: user})
    for col in group:
        if row is not None:
            ref = f"{utable}.{col}"
            facts.add(ctx.info.root(ref), row.get(col))
    return facts


def describe_facts(
    ctx: Ctx, state: bytes | Task, rows: list[tuple[str, dict]], facts: Facts
) -> None:
    """Facts the user can state about rows they talk about (in ``state``): descriptive columns
    of each row and of its parents (a flight's date, its route), and keys of knowable tables."""
    ctx.at(state)
    conn = ctx.conn
    for table, key in rows:
        row = fetch_row(conn, ctx.info, table, key)
        if row is None:
            continue
        for col in ctx.info.describing_columns(table):
            facts.add(ctx.info.root(f"{table}.{col}"), row.get(col))
        if table in ctx.info.knowable_tables:
            for col in ctx.info.pk(table):
                facts.add(ctx.info.root(f"{table}.{col}"), row.get(col))
        for fk in ctx.info.parents(table):
            prow = (
                fetch_row(conn, ctx.info, fk.parent, {fk.pcol: row.get(fk.column)})
                if ctx.info.pk(fk.parent) == [fk.pcol]
                else None
            )
            if prow is None:
                continue
            for col in ctx.info.descriptive_columns(fk.parent):
                facts.add(ctx.info.root(f"{fk.parent}.{col}"), prow.get(col))
            if fk.parent in ctx.info.knowable_tables:
                facts.add(ctx.info.root(f"{table}.{fk.column}"), row.get(fk.column))


def _linked(ctx: Ctx, root: str, value: Any, ref: str) -> list[Any]:
    """Values of ``ref`` linked by foreign keys to the row that ``root`` = ``value`` names
    (the product of a variant): the argument most likely to reveal that row."""
    row = _row_of(ctx, root, value)
    if row is None:
        return []
    return [v for v, _n, _via in ctx.related(row[0], row[1], ref)]


def arg_options(
    ctx: Ctx,
    tool: str,
    avail: Facts,
    hint: tuple[str, Any] | None = None,
    limit: int = 6,
    free: random.Random | None = None,
) -> list[dict[str, Any]]:
    """Argument sets for a call from available values (required params only); with a hint
    (root, value) of what the call should reveal, values linked to it come first. With
    ``free`` (an rng), params that name no row get drawn values instead of ruling it out."""
    t = ctx.tools[tool]
    per: list[tuple[str, list[Any]]] = []
    for name, p in t.params.items():
        if not p.required:
            continue
        src = ctx.sources[tool][name]
        col = src.ref or src.column
        if (
            free is not None
            and (not src.ref or src.written or not ctx.info.is_id_ref(src.ref))
            and p.type != "array"
        ):
            per.append((name, [ctx.free.value(ctx.conn, p, src, free, name)]))
            continue
        if p.type == "enum" and not col:
            per.append((name, list(p.values or [])[:2]))
            continue
        if not col:
            return []
        vals = avail.by_root.get(ctx.info.root(col), [])
        if hint is not None and vals:
            linked = SameSet()
            for x in _linked(ctx, hint[0], hint[1], ctx.info.root(col)):
                linked.add(x)
            first = [v for v in vals if v in linked]
            chosen = set(first)  # scalars (Facts holds no lists or objects)
            vals = first + [v for v in vals if v not in chosen]
        vals = vals[:3]
        if not vals:
            return []
        per.append((name, [[v] for v in vals] if p.type == "array" else vals))
    combos = itertools.islice(itertools.product(*[v for _, v in per]), limit)
    return [dict(zip([n for n, _ in per], c, strict=True)) for c in combos]


def _learn(ctx: Ctx, tool: str, result: Any, avail: Facts) -> None:
    for fieldname, ref in ctx.outputs[tool].items():
        for v in field_values(result, fieldname):
            avail.add(ctx.info.root(ref), v)


def resolve(
    ctx: Ctx, state: bytes | Task, call: Call, facts: Facts, max_steps: int = 6
) -> tuple[list[Call], list[list[str]]] | None:
    """Read calls that produce every argument of ``call`` the user cannot know, in order,
    and the data edges used ([producer, field, consumer, param]); None if some cannot be."""
    info = ctx.info
    needs: list[tuple[str, Any, str]] = []  # (root, value, param)
    for name, v in call.args.items():
        ref = ctx.sources[call.tool][name].ref
        if not ref or not info.is_id_ref(ref):
            continue
        for x in v if isinstance(v, list) else [v]:
            needs.append((info.root(ref), x, name))
    ctx.at(state)
    avail = facts
    steps: list[Call] = []
    edges: list[list[str]] = []
    produced: dict[tuple[str, str], tuple[str, str]] = {}
    readers = sorted(
        ctx.read_tools,
        key=lambda n: (len([p for p in ctx.tools[n].params.values() if p.required]), n),
    )
    for _ in range(max_steps + 1):
        open_needs = [nd for nd in needs if not avail.has(nd[0], nd[1])]
        if not open_needs:
            break
        if len(steps) >= max_steps:
            ctx.fail = f"unresolvable_argument: {call.tool} needs more than {max_steps} reads"
            return None
        root, value, _param = open_needs[0]
        producers = [
            t for t in readers if any(info.root(r) == root for r in ctx.outputs[t].values())
        ]
        step = _try_producers(ctx, producers, root, value, avail)
        if step is None:
            wanted = {
                info.root(ctx.sources[t][n].ref or "")
                for t in producers
                for n, p in ctx.tools[t].params.items()
                if p.required and ctx.sources[t][n].ref
            }
            step = _try_enablers(
                ctx, readers, wanted, avail, {s.tool for s in steps}, (root, value)
            )
        if step is None:
            ctx.fail = (
                f"unresolvable_argument: no read tool gives {call.tool}.{_param} ({root}) "
                "from what the user can say"
            )
            return None
        steps.append(step)
        for fieldname, ref in ctx.outputs[step.tool].items():
            for v in field_values(step.result, fieldname):
                produced.setdefault((info.root(ref), str(v)), (step.tool, fieldname))
        _learn(ctx, step.tool, step.result, avail)
    for root, value, param in needs:
        src = produced.get((root, str(value)))
        if src is not None:
            edge = [src[0], src[1], call.tool, param]
            if edge not in edges:
                edges.append(edge)
    return steps, edges


def _try_producers(
    ctx: Ctx, producers: list[str], root: str, value: Any, avail: Facts
) -> Call | None:
    for t in producers:
        fields = [f for f, r in ctx.outputs[t].items() if ctx.info.root(r) == root]
        for args in arg_options(ctx, t, avail, (root, value)):
            res = ctx.call(t, args)
            if res.ok and any(same(value, x) for f in fields for x in field_values(res.result, f)):
                return Call(t, args, res.result)
    return None


def _try_enablers(
    ctx: Ctx,
    readers: list[str],
    wanted: set[str],
    avail: Facts,
    used: set[str],
    hint: tuple[str, Any],
) -> Call | None:
    for t in readers:
        if t in used:
            continue
        roots = {ctx.info.root(r) for r in ctx.outputs[t].values()}
        if not roots & wanted:
            continue
        for args in arg_options(ctx, t, avail, hint):
            res = ctx.call(t, args)
            if not res.ok or not meaningful_result(res.result):
                continue
            fresh = [
                v
                for f, r in ctx.outputs[t].items()
                if ctx.info.root(r) in wanted
                for v in field_values(res.result, f)
                if not avail.has(ctx.info.root(r), v)
            ]
            if fresh:
                return Call(t, args, res.result)
    return None
