"""Sampling states as start patches: a state after gold steps, kept as its row changes from
the base and entered again by ``Session.reset``, is the state the steps left."""

from __future__ import annotations

from engine.spec.task import RowChange
from synth.build import build_world
from synth.graph import build_graph
from synth.tasks import generate_tasks
from synth.tasks.chain import Call
from synth.tasks.context import Ctx
from synth.tasks.draft import compose, replay


def _rows(ctx: Ctx) -> dict[str, list[tuple]]:
    conn = ctx.conn
    return {
        t: conn.execute(f'SELECT rowid, * FROM "{t}" ORDER BY rowid').fetchall()
        for t in ctx.spec.entities
    }


def test_compose_keeps_the_first_before_and_the_last_after() -> None:
    ins = RowChange(table="t", key={"id": 1}, before=None, after={"id": 1, "v": 1})
    upd = RowChange(table="t", key={"id": 1}, before={"id": 1, "v": 1}, after={"id": 1, "v": 2})
    other = RowChange(table="t", key={"id": 2}, before={"id": 2, "v": 0}, after={"id": 2, "v": 5})
    gone = RowChange(table="t", key={"id": 1}, before={"id": 1, "v": 2}, after=None)
    assert compose([ins, other], [upd]) == [
        RowChange(table="t", key={"id": 1}, before=None, after={"id": 1, "v": 2}),
        other,
    ]
    assert compose([ins, other], [upd, gone]) == [other]


def test_a_replayed_state_is_entered_again_as_the_steps_left_it(domains_dir) -> None:
    world = build_world(domains_dir / "tiny_shop.yaml", seed=1, proctest=False).world()
    tasks = generate_tasks(world, n=3, seed=0).tasks
    patched = [t for t in tasks if t.start_patch and t.gold_actions]
    assert patched
    ctx = Ctx(world, build_graph(world.spec), 0)
    for task in patched:
        start = ctx.state(list(task.start_patch))
        steps = [Call(a.tool, a.args, None) for a in task.gold_actions]
        state = replay(ctx, start, steps)
        assert state is not None
        live = _rows(ctx)  # the session as the steps left it
        ctx.at(ctx.base)
        assert _rows(ctx) != live
        ctx.at(state)
        assert _rows(ctx) == live
