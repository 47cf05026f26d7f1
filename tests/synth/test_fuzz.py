"""Stateful fuzzing: nothing on a sound domain, a shrunk replayable counterexample on a broken one."""

from __future__ import annotations

from pathlib import Path

import pytest

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
