"""Stateful fuzzing of a world's tools: random sequences of valid and invalid calls.

Two drivers over the same call generator (``synth.casegen.Sampler`` on the live state):

- ``fuzz_run``: a plain seeded loop for long runs (100,000+ calls). After every successful
  write it checks the invariants (on the rows changed since the segment began, unless the
  world is tiny); after every failed write that wrote rows that the state is unchanged (the
  call runs inside a savepoint: the change log with and without it); at the end of each segment (between resets) the foreign keys of
  the changed rows (``PRAGMA integrity_check`` and ``foreign_key_check`` too while the
  world is tiny) and a replay of the segment's successful calls from the base, which must
  make the same changes. No step copies or hashes the whole database: resets undo the
  change log (``Session.reset``), so the cost follows the calls, not the world's size.
- ``fuzz_stateful``: a hypothesis ``RuleBasedStateMachine`` whose every call is judged by
  ``synth.proctest.oracles`` and whose invariants are checked after every step; a failure is shrunk
  and reported as a replayable call list.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from engine.db import q
from engine.session import Session
from engine.spec.task import RowChange
from engine.world import World
from synth.proctest.casegen import Sampler
from synth.proctest.casesearch import boundary, clean_json, out_of_range, wrong_type
from synth.proctest.oracles import FAILURE, Oracle, short

INVALID_KINDS = ("missing", "extra", "wrong_type", "out_of_range", "nonexistent", "boundary")
TINY = 20_000  # rows up to which a segment's end also checks the whole database
_SP, _BACK, _END = (
    f"/*scaleenv:fuzz*/ {w} scaleenv_fuzz" for w in ("SAVEPOINT", "ROLLBACK TO", "RELEASE")
)


def invalid_args(
    sampler: Sampler, name: str, kind: str, rng: random.Random, base: dict[str, Any]
) -> dict[str, Any]:
    """``base`` with one argument made invalid (or a boundary value) in the way ``kind`` says."""
    tool = sampler.spec.tools[name]
    if kind == "extra" or not tool.params:
        return {**base, "unexpected_argument": rng.randint(0, 9)}
    pname = rng.choice(list(tool.params))
    p = tool.params[pname]
    if kind == "missing":
        return {k: v for k, v in base.items() if k != pname}
    if kind == "wrong_type":
        return {**base, pname: wrong_type(p)}
    if kind == "nonexistent":
        v = sampler.missing_value(p, sampler.lineage(name).get(pname, []), rng)
        return {**base, pname: v} if v is not None else {**base, pname: wrong_type(p)}
    vals = out_of_range(p) if kind == "out_of_range" else boundary(p)
    return {**base, pname: rng.choice(vals)} if vals else {**base, pname: wrong_type(p)}


@dataclass
class FuzzReport:
    domain: str
    calls: int = 0
    successes: int = 0
    rejections: Counter = field(default_factory=Counter)  # error type -> count
    invariant_violations: int = 0  # an invariant false in the state after a successful call
    exceptions: int = 0  # raised out of Session.call
    state_changed_on_failure: int = 0
    segments: int = 0
    integrity_ok: bool = True
    replay_ok: bool = True
    replayed: int = 0
    seconds: float = 0.0
    failures: dict[str, tuple[str, list[dict[str, Any]]]] = field(default_factory=dict)

    @property
    def calls_per_s(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0

    @property
    def ok(self) -> bool:
        return not (
            self.invariant_violations or self.exceptions or self.state_changed_on_failure
            or self.rejections.get("internal") or not self.integrity_ok or not self.replay_ok
        )  # fmt: skip

    def to_dict(self, timings: bool = False) -> dict[str, Any]:
        out = {
            "calls": self.calls,
            "successes": self.successes,
            "rejections": dict(sorted(self.rejections.items())),
            "invariant_violations": self.invariant_violations,
            "exceptions": self.exceptions,
            "state_changed_on_failure": self.state_changed_on_failure,
            "segments": self.segments,
            "integrity_ok": self.integrity_ok,
            "replay_ok": self.replay_ok,
            "replayed_calls": self.replayed,
            "failures": {n: r for n, (r, _) in sorted(self.failures.items())},
        }
        if timings:
            out |= {"seconds": round(self.seconds, 3), "calls_per_s": round(self.calls_per_s)}
        return out


def fuzz_run(
    world: World, calls: int, seed: int = 0, *, reset_every: int = 1000, invalid_share: float = 0.3
) -> FuzzReport:
    """``calls`` random tool calls (valid from the live state, or invalid) with checks."""
    spec = world.spec
    s = world.session()
    oracle, sampler = Oracle(s), Sampler(s)
    tiny = sum(world.row_counts.values()) <= TINY
    rng = random.Random(f"fuzz:{seed}")
    names = list(spec.active_tools())
    rep = FuzzReport(spec.name)
    segment: list[dict[str, Any]] = []
    recent: dict[str, list[dict[str, Any]]] = {}
    dirty: set[str] = set()
    t0 = time.perf_counter()

    def fail(name: str, reason: str, call: dict[str, Any]) -> None:
        if name not in rep.failures:
            rep.failures[name] = (reason, clean_json([*segment[-19:], call]))

    def end_segment() -> None:
        rep.segments += 1
        done = s.changes()
        if not fk_sound(s, done):
            rep.integrity_ok = False
        if tiny and s.conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            rep.integrity_ok = False
        if tiny and s.conn.execute("PRAGMA foreign_key_check").fetchone() is not None:
            rep.integrity_ok = False
        s.reset()  # the same calls again from the base must make the same changes
        for c in segment:
            if not s.call(c["tool"], c["args"]).ok:
                rep.replay_ok = False
        rep.replayed += len(segment)
        if _canon(s.changes()) != _canon(done):
            rep.replay_ok = False
        segment.clear()

    for i in range(calls if names else 0):
        if i and i % reset_every == 0:
            end_segment()
            s.reset()
            sampler.invalidate()
            dirty = set()
        if dirty and i % 50 == 0:  # pools lag by at most 50 calls: stale ids make invalid calls
            sampler.invalidate(dirty)
            dirty = set()
        name = rng.choice(names)
        tool = spec.tools[name]
        if recent.get(name) and rng.random() < 0.1:  # the same call again: stateful bugs
            args = dict(rng.choice(recent[name]))
        else:
            args = sampler.valid_args(name, rng)
            if rng.random() < invalid_share:
                args = invalid_args(sampler, name, rng.choice(INVALID_KINDS), rng, args)
        call = {"tool": name, "args": args}
        if tool.writes:  # a failed write must leave the state as it was: compared below
            s.conn.execute(_SP)
        wrote = s.conn.total_changes  # rows written (rolled back or not) move it
        try:
            r = s.call(name, args)
        except BaseException as exc:  # noqa: BLE001 - counted, never expected
            rep.exceptions += 1
            fail(name, f"exception out of the session: {type(exc).__name__}: {exc}", call)
            s.reset()
            segment.clear()
            continue
        changed = False
        if tool.writes and s.conn.in_transaction:
            if not r.ok and s.conn.total_changes != wrote:  # the log with the call, without
                after = _canon(s.changes())
                s.guard.internal()
                s.conn.execute(_BACK)
                changed = after != _canon(s.changes())
            s.conn.execute(_END)
        rep.calls += 1
        if r.ok:
            rep.successes += 1
            segment.append(call)
            if tool.writes:
                recent.setdefault(name, []).append(args)
                del recent[name][:-8]
                dirty |= set(tool.writes)
                # tiny: every invariant in full; else on the rows changed since the reset
                bad = oracle.violations(
                    set(tool.writes) if tiny else None, None if tiny else s.changes()
                )
                if bad:
                    rep.invariant_violations += 1
                    fail(name, f"invariant {bad[0]} false after a successful call", call)
            continue
        rep.rejections[r.error_type or "?"] += 1
        if r.error_type == "internal":
            fail(name, f"internal error: {short(r.message)}", call)
        elif r.error_type == "invariant_violated" and tool.writes:
            fail(name, f"call passing its preconditions refused: {short(r.message)}", call)
        if changed:  # already undone by the savepoint
            rep.state_changed_on_failure += 1
            fail(name, "state changed on a failed call", call)
    end_segment()
    rep.seconds = time.perf_counter() - t0
    s.close()
    return rep


def invariants_now(oracle: Oracle, world: World) -> list[str]:
    """Invariants false now: every one in full on a tiny world, else only on the rows
    changed since the last reset (the base satisfies them all): O(changes)."""
    if sum(world.row_counts.values()) <= TINY:
        return oracle.violations()
    return oracle.violations(changes=oracle.s.changes())


def _canon(changes: list[RowChange]) -> list[str]:
    return [ch.model_dump_json() for ch in changes]


def fk_sound(s: Session, changes: list[RowChange]) -> bool:
    """Foreign keys hold around ``changes``: each changed row's parents exist, and no row
    still points at a value a deleted or changed row no longer holds (O(changes))."""
    spec, conn = s.spec, s.conn
    edges = [
        (t, c, *col.references.split("."))
        for t, e in spec.entities.items()
        for c, col in e.columns.items()
        if col.references
    ]
    for ch in changes:
        for t, c, p, pc in edges:
            v = (ch.after or {}).get(c) if t == ch.table else None
            if v is not None:
                sql = f"SELECT 1 FROM {q(p)} WHERE {q(pc)} = ? LIMIT 1"
                if conn.execute(sql, (v,)).fetchone() is None:
                    return False
            old = (ch.before or {}).get(pc) if p == ch.table else None
            if old is not None and (ch.after or {}).get(pc) != old:
                held = conn.execute(f"SELECT 1 FROM {q(p)} WHERE {q(pc)} = ? LIMIT 1", (old,))
                orphan = conn.execute(f"SELECT 1 FROM {q(t)} WHERE {q(c)} = ? LIMIT 1", (old,))
                if held.fetchone() is None and orphan.fetchone() is not None:
                    return False
    return True


# ---- hypothesis ----------------------------------------------------------------------------------
@dataclass
class StatefulReport:
    """A shrunk counterexample (``calls`` replays it on a fresh session) or nothing found."""

    found: bool
    reason: str = ""
    calls: list[dict[str, Any]] = field(default_factory=list)


def replay(
    world: World, calls: list[dict[str, Any]], session: Session | None = None
) -> tuple[Session, list[str]]:
    """Run a call list (``{"reset": true}`` entries reset) from the world's base state (on
    ``session`` reset, or a new session), judging each call and the invariants after it;
    stops at the first unexpected failure."""
    s = world.session() if session is None else session
    s.reset()
    oracle = Oracle(s)
    verdicts: list[str] = []
    for c in calls:
        if c.get("reset"):
            s.reset()
            continue
        v = oracle.check(c["tool"], c["args"], repeat=False)
        bad = invariants_now(oracle, world)
        if v.outcome == FAILURE or bad:
            reason = v.reason if v.outcome == FAILURE else f"invariant {bad[0]} does not hold"
            verdicts.append(f"{FAILURE}: {reason}")
            break
        verdicts.append(v.outcome)
    return s, verdicts


def minimize(world: World, calls: list[dict[str, Any]], reason: str) -> list[dict[str, Any]]:
    """Drop calls one at a time while the replay still ends in the same failure (1-minimal)."""

    s = world.session()  # one session, reset per try (O(changes), not a copy of the world)

    def fails(cs: list[dict[str, Any]]) -> bool:
        verdicts = replay(world, cs, s)[1]
        return bool(verdicts) and verdicts[-1] == f"{FAILURE}: {reason}"

    try:
        if not fails(calls):
            return calls
        changed = True
        while changed:
            changed = False
            for i in range(len(calls)):
                trial = calls[:i] + calls[i + 1 :]
                if fails(trial):
                    calls, changed = trial, True
                    break
        return calls
    finally:
        s.close()


def fuzz_stateful(
    world: World, *, max_examples: int = 100, steps: int = 30, seed: int = 0, shrink: bool = False
) -> StatefulReport:
    """Hypothesis stateful fuzzing; deterministic (seeded by ``seed``, no example database).

    A failure is cut down to a 1-minimal call list by ``minimize`` (every remaining call is
    needed to reproduce the same failure): delta debugging on the concrete calls, much faster
    than hypothesis's own shrinker, which ``shrink=True`` runs first."""
    from hypothesis import HealthCheck, Phase, Verbosity, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis import strategies as st
    from hypothesis.stateful import (
        RuleBasedStateMachine,
        invariant,
        rule,
        run_state_machine_as_test,
    )

    names = sorted(world.spec.active_tools())
    log: dict[str, Any] = {"calls": []}
    shared = world.session()  # every example starts from it, reset: no copy per example

    class ToolMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.s = shared
            self.s.reset()
            self.oracle, self.sampler = Oracle(self.s), Sampler(self.s)
            self.calls: list[dict[str, Any]] = []
            log["calls"] = self.calls

        def _call(self, name: str, args: dict[str, Any]) -> None:
            self.calls.append({"tool": name, "args": args})
            v = self.oracle.check(name, args, repeat=False)
            self.sampler.invalidate(world.spec.tools[name].writes)
            assert v.outcome != FAILURE, v.reason

        @rule(name=st.sampled_from(names), pick=st.integers(0, 2**20))
        def valid_call(self, name: str, pick: int) -> None:
            self._call(name, self.sampler.valid_args(name, random.Random(seed * 2**21 + pick)))

        @rule(
            name=st.sampled_from(names),
            pick=st.integers(0, 2**20),
            kind=st.sampled_from(INVALID_KINDS),
        )
        def invalid_call(self, name: str, pick: int, kind: str) -> None:
            rng = random.Random(seed * 2**21 + pick)
            self._call(
                name,
                invalid_args(self.sampler, name, kind, rng, self.sampler.valid_args(name, rng)),
            )

        @rule(back=st.integers(0, 3))
        def repeat_call(self, back: int) -> None:
            done = [c for c in self.calls if "tool" in c]
            if done:
                c = done[-1 - back % len(done)]
                self._call(c["tool"], dict(c["args"]))

        @rule()
        def reset(self) -> None:
            self.calls.append({"reset": True})
            self.s.reset()
            self.sampler.invalidate()

        @invariant()
        def invariants_hold(self) -> None:
            bad = invariants_now(self.oracle, world)
            assert not bad, f"invariant {bad[0]} does not hold"

    cfg = settings(
        max_examples=max_examples, stateful_step_count=steps, derandomize=True, database=None,
        deadline=None, verbosity=Verbosity.quiet, suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate, *([Phase.shrink] if shrink else [])],
    )  # fmt: skip
    if not names:
        shared.close()
        return StatefulReport(False)
    # an explicit seed: derandomize alone seeds from the class's source text, so any edit
    # of this module would change which examples run
    hypothesis_seed(seed)(ToolMachine)
    try:
        run_state_machine_as_test(ToolMachine, settings=cfg)
    except AssertionError as exc:
        reason = str(exc).splitlines()[0]
        calls = minimize(world, list(log["calls"]), reason)
        return StatefulReport(True, short(reason, 300), clean_json(calls))
    finally:
        shared.close()
    return StatefulReport(False)
