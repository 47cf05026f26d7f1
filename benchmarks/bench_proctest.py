"""Procedural testing cost per fixture, and fuzzing throughput over all fixtures.

Run: ``python benchmarks/bench_proctest.py`` (about two minutes; ``--fuzz-calls 10000`` for a
quick look). For every fixture that validates:

- build seconds without and with procedural testing (what ``--no-proctest`` saves);
- the procedural test's case execution two ways: ours (one session, each case back to its
  state by the change log's undo) against the naive baseline (a fresh session per case), and
  their ratio: what the reset design buys;
- then ``fuzz_run`` over the fixtures, ``--fuzz-calls`` calls in all (100,000 by default):
  calls/s, invariant violations, exceptions, integrity checks and the replay of every
  successful call from the base to the same changes.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.errors import SpecError  # noqa: E402
from engine.spec.validate import load_spec  # noqa: E402
from synth.build import build_world  # noqa: E402
from synth.proctest.casegen import Sampler  # noqa: E402
from synth.proctest.casesearch import search  # noqa: E402
from synth.proctest.casestate import States, apply_setup  # noqa: E402
from synth.proctest.fuzz import fuzz_run  # noqa: E402
from synth.proctest.oracles import Oracle  # noqa: E402
from synth.proctest.run import run_proctest  # noqa: E402

FIXTURES = ["tiny_shop", "retail", "airline", "bank"]


def cases_of(world, seed: int):
    """Every case procedural testing runs (search included), with the states they need."""
    s = world.session()
    oracle, sampler = Oracle(s), Sampler(s)
    states = States(oracle, sampler, seed)
    out = []
    for name in world.spec.tools:
        tc = search(oracle, sampler, states, name, random.Random(f"proctest:{seed}:{name}"))
        out += [*tc.valid[:8], *tc.fired.values(), *tc.invalid]
        states.enter(0)
    return out, states, s


def run_ours(s, cases, states) -> float:
    oracle = Oracle(s)
    t0 = time.perf_counter()
    for c in cases:
        states.restore(c.state)
        apply_setup(s.conn, c.setup)
        oracle.check(c.tool, c.args)
    return time.perf_counter() - t0


def run_fresh(world, cases, states) -> float:
    t0 = time.perf_counter()
    for c in cases:
        s = world.session()
        if c.state:
            s.reset(states.walks()[c.state - 1].task)
        apply_setup(s.conn, c.setup)
        Oracle(s).check(c.tool, c.args)
        s.close()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fuzz-calls", type=int, default=100_000, help="Fuzz calls in all.")
    ap.add_argument("--rows", type=int, default=None, help="Rows per world (default: the spec's).")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    worlds = {}
    print(f"{'fixture':<10} {'build s':>8} {'+proctest s':>12} {'cases':>6} "
          f"{'ours s':>7} {'fresh s':>8} {'ratio':>6}  quarantined")  # fmt: skip
    for name in FIXTURES:
        path = ROOT / "fixtures" / "domains" / f"{name}.yaml"
        try:
            load_spec(path)
        except SpecError as exc:
            print(f"{name:<10} skipped: {str(exc)[:80]}")
            continue
        t0 = time.perf_counter()
        res = build_world(path, seed=args.seed, rows=args.rows, proctest=False)
        t_build = time.perf_counter() - t0
        rep = run_proctest(res.spec, res.db_bytes, seed=args.seed)
        world = res.world()
        worlds[name] = world
        cases, states, s = cases_of(world, args.seed)
        ours = run_ours(s, cases, states)
        fresh = run_fresh(world, cases, states)
        s.close()
        q = ", ".join(sorted(rep.failing())) or "none"
        print(f"{name:<10} {t_build:8.2f} {rep.seconds:12.2f} {len(cases):6d} "
              f"{ours:7.2f} {fresh:8.2f} {fresh / ours:5.1f}x  {q}")  # fmt: skip
    if not worlds or args.fuzz_calls <= 0:
        return
    per = args.fuzz_calls // len(worlds)
    print(f"\nfuzz: {per} calls per fixture, reset every 1000 calls")
    hdr = f"{'fixture':<10} {'calls':>7} {'calls/s':>8} {'ok':>6} {'refused':>8} {'inv.viol':>8} {'exc':>4}"
    print(hdr + "  integrity  replay  failures")
    total, seconds, bad = 0, 0.0, 0
    for name, world in worlds.items():
        fr = fuzz_run(world, per, seed=args.seed)
        total += fr.calls
        seconds += fr.seconds
        bad += fr.invariant_violations + fr.exceptions + (not fr.integrity_ok) + (not fr.replay_ok)
        refused = sum(fr.rejections.values())
        fails = "; ".join(f"{t}: {r[:70]}" for t, (r, _) in fr.failures.items()) or "-"
        print(f"{name:<10} {fr.calls:7d} {fr.calls_per_s:8.0f} {fr.successes:6d} {refused:8d} "
              f"{fr.invariant_violations:8d} {fr.exceptions:4d}  "
              f"{'ok' if fr.integrity_ok else 'BROKEN':>9}  {'ok' if fr.replay_ok else 'DIFFERS':>6}  {fails}")  # fmt: skip
    print(f"total: {total} calls in {seconds:.1f}s = {total / seconds:.0f} calls/s; "
          f"invariant violations + exceptions + integrity/replay failures: {bad}")  # fmt: skip


if __name__ == "__main__":
    main()
