"""A task while it is being sampled: the start-state patch, the gold steps, the sub-goals.

Gold steps always replay from the current start state; preparing the start state (an order
made older for a refusal) is kept only if every step so far still replays.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from engine.spec.task import RowChange, Task
from synth.tasks.chain import Call, Facts
from synth.tasks.context import Ctx
from synth.tasks.start import Patch, StartBuilder


@dataclass
class Draft:
    index: int
    rng: random.Random
    level: str
    user: Any
    group: list[str]
    patch: Patch
    start: bytes | Task  # a Ctx state: the base or the patch's changes as a start patch
    facts: Facts
    steps: list[Call] = field(default_factory=list)
    subgoals: list[dict[str, Any]] = field(default_factory=list)
    distractor_keys: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    edges: list[list[str]] = field(default_factory=list)
    chain: list[str] = field(default_factory=list)

    @property
    def writes(self) -> list[Call]:
        return [s for s in self.steps if s.changes]

    def tools(self) -> list[str]:
        out = [s.tool for s in self.steps]
        for g in self.subgoals:
            for k in ("forbidden", "wrong"):
                if g.get(k):
                    out.append(g[k]["tool"])
        return list(dict.fromkeys(out))


def replay(ctx: Ctx, start: bytes | Task, steps: list[Call]) -> Task | None:
    """The state after ``steps`` from ``start`` (as row changes from the base, never a copy
    of the database); None if a step fails."""
    ctx.at(start)
    for st in steps:
        if not ctx.call(st.tool, st.args).ok:
            return None
    return after(ctx, start)


def after(ctx: Ctx, start: bytes | Task) -> Task:
    """The scratch session's current state, entered from ``start`` (the base or a
    start-patch state) and changed since: the start's changes composed with the
    session's, as one start patch from the base."""
    if isinstance(start, Task):
        changes = compose(start.start_patch, ctx.s.changes())
    elif start is ctx.base:
        changes = ctx.s.changes()
    else:
        raise ValueError("draft.after: the start state is neither the base nor a start patch")
    return ctx.state(changes)


def compose(first: list[RowChange], then: list[RowChange]) -> list[RowChange]:
    """Row changes ``first`` then ``then`` as one list from the state before ``first`` (a row
    inserted and deleted again drops out; a row changed back to its before stays, as
    ``changes()`` keeps it)."""
    out: dict[tuple[str, str], RowChange] = {}
    for ch in first:
        out[(ch.table, repr(sorted(ch.key.items())))] = ch
    for ch in then:
        ident = (ch.table, repr(sorted(ch.key.items())))
        old = out.get(ident)
        if old is None:
            out[ident] = ch
            continue
        if old.before is None and ch.after is None:
            del out[ident]
            continue
        out[ident] = RowChange(table=ch.table, key=ch.key, before=old.before, after=ch.after)
    return list(out.values())


def current(ctx: Ctx, d: Draft) -> Task | None:
    return replay(ctx, d.start, d.steps)


def prepare(
    ctx: Ctx, sb: StartBuilder, d: Draft, table: str, key: dict[str, Any], col: str, value: Any
) -> bool:
    """Set one column in the start state; kept only if it is sound and every gold step so
    far still replays."""
    conn = d.patch.conn
    snapshot_updates = dict(d.patch.updated)
    conn.execute("SAVEPOINT draft_prepare")
    if not sb.set_column(d.patch, table, key, col, value):
        conn.execute("RELEASE draft_prepare")
        return False
    start = ctx.state(d.patch.changes(ctx))  # the edited state: the steps replay on it
    if replay(ctx, start, d.steps) is None:
        conn.execute("ROLLBACK TO draft_prepare")
        conn.execute("RELEASE draft_prepare")
        d.patch.updated = snapshot_updates
        return False
    conn.execute("RELEASE draft_prepare")
    d.start = start
    return True
