"""reset(task) as a patch: undo to the base + the task's start patch in place.

No copy of the database per task (memory flat in the number of tasks), no deserialize
when switching between tasks, and the same state a copy-based start would give.
"""

from __future__ import annotations

import pytest
from tinyshop import make_world, note, reinsert_order

from engine.errors import TaskError
from engine.session import Session, apply_patch, shared_state
from engine.spec.task import RowChange, Task, UserProfile
from engine.world import World


def _spy(s: Session) -> list[int]:
    seen = [0]
    real = s._load

    def spy(data: bytes) -> None:
        seen[0] += 1
        real(data)

    s._load = spy  # type: ignore[method-assign]
    return seen


def _task(world: World, i: int) -> Task:
    """Task i: customer C0001's note and order #W0003's status changed, plus a new order."""
    s = world.session()
    cust = dict(zip(world.spec.entities["customers"].columns,
                    s.conn.execute("SELECT * FROM customers WHERE customer_id = 'C0001'").fetchone(),
                    strict=True))  # fmt: skip
    patch = [
        RowChange(table="customers", key={"customer_id": "C0001"}, before=cust,
                  after={**cust, "note": f"note {i}"}),
        RowChange(table="orders", key={"order_id": f"#W{9000 + i}"}, after={
            "order_id": f"#W{9000 + i}", "customer_id": "C0002", "status": "pending",
            "created_at": "2024-05-01 10:00:00", "total": float(i)}),
        RowChange(table="orders", key={"order_id": "#W0003"}, after={
            "order_id": "#W0003", "customer_id": "C0002",
            "status": "cancelled" if i % 2 else "pending",
            "created_at": "2024-03-01 12:00:00", "total": 14.0}),
    ]  # fmt: skip
    return Task(id=f"t{i}", domain="tiny_shop", instruction="x", user=UserProfile(name="A"),
                start_patch=patch, toolset=[], gold_actions=[])  # fmt: skip


@pytest.fixture
def big_world() -> World:
    return make_world(extra=4000)


@pytest.fixture(scope="module")
def bank_world() -> World:
    from synth.build import build_world

    return build_world("fixtures/domains/bank.yaml", seed=1, rows=2000, proctest=False).world()


def test_switching_tasks_never_copies_the_database(big_world: World) -> None:
    tasks = [_task(big_world, i) for i in range(40)]
    s = big_world.session()
    loads = _spy(s)
    for round_ in range(2):
        for t in tasks:
            s.reset(t)
            assert s.changes() == [] and s.task is t
            if round_ == 0:  # a short episode between resets
                assert s.call("get_order", {"order_id": f"#W{9000 + int(t.id[1:])}"}).ok
    assert loads[0] == 0, "every switch was undo + patch in place"
    held = [v for v in vars(shared_state(big_world)).values() if isinstance(v, dict)]
    assert not any(isinstance(x, bytes) for d in held for x in d.values()), "no bytes per task"


def test_patched_start_equals_a_copy_with_the_patch(big_world: World) -> None:
    shared = shared_state(big_world)
    s, other = big_world.session(), big_world.session()
    for i in (3, 4, 3):
        t = _task(big_world, i)
        s.reset(t)
        copy = apply_patch(big_world.spec, shared.base, t.start_patch, shared.log)
        other.restore(copy)
        assert s.state_hash() == other.state_hash()
        assert s.call("get_order", {"order_id": "#W0003"}).result["status"] == (
            "cancelled" if i % 2 else "pending"
        )
    s.reset()
    fresh = big_world.session()
    assert s.state_hash() == fresh.state_hash() and s.changes() == []


def test_a_bad_patch_changes_nothing_and_the_session_goes_on(big_world: World) -> None:
    good = _task(big_world, 1)
    bad = Task(id="bad", domain="tiny_shop", instruction="x", user=UserProfile(name="A"),
               start_patch=[*good.start_patch, RowChange(
                   table="orders", key={"order_id": "#B1"}, after={
                       "order_id": "#B1", "customer_id": "C-none", "status": "pending",
                       "created_at": "2024-05-01 10:00:00", "total": 1.0})],
               toolset=[], gold_actions=[])  # fmt: skip
    s = big_world.session()
    base = s.state_hash()
    with pytest.raises(TaskError, match="foreign keys"):
        s.reset(bad)
    assert s.state_hash() == base, "nothing of the bad patch was applied"
    s.reset(good)
    assert s.call("get_order", {"order_id": "#W9001"}).ok


def _rows(s: Session) -> list[tuple]:
    """Every stored row of every table, rowids and changelog tables included, in rowid order."""
    names = s.conn.execute(
        "SELECT name FROM world.sqlite_master WHERE type = 'table' ORDER BY name"
    ).fetchall()
    return [(n, s.conn.execute(f'SELECT rowid, * FROM "{n}" ORDER BY rowid').fetchall())
            for (n,) in names]  # fmt: skip


def _delete_leaf(world: World, s: Session, seed: int, taken: set[tuple[str, str]]) -> RowChange:
    ents = world.spec.entities
    parents = {c.references.split(".")[0] for e in ents.values() for c in e.columns.values()
               if c.references}  # fmt: skip
    for table in sorted(set(ents) - parents):
        cols = list(ents[table].columns)
        rows = s.conn.execute(f'SELECT * FROM "{table}" ORDER BY rowid').fetchall()
        for row in rows[seed % max(1, len(rows)) :] + rows:
            before = dict(zip(cols, row, strict=True))
            key = {k: before[k] for k in ents[table].primary_key}
            if (table, str(key)) not in taken:
                return RowChange(table=table, key=key, before=before, after=None)
    raise AssertionError("no leaf row to delete")


def _random_tasks(world: World, seeds: range) -> list[Task]:
    """Tasks whose start patches are what random write calls did to the base: updates,
    inserts and deletes (``remove_items``), overlapping rows from one task to the next."""
    from test_session import play, random_calls

    tasks = []
    for seed in seeds:
        s = world.session()
        play(s, random_calls(world, seed, 3 + seed % 5))
        patch = s.changes()
        if seed % 2:  # and a row of a table nothing references deleted (a leaf)
            patch.append(_delete_leaf(world, s, seed, {(c.table, str(c.key)) for c in patch}))
        if patch:
            tasks.append(Task(id=f"r{seed}", domain=world.spec.name, instruction="x",
                              user=UserProfile(name="A"), start_patch=patch, toolset=[],
                              gold_actions=[]))  # fmt: skip
    assert len(tasks) >= len(seeds) - 2, "most random episodes wrote rows"
    return tasks


@pytest.mark.parametrize("which", ["tiny", "bank"])
def test_switching_random_tasks_equals_a_fresh_start(
    which: str, tiny_world: World, bank_world: World
) -> None:
    """reset(task) between tasks whose patches share rows, insert and delete, with an
    episode of writes in between or not: rows, rowids, logs and later calls equal a
    session restored from the base with that patch applied as a copy."""
    import random

    from test_session import assert_same_future, loads, play, random_calls

    world = tiny_world if which == "tiny" else bank_world
    tasks = _random_tasks(world, range(8))
    kinds = {(ch.before is None, ch.after is None) for t in tasks for ch in t.start_patch}
    assert kinds == {(True, False), (False, False), (False, True)}, "inserts, updates, deletes"
    shared = shared_state(world)
    rng = random.Random(5)
    s = world.session()
    deserialized = loads(s)
    for step in range(40):
        task = rng.choice([*tasks, None])
        s.reset(task)
        truth = world.session()
        if task is not None:
            truth.restore(apply_patch(world.spec, shared.base, task.start_patch, shared.log))
        assert _rows(s) == _rows(truth), f"step {step}: {task and task.id}"
        assert s.changes() == []
        if step % 3 == 0:  # the same calls from both, then back to the start state
            later = random_calls(world, 50 + step, 6, task)
            assert_same_future(s, truth, later)
        elif step % 3 == 1:  # an episode the next reset undoes
            play(s, random_calls(world, 80 + step, 4, task))
    assert deserialized[0] == 0, "every switch was in place"


def test_a_failed_switch_deserializes_and_applies_from_statements(tiny_world: World) -> None:
    """A switch that fails midway (journal off: the state is unknown) loads the base, applies
    the patch from its statements and stops replaying that patch."""
    import dataclasses

    from test_session import loads

    t1, t2 = _task(tiny_world, 1), _task(tiny_world, 2)
    shared = shared_state(tiny_world)
    s = tiny_world.session()
    s.reset(t1)
    s.reset(t2)
    key = shared.digest(t1)
    good = shared.compiled[key]
    assert good is not None
    bad_op = ("INSERT INTO no_such_table VALUES (?)", ((1,),))
    shared.compiled[key] = dataclasses.replace(good, apply=(*good.apply, bad_op))
    deserialized = loads(s)
    s.reset(t1)
    truth = tiny_world.session()
    truth.restore(apply_patch(tiny_world.spec, shared.base, t1.start_patch, shared.log))
    assert deserialized[0] == 1 and _rows(s) == _rows(truth) and s.changes() == []
    assert shared.compiled[key] is None, "the patch is applied from its statements from now on"
    assert s.conn.execute("PRAGMA world.journal_mode").fetchone() == ("memory",)
    s.reset(t2)
    s.reset(t1)
    assert deserialized[0] == 1 and _rows(s) == _rows(truth)


def test_episode_undo_in_the_switch_falls_back_when_it_cannot(
    tiny_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The episode is undone in the switch's transaction; an episode over the limit, or one
    whose undo fails (a row moved by hand), loads the base, and the patches stay replayable."""
    from test_session import loads

    import engine.session as session_mod

    t1, t2 = _task(tiny_world, 1), _task(tiny_world, 2)
    shared = shared_state(tiny_world)
    truth = tiny_world.session()
    truth.restore(apply_patch(tiny_world.spec, shared.base, t2.start_patch, shared.log))
    s = tiny_world.session()
    s.reset(t1)
    s.reset(t2)
    s.reset(t1)
    deserialized = loads(s)
    note(s, "short")  # a short episode: undone in place
    s.reset(t2)
    assert deserialized[0] == 0 and _rows(s) == _rows(truth)
    monkeypatch.setattr(session_mod, "UNDO_LIMIT", 2)
    s.reset(t1)
    for i in range(3):
        note(s, f"n{i}", customer=f"C000{i + 1}")
    s.reset(t2)
    assert deserialized[0] == 1 and _rows(s) == _rows(truth)
    s.reset(t1)
    reinsert_order(s.conn, "#W0001")
    s.reset(t2)
    assert deserialized[0] == 2 and _rows(s) == _rows(truth) and s.changes() == []
    assert shared.compiled[shared.digest(t1)] is not None
    assert shared.compiled[shared.digest(t2)] is not None
