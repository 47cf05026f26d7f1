"""Procedural testing in O(changes), with verdicts that do not depend on the world's size.

The oracle judges calls from the session's change log inside a savepoint: no snapshot,
no restore, no state hash, no copy of the database per case. The curated fixtures
quarantine nothing at 1k rows (10k and 100k: slow tests; 1M: benchmarks/bench_scale.py).
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
@pytest.mark.parametrize("rows", [10_000, 100_000])
@pytest.mark.parametrize("domain", ["retail", "airline"])
def test_curated_fixture_quarantines_nothing_at_scale(domain: str, rows: int) -> None:
    """Above ``sampling.SAMPLE`` rows a table is sampled, not read whole: same verdicts."""
    assert _quarantined(domain, rows) == {}


def test_run_proctest_never_copies_the_world(monkeypatch: pytest.MonkeyPatch) -> None:
    """Walk states are start patches, a case's state is undone from the change log."""
    built = build_world("retail", rows=1000, proctest=False)
    seen = _spy(monkeypatch)
    report = run_proctest(built.spec, built.db_bytes, seed=0)
    assert sum(report.totals().values()) > 100
    copies = sorted({n for n in seen if n != "_load"})
    assert copies == [], f"whole-database operations in run_proctest: {copies}"


def test_samples_are_bounded_and_keep_every_kind_of_row() -> None:
    """A large table is read at SAMPLE spread rows plus a few of each rare value: bounded,
    yet every enum/boolean value the table holds is one of the strata."""
    from synth.proctest.sampling import RARE, SAMPLE, flag_columns

    built = build_world("retail", rows=20_000, proctest=False)
    s = World.from_parts(built.spec, built.db_bytes).session()
    sampler = Sampler(s)
    large = 0
    for table, ent in built.spec.entities.items():
        n = s.conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
        first = next(iter(ent.columns))
        pool = sampler.pool(table, first)
        flags = flag_columns(built.spec, table)
        if n <= SAMPLE:
            assert len(pool) == n, table
            continue
        large += 1
        values = sum(len(ent.columns[f].values or [0, 1]) for f in flags)
        assert SAMPLE // 2 <= len(pool) <= SAMPLE + RARE * values, table
        rows = {r for g in sampler.strata(table, first) for r, _ in g}
        for f in flags:
            held = {r[0] for r in s.conn.execute(f'SELECT DISTINCT "{f}" FROM "{table}"')}
            got = {
                r[0]
                for r in s.conn.execute(
                    f'SELECT DISTINCT "{f}" FROM "{table}" WHERE rowid IN '
                    f"({', '.join(map(str, rows))})"
                )
            }
            assert got == held, (table, f)
    assert large >= 2
