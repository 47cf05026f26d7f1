"""Peak memory of a build with procedural testing against the database size (issue 21: ≤ 3x).

Run: ``python benchmarks/bench_memory.py`` (retail at 100k and 1M rows, about a minute per
1M build on 2 cores; ``--domains retail airline``, ``--rows 100000``). Each build runs in its
own child process and writes its world into a temporary directory, as ``scaleenv world
build`` does, so ``ru_maxrss`` is that build's peak (interpreter and imports included).
Per size it prints the peak of the build as it is (procedural testing on the seeded file:
its session copies the file page by page, the build reads the database's bytes only after
it, and the manifest's row counts are read from the written file: one copy in memory at a
time) next to the old figure (the same build with the bytes in the process during
procedural testing, beside the session's copy, and the row counts taken from a
deserialized copy of the bytes, as before), both as MB and as a multiple of the database
size, with the CPU seconds of procedural testing.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def one(domain: str, rows: int, old: bool) -> dict[str, Any]:
    """One build with procedural testing, in this (child) process; ``old``: procedural
    testing gets the database's bytes (read from the seeded file), not the file."""
    import synth.build as build  # lazy: the child process only

    real, cpu_s = build.run_proctest, []

    def run_proctest(spec: Any, db: Path | bytes, **kw: Any) -> Any:
        if old:  # the bytes held for the whole of procedural testing, as before
            db = Path(db).read_bytes() if isinstance(db, Path) else db
        cpu = time.process_time()
        try:
            return real(spec, db, **kw)
        finally:
            cpu_s.append(time.process_time() - cpu)

    build.run_proctest = run_proctest  # type: ignore[assignment]
    if old:  # the manifest's row counts from a deserialized copy of the bytes, as before
        import engine.world as world  # lazy: the child process only
        from engine.db import table_counts  # lazy: the child process only

        held: list[bytes] = []
        real_write = build.write_world

        def write_world(out: Any, files: Any, meta: Any) -> Any:
            held.append(files[world.DB_FILE])
            return real_write(out, files, meta)

        build.write_world = write_world  # type: ignore[assignment]
        world.file_table_counts = lambda _path: table_counts(held[-1])  # type: ignore[assignment]
    cpu = time.process_time()
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        built = build.build_world(domain, rows=rows, seed=0, proctest=True, out=Path(tmp) / "w")
    return {
        "db_mb": len(built.db_bytes) / 2**20,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "build_cpu_s": time.process_time() - cpu,
        "proctest_cpu_s": sum(cpu_s),
    }


def child(domain: str, rows: int, old: bool) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", domain, str(rows), "old" if old else "new"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--domains", nargs="+", default=["retail"])
    ap.add_argument("--rows", nargs="+", type=int, default=[100_000, 1_000_000])
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        domain, rows, which = args.child
        print(json.dumps(one(domain, int(rows), which == "old")))
        return
    print(
        f"{'domain':<8} {'rows':>9} {'db MB':>6} {'peak MB':>8} {'x db':>5} {'pt cpu':>6} "
        f"{'old MB':>7} {'old x':>5} {'old cpu':>7}"
    )
    for domain in args.domains:
        for rows in args.rows:
            new, old = child(domain, rows, False), child(domain, rows, True)
            db = new["db_mb"]
            print(
                f"{domain:<8} {rows:>9,} {db:>6.1f} {new['peak_mb']:>8.0f} "
                f"{new['peak_mb'] / db:>5.2f} {new['proctest_cpu_s']:>6.1f} "
                f"{old['peak_mb']:>7.0f} {old['peak_mb'] / db:>5.2f} {old['proctest_cpu_s']:>7.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
