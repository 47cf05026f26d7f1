"""Hostile and random tool calls against the curated fixtures (issue 27): nothing raises,
nothing hangs, a failed call changes nothing.

Run: ``python benchmarks/bench_hostile_calls.py`` (``--calls 100000`` per fixture by default;
``--calls 5000`` for a quick look). Per fixture it prints calls/s, outcomes by error type, the
slowest call, calls that raised, and failed calls that changed the state, next to the baseline:
the same calls straight into ``run_tool`` (no argument parsing, no budget, no thread guard),
with the ratio: what the safety layers cost.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.runtime.argcheck import parse_args  # noqa: E402
from engine.runtime.call import run_tool  # noqa: E402
from synth.build import build_world  # noqa: E402

FIXTURES = ["tiny_shop", "retail", "airline", "bank"]
NASTY: list[Any] = [
    None, True, -1, 0, 2**63, -(2**63) - 1, 1e308, math.nan, math.inf, "", " ", "x" * 100_000,
    "a\x00b", "\ud800", "'; DROP TABLE customers; --", "\" OR 1=1 --", "%", "_", "*", "now",
    "localtime", "2024-02-30", "9999-12-31 23:59:59", "{email:>100000000}", "{0}", [], [None],
    [[[[[]]]]], {"a": {"b": {}}}, "😀" * 50, "C0001", "#W0001", 1.5, "1e5", "0x10",
]  # fmt: skip


def _values(world, rng: random.Random) -> list[Any]:
    """Real values of the world (ids, emails, names) mixed into the nasty ones."""
    conn = world.session().conn
    out: list[Any] = []
    for table, entity in sorted(world.spec.entities.items()):
        cols = [c for c in entity.columns][:4]
        for row in conn.execute(f'SELECT {", ".join(cols)} FROM "{table}" LIMIT 20'):
            out.extend(row)
    return [v for v in out if v is not None][:400]


def _args(tool, rng: random.Random, pool: list[Any]) -> Any:
    r = rng.random()
    if r < 0.05:
        return rng.choice(["", "{", "[]", "null", '{"a": ' * 3000, json.dumps({"x": 1})])
    args: dict[str, Any] = {}
    for name in tool.params:
        if rng.random() < 0.1:
            continue
        args[name] = rng.choice(NASTY) if rng.random() < 0.4 else rng.choice(pool)
    if rng.random() < 0.1:
        args[rng.choice(["extra", "__class__", "now"])] = 1
    return args


def run(fixture: str, calls: int, seed: int) -> None:
    world = build_world(
        ROOT / "fixtures" / "domains" / f"{fixture}.yaml", seed=1, rows=2000, proctest=False
    ).world()
    rng = random.Random(seed)
    pool = _values(world, rng)
    names = [*sorted(world.spec.tools), *world.spec.builtins, "no_such_tool", ""]
    s = world.session()
    plan = []
    for _ in range(calls):
        name = rng.choice(names)
        tool = world.spec.tools.get(name)
        plan.append((name, _args(tool, rng, pool) if tool else {"x": rng.choice(NASTY)}))
    outcomes: Counter[str] = Counter()
    raised = changed = 0
    slowest = (0.0, "")
    ours = 0.0  # time inside call() only (the checks around it are not the path measured)
    for i, (name, args) in enumerate(plan):
        before = len(s.changes())
        c0 = time.perf_counter()
        try:
            r = s.call(name, args)
        except Exception as exc:  # noqa: BLE001 - counted: must stay 0
            raised += 1
            outcomes[f"raised {type(exc).__name__}"] += 1
            continue
        dt = time.perf_counter() - c0
        ours += dt
        if dt > slowest[0]:
            slowest = (dt, name)
        outcomes["ok" if r.ok else str(r.error_type)] += 1
        if not r.ok and len(s.changes()) != before:
            changed += 1
        if i % 1000 == 999:
            s.reset()
    # baseline: the same valid-looking calls straight into run_tool (no layers around it)
    base = world.session()
    t1 = time.perf_counter()
    n_base = 0
    for i, (name, args) in enumerate(plan):
        pt = base.prepared(name)
        if pt is None:
            continue
        try:
            parsed = parse_args(args)
        except Exception:  # noqa: BLE001 - the baseline skips what it cannot parse
            continue
        run_tool(base.conn, base.guard, pt, parsed, world.spec.now, world.spec.name)
        n_base += 1
        if i % 1000 == 999:
            base.reset()
    baseline = time.perf_counter() - t1
    print(
        f"{fixture:10s} {calls:>7,} calls  {calls / ours:>8,.0f}/s  raised {raised}  "
        f"failed-but-changed {changed}  slowest {slowest[0] * 1000:.1f} ms ({slowest[1]})"
    )
    print(f"{'':10s} outcomes: {dict(sorted(outcomes.items()))}")
    print(
        f"{'':10s} baseline (run_tool, no layers): {n_base / baseline:,.0f}/s; "
        f"ours/baseline per call = {(ours / calls) / (baseline / max(1, n_base)):.2f}x"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fixtures", nargs="*", default=FIXTURES)
    a = ap.parse_args()
    for f in a.fixtures:
        run(f, a.calls, a.seed)


if __name__ == "__main__":
    main()
