"""Synthesis at scale: worlds/s and tasks/s of ``scaleenv synth`` at N = 10, 100 (1,000).

Run: ``python benchmarks/bench_synth.py`` (N = 10 and 100 with 1 and 2 workers: several
minutes on 2 cores); ``--sizes 10,100,1000`` adds the 1,000-world run (run it in the
background). Ours is ``run_synth`` on the spawn process pool, writing every world and the
catalog. The baseline is the plain loop a user would write first: ``build_world`` one world
after another in this process, writing each (the first ``--baseline`` worlds of the run).
Per-world cost must stay flat as N grows: the table shows CPU seconds per world (this
process and its pool workers) at each N and its ratio to the smallest N. The machine may be
shared, so CPU figures are shown beside wall-clock ones.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from synth.build import build_world  # noqa: E402
from synth.runner import run_synth  # noqa: E402
from synth.runner.sources import load_source  # noqa: E402


def cpu_seconds() -> float:
    """User+system CPU of this process and its finished children (the pool's workers)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def default_source() -> str:
    try:
        from synth.generate import list_catalog

        return "catalog" if list_catalog() else "curated"
    except ImportError:
        return "curated"


def bench_ours(n: int, workers: int, args: argparse.Namespace, root: Path) -> dict[str, Any]:
    out = root / f"ours-n{n}-w{workers}"
    shutil.rmtree(out, ignore_errors=True)
    c0, t0 = cpu_seconds(), time.perf_counter()
    res = run_synth(
        n,
        out,
        seed=args.seed,
        workers=workers,
        backend="process",
        rows=args.rows,
        tasks=args.tasks,
        source=args.source,
        progress=False,
    )
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    timings = json.loads((out / "timings.json").read_text())
    s = res.summary
    row = {
        "n": n,
        "workers": workers,
        "ok": s["ok"],
        "failed": s["failed"],
        "tasks": s["tasks"],
        "wall": wall,
        "cpu": cpu,
        "worlds_per_s": s["ok"] / wall,
        "tasks_per_s": s["tasks"] / wall,
        "build_s_per_world": sum(timings.values()) / max(len(timings), 1),  # in timings.json
        "catalog": (out / "catalog.json").read_bytes(),
    }
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)
    return row


def bench_baseline(count: int, args: argparse.Namespace, root: Path) -> dict[str, Any]:
    """The plain sequential loop: source spec -> build_world(..., out=...) per world."""
    src = load_source(args.source)
    items = src.items(args.seed, count)
    out = root / "baseline"
    shutil.rmtree(out, ignore_errors=True)
    ok = tasks = 0
    c0, t0 = cpu_seconds(), time.perf_counter()
    for item in items:
        try:
            res = build_world(
                src.spec(item),
                seed=item.seed,
                rows=args.rows if args.rows else item.rows,
                tasks=args.tasks,
                out=out / item.id,
            )
        except Exception:  # noqa: BLE001 - the baseline counts what builds
            continue
        ok += 1
        tasks += len(res.reports["tasks"].tasks) if "tasks" in res.reports else 0
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    shutil.rmtree(out, ignore_errors=True)
    return {
        "cpu": cpu,
        "n": count,
        "ok": ok,
        "tasks": tasks,
        "wall": wall,
        "worlds_per_s": ok / wall,
        "tasks_per_s": tasks / wall,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--sizes", default="10,100", help="comma-separated N (add 1000 for the big run)"
    )
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    ap.add_argument("--source", default=None, help="catalog (default when present) or curated")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rows", type=int, default=None, help="rows per world (default: source's)")
    ap.add_argument("--tasks", type=int, default=20)
    ap.add_argument("--baseline", type=int, default=10, help="worlds in the sequential baseline")
    ap.add_argument("--out", type=Path, default=None, help="keep runs here (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the run directories")
    args = ap.parse_args()
    args.source = args.source or default_source()
    sizes = [int(x) for x in args.sizes.split(",")]
    workers = [int(x) for x in args.workers.split(",")]
    root = args.out or Path(tempfile.mkdtemp(prefix="bench_synth."))
    root.mkdir(parents=True, exist_ok=True)
    print(
        f"source {args.source}, seed {args.seed}, tasks {args.tasks}/world, rows "
        f"{args.rows or 'source default'}; runs under {root}",
        flush=True,
    )

    base = bench_baseline(min(args.baseline, min(sizes)), args, root)
    base_cpw = base["cpu"] / max(base["ok"], 1)
    print(
        f"baseline (sequential build_world loop, {base['n']} worlds): {base['ok']} ok, "
        f"{base['worlds_per_s']:.3f} worlds/s, {base['tasks_per_s']:.2f} tasks/s, "
        f"{base_cpw:.2f} cpu s/world ({base['wall']:.1f}s wall)",
        flush=True,
    )
    rows = []
    print(
        f"{'N':>5} {'W':>2} {'ok':>5} {'fail':>4} {'tasks':>6} {'wall s':>8} {'cpu s':>8} "
        f"{'worlds/s':>9} {'tasks/s':>8} {'vs base':>7} {'cpu s/world':>11} {'cpu vs base':>11} "
        f"{'flat':>5}",
        flush=True,
    )
    first_cpw: dict[int, float] = {}
    for n in sizes:
        for w in workers:
            r = bench_ours(n, w, args, root)
            rows.append(r)
            cpw = r["cpu"] / max(r["ok"], 1)
            first_cpw.setdefault(w, cpw)
            ratio = r["worlds_per_s"] / base["worlds_per_s"] if base["worlds_per_s"] else 0.0
            print(
                f"{n:>5} {w:>2} {r['ok']:>5} {r['failed']:>4} {r['tasks']:>6} {r['wall']:>8.1f} "
                f"{r['cpu']:>8.1f} {r['worlds_per_s']:>9.3f} {r['tasks_per_s']:>8.2f} "
                f"{ratio:>6.2f}x {cpw:>11.2f} {base_cpw / cpw:>10.2f}x {cpw / first_cpw[w]:>5.2f}",
                flush=True,
            )
    for n in sizes:
        cats = {r["catalog"] for r in rows if r["n"] == n}
        print(f"N={n}: catalog bytes identical across worker counts: {len(cats) == 1}")
    print(
        "vs base: worlds/s over the baseline's (wall; a shared machine skews it); cpu vs base: "
        "the baseline's CPU seconds per world over ours; flat: CPU seconds per world at this "
        "N over the smallest N with the same workers (1.00 = flat)"
    )


if __name__ == "__main__":
    main()
