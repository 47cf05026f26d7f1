"""Stateful fuzzing: nothing on a sound domain, a shrunk replayable counterexample on a broken one."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.spec.task import RowChange
from engine.world import World
from synth.build import build_world
from synth.proctest.fuzz import fuzz_run, fuzz_stateful, replay
from synth.proctest.oracles import FAILURE
from synth.proctest.run import load_broken, run_proctest

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "fixtures" / "domains" / "tiny_shop.yaml"
NEVER_FIRES = ROOT / "fixtures" / "broken" / "precondition_never_fires.yaml"


@pytest.fixture(scope="module")
def tiny():
    return build_world(TINY, seed=1, proctest=False)


@pytest.fixture(scope="module")
def broken_world(tiny) -> World:
    spec, _ = load_broken(NEVER_FIRES)
    return World.from_parts(spec, tiny.db_bytes)


def test_stateful_fuzz_finds_nothing_on_tiny_shop(tiny) -> None:
    rep = fuzz_stateful(tiny.world(), max_examples=40, steps=20)
    assert not rep.found, (rep.reason, rep.calls)


def test_stateful_fuzz_shrinks_a_replayable_counterexample(broken_world) -> None:
    rep = fuzz_stateful(broken_world, max_examples=100, steps=30)
    assert rep.found
    assert "cancelled_orders_refunded_once" in rep.reason
    calls = [c for c in rep.calls if "tool" in c]
    assert [c["tool"] for c in calls] == ["cancel_order", "cancel_order"]  # shrunk to the pair
    assert calls[0]["args"]["order_id"] == calls[1]["args"]["order_id"]
    _, verdicts = replay(broken_world, rep.calls)
    assert verdicts[0] == "success"
    assert verdicts[-1].startswith(FAILURE) and "cancelled_orders_refunded_once" in verdicts[-1]


def test_fuzz_run_keeps_the_database_sound(tiny) -> None:
    rep = fuzz_run(tiny.world(), 5000, seed=3, reset_every=1000)
    assert rep.calls == 5000 and rep.successes > 1500
    assert rep.invariant_violations == 0 and rep.exceptions == 0
    assert rep.state_changed_on_failure == 0 and "internal" not in rep.rejections
    assert rep.integrity_ok and rep.replay_ok and rep.replayed == rep.successes
    assert rep.segments == 5 and rep.failures == {} and rep.ok
    assert rep.rejections["invalid_arguments"] > 0 and rep.rejections["precondition_failed"] > 0


def test_fuzz_run_is_deterministic_and_finds_the_broken_tool(tiny, broken_world) -> None:
    a = fuzz_run(tiny.world(), 1000, seed=5).to_dict()
    assert a == fuzz_run(tiny.world(), 1000, seed=5).to_dict()
    rep = fuzz_run(broken_world, 3000, seed=1)
    reason, calls = rep.failures["cancel_order"]
    assert "cancelled_orders_refunded_once" in reason
    assert calls[-1]["tool"] == "cancel_order"


def test_fuzz_failures_quarantine_through_proctest(tiny, broken_world) -> None:
    rep = run_proctest(broken_world.spec, tiny.db_bytes, seed=1, fuzz_steps=2000)
    assert rep.fuzz is not None and rep.fuzz["calls"] == 2000
    assert "cancel_order" in rep.fuzz["failures"]
    assert any(r.startswith("fuzz: ") for r in rep.tools["cancel_order"].reasons)
    assert (
        "seconds" not in rep.fuzz
        and rep.to_json()
        == run_proctest(broken_world.spec, tiny.db_bytes, seed=1, fuzz_steps=2000).to_json()
    )


def test_fuzz_run_never_copies_or_hashes_the_world(tiny, monkeypatch) -> None:
    """Resets undo the change log; a failed write is compared inside a savepoint; a
    segment's replay is compared by its changes, not by hashing the database."""
    from engine.session import Session

    seen: list[str] = []
    for name in ("snapshot", "restore", "state_hash", "export_bytes"):
        real = getattr(Session, name)

        def spy(self, *a, _real=real, _name=name):  # type: ignore[no-untyped-def]
            seen.append(_name)
            return _real(self, *a)

        monkeypatch.setattr(Session, name, spy)
    rep = fuzz_run(tiny.world(), 1500, seed=2, reset_every=500)
    assert rep.segments == 3 and rep.replayed == rep.successes > 300 and rep.ok
    assert seen == [], sorted(set(seen))


def test_fk_sound_reads_only_the_changed_rows(tiny) -> None:
    from synth.proctest.fuzz import fk_sound

    s = tiny.world().session()
    row = s.conn.execute("SELECT * FROM orders ORDER BY rowid LIMIT 1").fetchone()
    cols = list(tiny.spec.entities["orders"].columns)
    before = dict(zip(cols, row, strict=True))
    key = {c: before[c] for c in tiny.spec.entities["orders"].primary_key}
    ok = RowChange(table="orders", key=key, before=before, after=before)
    bad = RowChange(table="orders", key=key, before=before, after={**before, "customer_id": "nope"})
    assert fk_sound(s, [ok]) and not fk_sound(s, [bad])


def test_fuzz_run_on_a_large_world_checks_the_changed_rows(tiny, broken_world, monkeypatch) -> None:
    """Above TINY rows: invariants on the rows changed since the reset, foreign keys of the
    changed rows only; the same findings."""
    import synth.proctest.fuzz as fuzz

    monkeypatch.setattr(fuzz, "TINY", 0)
    rep = fuzz_run(tiny.world(), 1000, seed=4)
    assert rep.ok and rep.successes > 300 and rep.replayed == rep.successes
    reason, _ = fuzz_run(broken_world, 3000, seed=1).failures["cancel_order"]
    assert "cancelled_orders_refunded_once" in reason
    found = fuzz_stateful(broken_world, max_examples=100, steps=30)
    assert found.found and "cancelled_orders_refunded_once" in found.reason
