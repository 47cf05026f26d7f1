"""reset(task) between different tasks, against the raw SQLite it replaces, at 10k and 100k rows.

Run: ``python benchmarks/bench_reset_task.py`` (retail and airline; a few minutes on 2 cores,
most of it building the worlds and their tasks). Per world it prints, in microseconds of
CPU time per operation (``time.process_time`` over many repetitions, so a loaded machine
inflates every figure alike; compare within a row):

- ``switch``: ``reset(task)`` cycling through the world's tasks with start patches, nothing
  in between (bench_scale's ``reset_task``); ``switch+ep``: the same after a short episode
  (the task's first gold action, untimed) that the reset undoes too;
- ``deserialize``: the copy a reset used to make (``deserialize`` of the world's bytes);
- ``raw patch``: the task's start patch as plain upserts on a raw copy of the world (no
  changelog), in a transaction rolled back: what applying the patch alone costs in SQLite;
- ``call``/``raw``: the login lookup through ``Session.call`` (argument check, authorizer,
  log, invariants) against its SQL on a raw connection; ``session``: ``world.session()``.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LOGIN = "find_user_id_by_email"


def cpu_us(fn: Callable[[int], Any], reps: int, setup: Callable[[int], Any] | None = None) -> float:
    """CPU microseconds per ``fn(i)``; ``setup(i)`` runs before each, untimed."""
    total = 0.0
    for i in range(reps):
        if setup is not None:
            setup(i)
        t = time.process_time()
        fn(i)
        total += time.process_time() - t
    return total / reps * 1e6


def cpu_us_loop(fn: Callable[[int], Any], reps: int) -> float:
    """CPU microseconds per ``fn(i)`` timed as one loop (for operations under the clock's grain)."""
    t = time.process_time()
    for i in range(reps):
        fn(i)
    return (time.process_time() - t) / reps * 1e6


def one(domain: str, rows: int, tasks: int, reps: int) -> dict[str, Any]:
    from engine.runtime.patch import patch_statements
    from engine.world import World
    from synth.build import build_world
    from synth.tasks import generate_tasks

    built = build_world(domain, rows=rows, seed=0, proctest=False)
    world = World.from_parts(built.spec, built.db_bytes)
    made = [t for t in generate_tasks(world, n=tasks, seed=0).tasks if t.start_patch]
    out: dict[str, Any] = {"domain": domain, "rows": sum(world.row_counts.values())}
    out["patch_rows"] = sum(len(t.start_patch) for t in made) / max(1, len(made))
    s = world.session()
    for t in made:  # first use: each patch applied from its statements once
        s.reset(t)
    out["switch"] = cpu_us_loop(lambda i: s.reset(made[i % len(made)]), reps)

    def episode(i: int) -> None:
        task = made[i % len(made)]
        s.reset(task)
        for a in task.gold_actions[:1]:
            s.call(a.tool, a.args)

    out["switch+ep"] = cpu_us(lambda i: s.reset(made[(i + 1) % len(made)]), reps // 4, episode)
    raw = sqlite3.connect(":memory:", isolation_level=None)
    db = built.db_bytes
    out["deserialize"] = cpu_us_loop(lambda i: raw.deserialize(db), max(10, reps // 50))
    raw.execute("PRAGMA foreign_keys = ON")
    stmts = [patch_statements(world.spec, t.start_patch) for t in made]

    def patch(i: int) -> None:
        raw.execute("BEGIN")
        for sql, params, _ in stmts[i % len(stmts)]:
            raw.execute(sql, params)
        raw.execute("ROLLBACK")

    out["raw patch"] = cpu_us_loop(patch, reps)
    s.reset()
    emails = [r[0] for r in s.conn.execute("SELECT email FROM users ORDER BY rowid LIMIT 200")]
    tool = world.spec.tools[LOGIN]
    query = tool.returns.query if tool.returns else ""
    out["call"] = cpu_us_loop(lambda i: s.call(LOGIN, {"email": emails[i % len(emails)]}), reps)
    out["raw"] = cpu_us_loop(
        lambda i: raw.execute(query, {"email": emails[i % len(emails)]}).fetchone(), reps
    )
    out["session"] = cpu_us(lambda i: world.session().close(), max(10, reps // 50))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--domains", nargs="*", default=["retail", "airline"])
    ap.add_argument("--rows", type=int, nargs="*", default=[10_000, 100_000])
    ap.add_argument("--tasks", type=int, default=10)
    ap.add_argument("--reps", type=int, default=2000)
    args = ap.parse_args(argv)
    cols = ["switch", "switch+ep", "deserialize", "raw patch", "call", "raw", "session"]
    print("CPU µs per operation; ratio = switch / deserialize and switch / raw patch")
    print(
        f"{'world':<8}{'rows':>9}{'patch':>6}"
        + "".join(f"{c:>12}" for c in cols)
        + f"{'/deser':>8}{'/patch':>8}"
    )
    for domain in args.domains:
        for rows in args.rows:
            r = one(domain, rows, args.tasks, args.reps)
            print(
                f"{domain:<8}{r['rows']:>9,}{r['patch_rows']:>6.1f}"
                + "".join(f"{r[c]:>12.1f}" for c in cols)
                + f"{r['switch'] / r['deserialize']:>8.2f}{r['switch'] / r['raw patch']:>8.2f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
