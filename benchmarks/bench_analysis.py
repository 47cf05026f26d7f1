"""Opening N worlds in DuckDB (engine.analysis.open_worlds) vs a naive pandas path.

One small world (tiny_shop, 300 rows, 5 tasks) is built once and hard-linked into N world
directories (N = 10, 100, 1000). Ours: ``open_worlds(DIR)`` -- every table unioned with a
``world`` column, the meta catalog (worlds, tables, columns, tools, tasks, proctest,
edges), hashes verified, per-world schemas up to 200 worlds. Baseline: what one writes by
hand -- per world and table ``pandas.read_sql_query``, a ``world`` column, ``pd.concat``
per table name, registered in DuckDB, plus the spec (yaml.safe_load) and tasks (json).

Ours is timed twice: as used (worlds of one spec share its parsed YAML) and with that
cache off (every world parses its own spec, as in a catalog of distinct domains).

    python benchmarks/bench_analysis.py [--sizes 10 100 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import engine.analysis.connect as connect  # noqa: E402
import engine.analysis.reader as reader  # noqa: E402
from engine.analysis import open_worlds  # noqa: E402
from synth.build import build_world  # noqa: E402

SPEC = Path(__file__).resolve().parents[1] / "fixtures" / "domains" / "tiny_shop.yaml"


class _NoCache(dict):
    def __setitem__(self, key: str, value: object) -> None:  # never remembers a spec
        pass


def _uncached(path: Path, name: str | None = None, spec_cache: object = None) -> object:
    return reader.read_world(path, name, _NoCache())


def make_worlds(src: Path, root: Path, n: int) -> Path:
    """``n`` copies of one world (hard links where the file system allows)."""
    out = root / f"n{n}"
    for i in range(n):
        dest = out / f"w{i:05d}"
        for f in src.rglob("*"):
            if f.is_file():
                target = dest / f.relative_to(src)
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(f, target)
                except OSError:
                    shutil.copy2(f, target)
    return out


def naive(root: Path) -> int:
    """The hand-written baseline; returns the total row count it loaded."""
    frames: dict[str, list[pd.DataFrame]] = {}
    specs, tasks = [], []
    for world in sorted(p.parent for p in root.rglob("manifest.json")):
        conn = sqlite3.connect(world / "world.sqlite")
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        for name in names:
            df = pd.read_sql_query(f'SELECT * FROM "{name}"', conn)
            df.insert(0, "world", world.name)
            frames.setdefault(name, []).append(df)
        conn.close()
        specs.append(yaml.safe_load((world / "spec.yaml").read_text()))
        tasks += [json.loads(x) for x in (world / "tasks.jsonl").read_text().splitlines() if x]
    con = duckdb.connect()
    total = 0
    for name, parts in sorted(frames.items()):
        df = pd.concat(parts, ignore_index=True)
        con.register(f"t_{name}", df)
        total += con.execute(f"SELECT count(*) FROM t_{name}").fetchall()[0][0]
    con.close()
    return total


def ours(root: Path) -> int:
    with open_worlds(root) as a:
        tables = [r[0] for r in a.sql('SELECT DISTINCT "table" FROM meta.tables')]
        return sum(a.scalar(f'SELECT count(*) FROM main."{t}"') for t in tables)


def timed(fn, *args):  # type: ignore[no-untyped-def]
    """(wall seconds, CPU seconds of this process, result): on a shared machine the CPU
    time is the better estimate of the wall time an idle machine would show."""
    t0, c0 = time.perf_counter(), time.process_time()
    result = fn(*args)
    return time.perf_counter() - t0, time.process_time() - c0, result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    sizes = ap.parse_args().sizes
    with tempfile.TemporaryDirectory(prefix="bench-analysis-") as tmp:
        root = Path(tmp)
        build_world(SPEC, seed=1, rows=300, out=root / "src", tasks=5)
        print(
            f"{'worlds':>7} {'ours s':>8} {'(cpu s)':>8} {'no-cache s':>10} {'naive s':>8} "
            f"{'(cpu s)':>8} {'ratio':>6}  rows"
        )
        for n in sizes:
            d = make_worlds(root / "src", root, n)
            t_ours, c_ours, rows_ours = timed(ours, d)
            connect.read_world = _uncached
            try:
                t_cold, _, _ = timed(ours, d)
            finally:
                connect.read_world = reader.read_world
            t_naive, c_naive, rows_naive = timed(naive, d)
            # the naive path also loads alembic_version (one row per world)
            assert rows_naive - n == rows_ours, (rows_naive, rows_ours)
            print(
                f"{n:>7} {t_ours:>8.2f} {c_ours:>8.2f} {t_cold:>10.2f} {t_naive:>8.2f} "
                f"{c_naive:>8.2f} {t_naive / t_ours:>5.1f}x  {rows_ours}"
            )
            shutil.rmtree(d)


if __name__ == "__main__":
    main()
