"""Procedural testing in O(changes), with verdicts that do not depend on the world's size.

The oracle judges calls from the session's change log inside a savepoint: no snapshot,
no restore, no state hash, no copy of the database per case. The curated fixtures
quarantine nothing at 1k rows (10k: slow test; 100k: benchmarks/bench_scale.py).
"""

from __future__ import annotations

import random

import pytest

from engine.session import Session
from engine.world import World
from synth.build import build_world
from synth.proctest.casegen import Sampler
from synth.proctest.oracles import FAILURE, REJECTION, SUCCESS, Oracle, call_changes
from synth.proctest.run import run_proctest

CURATED = ["retail", "airline", "bank", "tiny_shop"]


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every whole-database operation a session makes."""
    seen: list[str] = []
    for name in ("snapshot", "restore", "state_hash", "_load", "export_bytes"):
        real = getattr(Session, name)

        def spy(self: Session, *a: object, _real=real, _name=name) -> object:  # type: ignore[no-untyped-def]
            seen.append(_name)
            return _real(self, *a)

        monkeypatch.setattr(Session, name, spy)
    return seen


def test_oracle_judges_calls_without_copying_the_world(monkeypatch: pytest.MonkeyPatch) -> None:
    built = build_world("retail", rows=1000, proctest=False)
    s = World.from_parts(built.spec, built.db_bytes).session()
    oracle, sampler = Oracle(s), Sampler(s)
    rng = random.Random(3)
    seen = _spy(monkeypatch)
    outcomes = set()
    writers = [n for n, t in built.spec.tools.items() if t.writes]
    for name in writers * 3 + list(built.spec.tools):
        args = sampler.valid_args(name, rng)
        v = oracle.check(name, args)
        outcomes.add(v.outcome)
        assert v.outcome != FAILURE, (name, args, v.reason)
    assert {SUCCESS, REJECTION} <= outcomes
    assert seen == [], f"whole-database operations during checks: {sorted(set(seen))}"


def test_call_changes_composes_the_log() -> None:
    from engine.spec.task import RowChange

    a0 = {"id": 1, "v": "a"}
    setup = [RowChange(table="t", key={"id": 1}, before=a0, after={"id": 1, "v": "b"})]
    back = [RowChange(table="t", key={"id": 2}, before=None, after={"id": 2, "v": "n"})]
    assert call_changes(setup, back) == [
        back[0],
        RowChange(table="t", key={"id": 1}, before={"id": 1, "v": "b"}, after=a0),
    ], "a row the call put back is a change of the call"
    again = [RowChange(table="t", key={"id": 1}, before=a0, after={"id": 1, "v": "c"})]
    assert call_changes(setup, again) == [
        RowChange(table="t", key={"id": 1}, before={"id": 1, "v": "b"}, after={"id": 1, "v": "c"})
    ]
    assert call_changes([], again) == again


def _quarantined(domain: str, rows: int) -> dict[str, str]:
    built = build_world(domain, rows=rows, proctest=False)
    return run_proctest(built.spec, built.db_bytes, seed=0).failing()


@pytest.mark.parametrize("domain", CURATED)
def test_curated_fixture_quarantines_nothing_at_1k(domain: str) -> None:
    assert _quarantined(domain, 1000) == {}


@pytest.mark.slow
@pytest.mark.parametrize("domain", ["retail", "airline"])
def test_curated_fixture_quarantines_nothing_at_10k(domain: str) -> None:
    assert _quarantined(domain, 10000) == {}
