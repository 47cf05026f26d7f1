"""reset(task) as a patch: undo to the base + the task's start patch in place.

No copy of the database per task (memory flat in the number of tasks), no deserialize
when switching between tasks, and the same state a copy-based start would give.
"""

from __future__ import annotations

import pytest
from tinyshop import make_world

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
