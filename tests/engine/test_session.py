"""Sessions: isolation, reset/snapshot/restore/fork, changelog, state hash, tasks, evaluation."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from tinyshop import make_world, note, reinsert_order

import engine.session as session_mod
from engine.errors import TaskError
from engine.session import Session
from engine.spec.models import DomainSpec
from engine.spec.task import Action, RowChange, Task, UserProfile
from engine.world import World

HERE = Path(__file__).resolve().parent
CANCEL = {"order_id": "#W0001", "reason": "no longer needed"}
PRELUDE = f"import sys; sys.path.insert(0, {str(HERE)!r})\nfrom tinyshop import make_world\n"


def task_for(world: World, patch: list[RowChange] | None = None, tid: str = "t1") -> Task:
    """A task whose gold is cancelling #W0001 from the (patched) start state."""
    probe = world.session()
    task = Task(
        id=tid, domain="tiny_shop", instruction="Cancel my order #W0001.", user=UserProfile(name="Ann"),
        start_patch=patch or [], toolset=["get_order", "cancel_order"],
        gold_actions=[Action(tool="cancel_order", args=CANCEL)], required_answers=["cancelled"],
    )  # fmt: skip
    probe.reset(task)
    assert probe.call("cancel_order", CANCEL).ok
    task.gold_diff = probe.changes()
    return task


# ---- isolation --------------------------------------------------------------------------------
def test_thousand_sessions_stay_isolated(tiny_world: World) -> None:
    sessions = [tiny_world.session() for _ in range(1000)]
    base = sessions[0].state_hash()
    note(sessions[500], "only here")
    assert sessions[500].state_hash() != base
    hashes = {s.state_hash() for i, s in enumerate(sessions) if i != 500}
    assert hashes == {base}
    assert sessions[499].call("get_customer", {"customer_id": "C0002"}).ok
    assert sessions[501].conn.execute(
        "SELECT note FROM customers WHERE customer_id = 'C0002'"
    ).fetchone() == ("Prefers email.",)
    note(sessions[0], "only here")
    assert sessions[0].state_hash() == sessions[500].state_hash(), "same content, same hash"
    for s in sessions:
        s.close()


def test_sessions_in_threads(tiny_world: World) -> None:
    out: dict[int, str] = {}

    def work(i: int) -> None:
        s = tiny_world.session()
        for j in range(30):
            s.reset()
            note(s, f"thread {i} round {j}")
            assert s.call("get_order", {"order_id": "#W0001"}).ok
        out[i] = s.conn.execute(
            "SELECT note FROM customers WHERE customer_id = 'C0002'"
        ).fetchone()[0]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == {i: f"thread {i} round 29" for i in range(4)}


# ---- reset / snapshot / restore / fork ------------------------------------------------------------
@pytest.mark.parametrize("limit", [0, 256], ids=["deserialize", "undo"])
def test_reset_returns_to_base(
    tiny_world: World, limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session_mod, "UNDO_LIMIT", limit)
    s = tiny_world.session()
    base_hash, base_bytes = s.state_hash(), s.snapshot()
    assert s.call("cancel_order", CANCEL).ok
    assert s.state_hash() != base_hash and s.history
    s.reset()
    assert s.state_hash() == base_hash and s.changes() == []
    # a full reset is byte-identical; an in-place undo only equal in content (page layout)
    assert (s.snapshot() == base_bytes) == (limit == 0)
    assert World.from_parts(tiny_world.spec, s.export_bytes()).session().state_hash() == base_hash
    assert s.changes() == [] and s.history == [] and s.task is None


def test_snapshot_restore(tiny_world: World) -> None:
    s = tiny_world.session()
    note(s, "one")
    snap, digest = s.snapshot(), s.state_hash()
    assert s.call("cancel_order", CANCEL).ok
    s.restore(snap)
    assert s.state_hash() == digest
    assert s.changes() == [], "the changelog starts again at the restored state"
    note(s, "two")
    (ch,) = s.changes()
    assert (ch.before["note"], ch.after["note"]) == ("one", "two")
    s.reset()
    s.restore(snap)
    assert s.state_hash() == digest


@pytest.mark.parametrize("lean", [False, True])
def test_base_snapshot_is_the_base_without_a_copy(tiny_world: World, lean: bool) -> None:
    """``base_snapshot`` is the base state from any state; a world that keeps instrumented
    bytes hands out that one object, a fresh session's ``snapshot()`` (no copy per caller)."""
    world = World.from_parts(tiny_world.spec, tiny_world.base_bytes, lean=lean)
    fresh = world.session().snapshot()
    s = world.session()
    note(s, "changed")
    base = s.base_snapshot()
    if not lean:  # (a lean world's snapshot after a reset differs in header counters only)
        assert base == fresh
    assert (base is world.session().base_snapshot()) is not lean
    s.restore(base)
    assert s.state_hash() == world.session().state_hash()


def test_export_bytes_make_a_plain_world(tiny_world: World) -> None:
    s = tiny_world.session()
    note(s, "exported")
    data = s.export_bytes()
    conn = sqlite3.connect(":memory:")
    conn.deserialize(data)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert not any(n.startswith("_scaleenv") for n in names)
    again = World.from_parts(tiny_world.spec, data).session()
    assert again.state_hash() == s.state_hash() and again.changes() == []


def test_restore_accepts_plain_world_bytes(tiny_world: World) -> None:
    s = tiny_world.session()
    note(s, "x")
    s.restore(tiny_world.base_bytes)
    assert s.state_hash() == tiny_world.session().state_hash()
    note(s, "y")
    assert len(s.changes()) == 1


def test_fork_is_independent_and_keeps_context(tiny_world: World) -> None:
    s = tiny_world.session()
    task = task_for(tiny_world)
    s.reset(task)
    note(s, "before fork")
    f = s.fork()
    assert f.state_hash() == s.state_hash() and f.task is task
    assert f.changes() == s.changes(), "a fork keeps the episode's changes"
    assert [a.tool for a, _ in f.history] == ["add_customer_note"]
    assert f.call("cancel_order", CANCEL).ok
    assert f.state_hash() != s.state_hash()
    assert s.conn.execute("SELECT status FROM orders WHERE order_id = '#W0001'").fetchone() == (
        "pending",
    )


# ---- changelog ---------------------------------------------------------------------------------
def test_changes_cover_insert_update_delete(tiny_world: World) -> None:
    s = tiny_world.session()
    assert s.call("cancel_order", CANCEL).ok
    assert s.call("remove_items", {"order_id": "#W0003", "item_ids": [4]}).ok
    by_kind: dict[str, list[RowChange]] = {}
    for ch in s.changes():
        by_kind.setdefault(ch.kind, []).append(ch)
    (ins,) = by_kind["insert"]
    assert ins.table == "refunds" and ins.before is None and ins.after["amount"] == 39
    assert ins.key == {"refund_id": ins.after["refund_id"]}
    (dele,) = by_kind["delete"]
    assert dele.table == "order_items" and dele.key == {"item_id": 4} and dele.after is None
    assert dele.before == {
        "item_id": 4,
        "order_id": "#W0003",
        "product_id": "P002",
        "quantity": 1,
        "unit_price": 14,
    }
    updated = {(c.table, tuple(c.key.values())) for c in by_kind["update"]}
    assert updated == {
        ("orders", ("#W0001",)), ("orders", ("#W0003",)), ("products", ("P001",)),
        ("products", ("P002",)), ("payments", ("PAY00003",)),
    }  # fmt: skip
    assert sorted(map(repr, s.changes())) == sorted(map(repr, tiny_world.session().diff(s)))


def test_changes_net_out(tiny_world: World) -> None:
    s = tiny_world.session()
    note(s, "temp")
    note(s, "Prefers email.")  # back to the original value
    assert s.changes() == []
    assert s.call("cancel_order", CANCEL).ok
    refund = s.changes()[-1].after["refund_id"]
    s.conn.execute("DELETE FROM refunds WHERE refund_id = ?", (refund,))  # runtime-internal write
    assert all(c.table != "refunds" for c in s.changes()), "inserted then deleted: no change"


def test_changelog_survives_many_resets_with_fresh_statements(tiny_world: World) -> None:
    s = tiny_world.session()
    for i in range(60):
        s.reset()
        # a new SQL text each round is prepared against the freshly loaded schema
        s.conn.execute(f"UPDATE customers SET balance = {i} WHERE customer_id = 'C0003'")
        assert s.call("remove_items", {"order_id": "#W0001", "item_ids": [2]}).ok
        s.conn.execute(f"WITH r(x) AS (SELECT {i}) SELECT x FROM r").fetchall()
        kinds = sorted((c.table, c.kind) for c in s.changes())
        assert ("customers", "update") in kinds and ("order_items", "delete") in kinds


def test_json_each_after_reset_does_not_crash() -> None:
    """SQLite 3.40 crashes when json_each is used after ``deserialize`` into ``main``."""
    code = PRELUDE + (
        "s = make_world().session()\n"
        "base = s.snapshot()\n"
        "for i in range(200):\n"
        "    s.conn.execute('WITH r(x) AS (SELECT 1) SELECT x FROM r').fetchall()\n"
        "    assert s.call('remove_items', {'order_id': '#W0001', 'item_ids': [1]}).ok\n"
        "    s.reset() if i & 1 else s.restore(base)\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


# ---- state hash ---------------------------------------------------------------------------------
def test_state_hash_is_deterministic_across_processes(tiny_world: World) -> None:
    s = tiny_world.session()
    assert s.call("cancel_order", CANCEL).ok
    here = s.state_hash()
    code = PRELUDE + (
        "s = make_world().session()\n"
        "s.call('cancel_order', {'order_id': '#W0001', 'reason': 'no longer needed'})\n"
        "print(s.state_hash())\n"
    )
    for seed in ("1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
        )
        assert proc.stdout.strip() == here, proc.stderr[-2000:]


def test_state_hash_is_logical(tiny_world: World) -> None:
    a, b = tiny_world.session(), tiny_world.session()
    note(a, "x")
    note(a, "Prefers email.")
    assert a.state_hash() == b.state_hash(), "bytes may differ; the logical content does not"


# ---- tasks and evaluation ------------------------------------------------------------------------------
def test_reset_to_task_start_state(tiny_world: World) -> None:
    patch = [
        RowChange(table="customers", key={"customer_id": "C0004"}, after={
            "customer_id": "C0004", "name": "Ann Lee", "email": "ann2@example.com", "tier": "regular",
            "balance": 0, "note": None}),
        RowChange(table="orders", key={"order_id": "#W0002"}, before={}, after={
            "order_id": "#W0002", "customer_id": "C0001", "status": "pending",
            "created_at": "2024-04-01 09:30:00", "total": 40}),
        RowChange(table="refunds", key={"refund_id": "nothing"}, after=None),
    ]  # fmt: skip
    task = task_for(tiny_world, patch)
    s = tiny_world.session()
    s.reset(task)
    assert s.changes() == [] and s.task is task
    assert s.call("find_customer_by_email", {"email": "ann2@example.com"}).result == "C0004"
    assert s.call("get_order", {"order_id": "#W0002"}).result["status"] == "pending"
    digest = s.state_hash()
    assert not hasattr(tiny_world, "_start_cache"), "no copy of the database per task"
    note(s, "episode")
    s.reset(task)
    assert s.state_hash() == digest and s.changes() == []
    s.reset()
    assert s.call("get_order", {"order_id": "#W0002"}).result["status"] == "delivered"


def test_bad_start_patch_is_a_task_error(tiny_world: World) -> None:
    bad = RowChange(table="orders", key={"order_id": "#W0009"}, after={
        "order_id": "#W0009", "customer_id": "C9999", "status": "pending",
        "created_at": "2024-04-01 09:30:00", "total": 1})  # fmt: skip
    task = Task(id="bad", domain="tiny_shop", instruction="x", user=UserProfile(name="x"),
                start_patch=[bad], toolset=[], gold_actions=[])  # fmt: skip
    with pytest.raises(TaskError, match="foreign keys"):
        tiny_world.session().reset(task)


def test_evaluate_scores_and_never_mutates(tiny_world: World) -> None:
    task = task_for(tiny_world)
    s = tiny_world.session()
    s.reset(task)
    snap, digest = s.snapshot(), s.state_hash()
    assert not s.evaluate(task).passed, "doing nothing must fail"
    assert s.snapshot() == snap and s.state_hash() == digest
    assert s.call("cancel_order", CANCEL).ok
    snap = s.snapshot()
    score = s.evaluate(task, ["Your order is cancelled."])
    assert score.passed, score.explanation
    assert not s.evaluate(task, []).passed, "the required answer is missing"
    assert s.snapshot() == snap


def test_diff_against_session_and_snapshot(tiny_world: World) -> None:
    a, b = tiny_world.session(), tiny_world.session()
    note(b, "changed")
    (ch,) = a.diff(b)
    assert ch.table == "customers" and ch.after["note"] == "changed"
    assert a.diff(b.snapshot()) == [ch]
    assert a.diff(a) == []


def test_tool_lists_and_quarantine(tiny_spec: DomainSpec) -> None:
    spec = tiny_spec.model_copy(deep=True)
    spec.tools["get_order"].quarantined = "returns wrong totals"
    s = World.from_parts(spec, make_world(spec).base_bytes).session()
    assert "get_order" not in s.tool_names()
    assert s.tool_names(["cancel_order", "get_order", "nope"]) == [
        "cancel_order",
        "calculate",
        "transfer_to_human_agents",
    ]
    r = s.call("get_order", {"order_id": "#W0001"})
    assert (
        r.error_type == "unknown_tool"
        and "quarantined" in r.message
        and "wrong totals" in r.message
    )


def test_history_records_every_call(tiny_world: World) -> None:
    s = tiny_world.session()
    s.call("get_order", {"order_id": "#W0001"})
    s.call("nope", '{"a": 1}')
    s.call("get_order", "{broken")
    assert [(a.tool, a.args, r.ok) for a, r in s.history] == [
        ("get_order", {"order_id": "#W0001"}, True),
        ("nope", {"a": 1}, False),
        ("get_order", {}, False),
    ]
    assert isinstance(s.history[0][0], Action)


def test_session_from_world_on_disk(tmp_path: Path, tiny_spec: DomainSpec) -> None:
    from engine.world import write_world

    data = make_world(tiny_spec).base_bytes
    out = write_world(
        tmp_path / "w", {"spec.yaml": tiny_spec.to_yaml().encode(), "world.sqlite": data}, {}
    )
    world = World.load(out)
    s = world.session()
    assert s.call("get_order", {"order_id": "#W0001"}).ok


# ---- reset by undo (O(changes)) equals reset by deserialize ---------------------------------------
@pytest.fixture(scope="module")
def bank_world() -> World:
    from synth.build import build_world

    return build_world("fixtures/domains/bank.yaml", seed=1, rows=2000, proctest=False).world()


def random_calls(world: World, seed: int, n: int, task: Task | None = None) -> list[tuple]:
    """``n`` mostly-valid calls (writes 3 to 1) drawn from the live rows of a scratch session."""
    import random

    from synth.proctest.casegen import Sampler

    rng = random.Random(seed)
    s = world.session()
    s.reset(task)
    sampler = Sampler(s)
    writes = [t for t, tool in world.spec.tools.items() if tool.writes and not tool.quarantined]
    reads = [t for t in world.spec.tools if t not in writes]
    calls = []
    for _ in range(n):
        name = rng.choice(writes if rng.random() < 0.75 or not reads else reads)
        args = sampler.valid_args(name, rng)
        if s.call(name, args).ok and name in writes:
            sampler.invalidate()
        calls.append((name, args))
    return calls


def play(s: Session, calls: list[tuple]) -> list:
    return [s.call(name, args) for name, args in calls]


def loads(s: Session) -> list[int]:
    """Counts the session's deserializes (instance-level spy)."""
    seen = [0]
    real = s._load

    def spy(data: bytes) -> None:
        seen[0] += 1
        real(data)

    s._load = spy  # type: ignore[method-assign]
    return seen


def assert_same_future(s: Session, fresh: Session, calls: list[tuple]) -> None:
    assert s.state_hash() == fresh.state_hash() and s.changes() == []
    assert play(s, calls) == play(fresh, calls)
    assert s.changes() == fresh.changes() and s.state_hash() == fresh.state_hash()


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("which", ["tiny", "bank"])
def test_undo_reset_matches_fresh_session(
    which: str, seed: int, tiny_world: World, bank_world: World
) -> None:
    world = tiny_world if which == "tiny" else bank_world
    first = random_calls(world, seed, 1 + seed * 3)
    later = random_calls(world, 100 + seed, 12)
    s = world.session()
    deserialized = loads(s)
    results = play(s, first)
    assert any(r.ok for r in results)
    s.reset()
    assert deserialized[0] == 0, "a short episode is undone in place"
    assert_same_future(s, world.session(), later)
    s.reset()  # twice in a row, and after a second episode
    assert_same_future(s, world.session(), later)
    assert deserialized[0] == 0


@pytest.mark.parametrize("which", ["tiny", "bank"])
def test_undo_reset_to_task_start(which: str, tiny_world: World, bank_world: World) -> None:
    world = tiny_world if which == "tiny" else bank_world
    table = "customers"
    entity = world.spec.entities[table]
    row = world.session().conn.execute(f"SELECT * FROM {table} LIMIT 1").fetchone()
    before = dict(zip(entity.columns, row, strict=True))
    text = next(c for c, col in entity.columns.items() if col.type in ("string", "text")
                and not (col.unique or col.primary_key or col.check or col.references))  # fmt: skip
    patch = [RowChange(table=table, key={k: before[k] for k in entity.primary_key},
                       before=before, after={**before, text: "patched"})]  # fmt: skip
    task = Task(id="undo", domain=world.spec.name, instruction="x", user=UserProfile(name="A"),
                start_patch=patch, toolset=[], gold_actions=[], required_answers=[])  # fmt: skip
    first, later = random_calls(world, 7, 8, task), random_calls(world, 8, 10, task)
    s = world.session()
    s.reset(task)
    deserialized = loads(s)
    play(s, first)
    s.reset(task)
    assert deserialized[0] == 0
    fresh = world.session()
    fresh.reset(task)
    assert_same_future(s, fresh, later)
    s.reset()  # back to the base: the episode, then the start patch, undone in place
    assert deserialized[0] == 0
    assert_same_future(s, world.session(), later)


def test_undo_restore_and_fork(bank_world: World) -> None:
    calls = random_calls(bank_world, 3, 10)
    s = bank_world.session()
    play(s, calls[:5])
    snap, digest = s.snapshot(), s.state_hash()
    s.restore(snap)
    deserialized = loads(s)
    play(s, calls[5:])
    s.restore(snap)
    assert deserialized[0] == 0 and s.state_hash() == digest and s.changes() == []
    s.restore(bytes(bytearray(snap)))  # equal bytes, another object: deserialize
    assert deserialized[0] == 1 and s.state_hash() == digest
    f = s.fork()
    play(f, calls[5:])
    f.reset()
    assert_same_future(f, bank_world.session(), calls)


def test_reset_above_the_limit_deserializes(
    tiny_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session_mod, "UNDO_LIMIT", 2)
    s = tiny_world.session()
    base, deserialized = s.snapshot(), loads(s)
    for i in range(3):
        note(s, f"n{i}", customer=f"C000{i + 1}")
    s.reset()
    assert deserialized[0] == 1 and s.snapshot() == base
    note(s, "one")
    s.reset()
    assert deserialized[0] == 1 and s.state_hash() == tiny_world.session().state_hash()


def test_undo_falls_back_when_rows_cannot_go_back_in_place(tiny_world: World) -> None:
    """A row deleted and inserted again at another rowid (by hand, foreign keys off): putting
    the old rowid back conflicts with the new one, so the reset deserializes instead."""
    s = tiny_world.session()
    fresh_hash, deserialized = s.state_hash(), loads(s)
    conn = s.conn
    reinsert_order(conn, "#W0001")
    assert s.state_hash() == fresh_hash and len(s.changes()) == 0
    s.reset()
    assert deserialized[0] == 1 and s.state_hash() == fresh_hash and s.changes() == []
    assert conn.execute("SELECT count(*) FROM _scaleenv_undo_orders").fetchone() == (0,)


def test_undo_puts_back_deleted_rows_and_moved_keys(tiny_world: World) -> None:
    s = tiny_world.session()
    fresh, deserialized = tiny_world.session(), loads(s)
    r = s.call("remove_items", {"order_id": "#W0001", "item_ids": [2]})
    assert r.ok
    conn = s.conn
    conn.execute("PRAGMA foreign_keys = OFF")  # by hand: a key moved, its children stayed
    conn.execute("UPDATE customers SET customer_id = 'C0009' WHERE customer_id = 'C0003'")
    conn.execute("PRAGMA foreign_keys = ON")
    s.reset()
    assert deserialized[0] == 0
    again = [
        ("remove_items", {"order_id": "#W0001", "item_ids": [1, 2]}),
        ("get_customer", {"customer_id": "C0003"}),
    ]
    assert_same_future(s, fresh, again)


def test_a_session_entered_by_a_second_thread_raises(tiny_world: World) -> None:
    """Issue 27 item 11: a clear error, never a deadlock."""
    import threading

    from engine.session import SessionBusyError

    s = tiny_world.session()
    inside, release, seen = threading.Event(), threading.Event(), []
    real = s._dispatch

    def slow_dispatch(name, args):  # holds the session while the main thread tries
        inside.set()
        release.wait(10)
        return real(name, args)

    s._dispatch = slow_dispatch  # type: ignore[method-assign]
    worker = threading.Thread(
        target=lambda: seen.append(s.call("get_customer", {"customer_id": "C0001"}))
    )
    worker.start()
    assert inside.wait(10)
    with pytest.raises(SessionBusyError, match="another thread"):
        s.call("get_customer", {"customer_id": "C0001"})
    with pytest.raises(SessionBusyError):
        s.reset()
    release.set()
    worker.join(10)
    assert len(seen) == 1 and seen[0].ok
    assert s.call("get_customer", {"customer_id": "C0001"}).ok  # free again afterwards
