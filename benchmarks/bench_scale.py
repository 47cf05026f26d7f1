"""No cliffs at scale: build, procedural testing and task generation from 1k to 100k rows.

Run: ``python benchmarks/bench_scale.py`` (retail and airline at 1k, 10k, 100k rows, 30 tasks
each; a few minutes on 2 cores; ``--rows 1000000`` adds 1M). Each size runs in its own process, so
its peak RSS is its own. Per size it prints: seeding (with the index advisor), procedural
testing, tasks gen per task, peak RSS against the database size; ``reset(task)`` switching
between different tasks against the raw SQLite copy a reset used to make (``deserialize``
of the same bytes); a read call (the login lookup) against the raw SQL of the tool on the
same bytes; ``evaluate`` against a raw SQL read of the task's changed rows. Then the
scaling exponent of each phase between consecutive sizes: log(t2/t1) / log(rows2/rows1)
(1.0 = linear; ≤ 1.05 is the target for procedural testing).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LOGIN = {"retail": "find_user_id_by_email", "airline": "find_user_id_by_email"}


def _median_us(fn: Any, reps: int) -> float:
    samples = []
    for i in range(reps):
        t = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1e6


def one(domain: str, rows: int, tasks: int, seed: int = 0) -> dict[str, Any]:
    """Every figure for one world (run in a child process)."""
    from engine.world import World
    from synth.build import build_world
    from synth.proctest.run import run_proctest
    from synth.tasks import generate_tasks

    out: dict[str, Any] = {"domain": domain, "rows_target": rows}
    t, cpu = time.perf_counter(), time.process_time()
    built = build_world(domain, rows=rows, seed=seed, proctest=False)
    out["seed_s"] = time.perf_counter() - t
    out["seed_cpu_s"] = time.process_time() - cpu
    out["seed_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # seeding's peak
    db = built.db_bytes
    out["db_mb"] = len(db) / 2**20
    t, cpu = time.perf_counter(), time.process_time()
    report = run_proctest(built.spec, db, seed=seed)
    out["proctest_s"] = time.perf_counter() - t
    out["proctest_cpu_s"] = time.process_time() - cpu  # comparable on a loaded machine
    out["quarantined"] = sorted(report.failing())
    spec = report.quarantined_spec(built.spec)
    world = World.from_parts(spec, db)
    out["rows"] = sum(world.row_counts.values())
    t, cpu = time.perf_counter(), time.process_time()
    made = generate_tasks(world, n=tasks, seed=seed).tasks
    out["tasks"] = len(made)
    out["tasks_s_per_task"] = (time.perf_counter() - t) / max(1, len(made))
    out["tasks_cpu_per_task"] = (time.process_time() - cpu) / max(1, len(made))
    s = world.session()
    patched = [tk for tk in made if tk.start_patch] or made
    if len(patched) >= 2:  # switching between different tasks, a short episode in between
        for tk in patched:
            s.reset(tk)
        out["reset_task_us"] = _median_us(lambda i: s.reset(patched[i % len(patched)]), 400)
        out["patch_rows"] = statistics.median(len(tk.start_patch) for tk in patched)
    raw = sqlite3.connect(":memory:")
    out["deserialize_us"] = _median_us(lambda i: raw.deserialize(db), 30)
    s.reset()
    tool = spec.tools[LOGIN[domain]]
    emails = [r[0] for r in s.conn.execute("SELECT email FROM users ORDER BY rowid LIMIT 200")]
    out["call_us"] = _median_us(
        lambda i: s.call(LOGIN[domain], {"email": emails[i % len(emails)]}), 2000
    )
    query = tool.returns.query if tool.returns else ""
    out["raw_call_us"] = _median_us(
        lambda i: raw.execute(query, {"email": emails[i % len(emails)]}).fetchone(), 2000
    )
    if made:
        task = made[0]
        s.reset(task)
        for a in task.gold_actions:
            s.call(a.tool, a.args)
        msgs = list(task.required_answers)
        out["evaluate_us"] = _median_us(lambda i: s.evaluate(task, msgs), 300)
        out["changed_rows"] = len(task.gold_diff or [])
        reads = []
        for ch in task.gold_diff or []:
            ent = spec.entities[ch.table]
            where = " AND ".join(f'"{c}" = ?' for c in ch.key)
            cols = ", ".join(f'"{c}"' for c in ent.columns)
            reads.append((f'SELECT {cols} FROM "{ch.table}" WHERE {where}', list(ch.key.values())))
        conn = s.conn
        out["raw_evaluate_us"] = _median_us(
            lambda i: [conn.execute(sql, p).fetchone() for sql, p in reads], 300
        )
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _exp(a: dict, b: dict, key: str) -> str:
    if not a.get(key) or not b.get(key):
        return "-"
    return f"{math.log(b[key] / a[key]) / math.log(b['rows'] / a['rows']):.2f}"


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.1f}x" if a and b else "-"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--domains", nargs="*", default=["retail", "airline"])
    ap.add_argument("--rows", type=int, nargs="*", default=[1000, 10_000, 100_000])
    # per-task cost depends on the mix of tasks drawn (a booking costs more than a cancel):
    # 30 tasks average it out; fewer make the 10k-vs-100k ratio a coin toss
    ap.add_argument("--tasks", type=int, default=30)
    ap.add_argument("--one", nargs=2, metavar=("DOMAIN", "ROWS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one[0], int(args.one[1]), args.tasks)))
        return 0
    for domain in args.domains:
        res = []
        for rows in args.rows:
            cmd = [sys.executable, __file__, "--one", domain, str(rows), "--tasks", str(args.tasks)]
            got = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if got.returncode != 0:
                print(f"{domain} {rows}: failed: {got.stderr.strip().splitlines()[-1:]}")
                continue
            res.append(json.loads(got.stdout.strip().splitlines()[-1]))
        print(
            f"\n{domain}: times in s, per-call figures in µs (medians); ratio = ours / raw SQLite"
        )
        print(
            f"{'rows':>9} {'db MB':>6} {'seed':>6} {'proctest':>8} {'task':>6} {'RSS MB':>7} "
            f"{'RSS/db':>6} {'reset(task)':>11} {'deserialize':>11} {'login':>6} {'raw':>5} "
            f"{'ratio':>6} {'evaluate':>8} {'raw':>5} {'ratio':>6}  quarantined"
        )
        for r in res:
            print(
                f"{r['rows']:>9,} {r['db_mb']:>6.1f} {r['seed_s']:>6.1f} {r['proctest_s']:>8.1f} "
                f"{r['tasks_s_per_task']:>6.2f} {r['peak_rss_mb']:>7.0f} "
                f"{r['peak_rss_mb'] / max(r['db_mb'], 1e-9):>6.1f} "
                f"{r.get('reset_task_us', 0):>11.1f} {r['deserialize_us']:>11.1f} "
                f"{r['call_us']:>6.1f} {r['raw_call_us']:>5.1f} "
                f"{_ratio(r['call_us'], r['raw_call_us']):>6} {r.get('evaluate_us', 0):>8.1f} "
                f"{r.get('raw_evaluate_us', 0):>5.1f} "
                f"{_ratio(r.get('evaluate_us'), r.get('raw_evaluate_us')):>6}  "
                f"{', '.join(r['quarantined']) or 'none'}"
            )
        for a, b in zip(res, res[1:], strict=False):
            print(
                f"  exponent {a['rows']:,} -> {b['rows']:,}: seed {_exp(a, b, 'seed_s')}, "
                f"proctest {_exp(a, b, 'proctest_s')} (CPU {_exp(a, b, 'proctest_cpu_s')}), tasks/task {_exp(a, b, 'tasks_s_per_task')}, "
                f"reset(task) {_exp(a, b, 'reset_task_us')}, login {_exp(a, b, 'call_us')}"
            )
        for r in res:  # a switch reverts the old task's rows and writes the new one's
            print(
                f"  reset(task) {r['rows']:,}: {r.get('reset_task_us', 0):.1f} µs over "
                f"{r['tasks']} tasks, median start patch {r.get('patch_rows', 0):g} rows"
            )
        for a, b in zip(res, res[1:], strict=False):  # the bound: <= 1.5x at 10x rows
            print(
                f"  tasks gen per task {a['rows']:,} -> {b['rows']:,}: "
                f"{a['tasks_s_per_task']:.3f} -> {b['tasks_s_per_task']:.3f} s "
                f"({b['tasks_s_per_task'] / a['tasks_s_per_task']:.2f}x; CPU "
                f"{a['tasks_cpu_per_task']:.3f} -> {b['tasks_cpu_per_task']:.3f} s, "
                f"{b['tasks_cpu_per_task'] / a['tasks_cpu_per_task']:.2f}x)"
            )
        for i, r in enumerate(res):  # seeding alone: CPU (comparable under load), its peak RSS
            exp = f", CPU exponent {_exp(res[i - 1], r, 'seed_cpu_s')}" if i else ""
            print(
                f"  seed {r['rows']:,}: CPU {r['seed_cpu_s']:.1f} s, peak RSS "
                f"{r['seed_rss_mb']:.0f} MB = {r['seed_rss_mb'] / max(r['db_mb'], 1e-9):.1f}x db{exp}"
            )
    return 0


if __name__ == "__main__":
    random.seed(0)
    raise SystemExit(main())
