"""Seeding speed: rows/s for 10k- and 100k-row worlds, against the naive way.

Run: ``python benchmarks/bench_seed.py`` (about a minute). Ours is
``synth.seed.seed_database`` (pooled Faker values, column-wise draws, executemany, SQL fills).
The baseline is what a first version would do: one Faker call per value per row and one
SQLAlchemy Core INSERT per row (unique values by redrawing until unseen, FKs picked from the
parents' keys), timed on a small world and reported as rows/s. Both run in this process
(ours in a child process with a timeout). The machine may be shared: CPU seconds are shown
next to wall seconds, and quick runs are repeated (best of two).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.spec.metadata import build_metadata, create_sqlite  # noqa: E402
from engine.spec.models import Column, DomainSpec, read_spec_data  # noqa: E402
from synth.seed.ranges import date_range, numeric_range  # noqa: E402
from synth.seed.seeder import plan_counts, seed_database, table_order  # noqa: E402
from synth.seed.values import _pool, guess_source  # noqa: E402

DOMAINS = ROOT / "fixtures" / "domains"
SIZES = (10_000, 100_000)
BASELINE_ROWS = 2_000
BASELINE_SECONDS = 4.0  # the baseline stops here and reports the rate so far
TIMEOUT = 120.0  # one run of ours, in a child process (generous: a regression shows as a note)
SLOW = 60.0  # seconds: a domain this slow at one size is not run at the next
QUICK = 5.0  # seconds: runs quicker than this are repeated once (best of two)


def load(path: Path) -> DomainSpec:
    return DomainSpec.model_validate(read_spec_data(path))


# ---- ours ----------------------------------------------------------------------------------
def bench_ours(spec: DomainSpec, rows: int, seed: int = 0) -> tuple[int, float, float]:
    """(rows seeded, wall seconds, CPU seconds) for one world of about ``rows`` rows (schema
    not timed). The Faker pool cache is cleared first, so the pools' cost is in every run.
    """
    _pool.cache_clear()
    conn = sqlite3.connect(":memory:")
    create_sqlite(spec, conn)
    t0, c0 = time.perf_counter(), time.process_time()
    counts = seed_database(spec, conn, seed, rows=rows)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    conn.close()
    return sum(counts.values()), seconds, cpu


# ---- the naive baseline --------------------------------------------------------------------
def _naive_value(fake: Any, table: str, cname: str, col: Column, spec: DomainSpec, i: int) -> Any:
    hint = col.faker
    if hint is not None and hint.pattern:
        return fake.bothify(hint.pattern, letters="ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    if hint is not None and hint.choices:
        return fake.random_element(hint.choices)
    if hint is not None and hint.provider:
        return getattr(fake, hint.provider)(**hint.args)
    if col.type == "enum":
        return fake.random_element(col.values)
    if col.type == "boolean":
        return fake.pybool()
    if col.type == "integer":
        if col.primary_key:
            return i + 1
        lo, hi = numeric_range(col, cname, [col.check] if col.check else [])
        return fake.random_int(int(lo), int(hi))
    if col.type == "decimal":
        lo, hi = numeric_range(col, cname, [col.check] if col.check else [])
        return round(fake.pyfloat(min_value=lo, max_value=hi + 1), col.scale) if lo < hi else lo
    if col.type in ("date", "datetime"):
        lo, hi = date_range(col, spec.now)
        v = fake.date_time_between_dates(lo, hi)
        return v.date() if col.type == "date" else v  # SQLAlchemy's types want date objects
    if col.primary_key:
        return f"{table[:3].upper()}{i:06d}"
    _, provider, args = guess_source(cname, col)
    return getattr(fake, provider if hasattr(fake, provider) else "word")(**args)


def bench_naive(
    spec: DomainSpec, rows: int = BASELINE_ROWS, seed: int = 0, budget: float = BASELINE_SECONDS
) -> tuple[int, float]:
    """(rows inserted, seconds): Faker per value, a Core INSERT per row, in one transaction."""
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed)
    engine = sa.create_engine("sqlite://")
    metadata = build_metadata(spec)
    metadata.create_all(engine)
    targets = plan_counts(spec, rows=rows)
    order, _ = table_order(spec)
    keys: dict[str, list[Any]] = {}
    done = 0
    t0 = time.perf_counter()
    with engine.begin() as conn:
        for table in order:
            entity = spec.entities[table]
            sa_table = metadata.tables[table]
            for i in range(targets[table]):
                if time.perf_counter() - t0 > budget:
                    break
                for _attempt in range(20):
                    row = {}
                    for cname, col in entity.columns.items():
                        if col.references:
                            parent = keys.get(col.references, [])
                            row[cname] = fake.random_element(parent) if parent else None
                        elif col.faker is not None and col.faker.sql:  # fills not run here
                            bare = col.model_copy(update={"faker": None})
                            row[cname] = _naive_value(fake, table, cname, bare, spec, i)
                        else:
                            row[cname] = _naive_value(fake, table, cname, col, spec, i)
                    try:
                        with conn.begin_nested():
                            conn.execute(sa_table.insert(), row)
                    except sa.exc.IntegrityError:
                        continue
                    done += 1
                    for cname in entity.columns:
                        keys.setdefault(f"{table}.{cname}", []).append(row[cname])
                    break
    seconds = time.perf_counter() - t0
    engine.dispose()
    return done, seconds


# ---- report ---------------------------------------------------------------------------------
def _child(path: str, rows: int, out: Any) -> None:
    try:
        out.send(bench_ours(load(Path(path)), rows))
    except Exception as exc:  # noqa: BLE001 - reported as a note
        out.send(f"{type(exc).__name__}: {exc}")


def timed_ours(path: Path, rows: int, timeout: float = TIMEOUT) -> tuple[int, float, float] | str:
    """bench_ours in a child process: (rows, seconds), or a note when it fails or times out."""
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(str(path), rows, send))
    proc.start()
    got = recv.recv() if recv.poll(timeout) else f"timed out after {timeout:.0f} s"
    proc.join(1.0)
    if proc.is_alive():
        proc.kill()
        proc.join()
    return got


def run(
    paths: list[Path], sizes: tuple[int, ...] = SIZES, baseline_rows: int = BASELINE_ROWS
) -> list[dict]:
    """One result row per (domain, size): ours rows/s, baseline rows/s and their ratio."""
    results = []
    for path in paths:
        spec = load(path)
        base_n, base_s = bench_naive(spec, baseline_rows)
        base_rate = base_n / base_s if base_n else 0.0
        slow = False
        for size in sizes:
            if slow:
                results.append(
                    {
                        "domain": spec.name,
                        "rows": size,
                        "note": "skipped: too slow at the last size",
                    }
                )
                continue
            got = timed_ours(path, size)
            if isinstance(got, str):
                results.append({"domain": spec.name, "rows": size, "note": got[:160]})
                slow = True
                continue
            n, secs, cpu = got
            if secs < QUICK:  # best of two: the machine is shared, noise only adds time
                again = timed_ours(path, size)
                if not isinstance(again, str) and again[1] < secs:
                    _, secs, cpu = again
            slow = secs > SLOW
            rate = n / secs
            results.append(
                {
                    "domain": spec.name, "rows": n, "seconds": secs, "cpu_seconds": cpu,
                    "rows_per_s": rate, "baseline_rows_per_s": base_rate,
                    "ratio": rate / base_rate if base_rate else 0.0, "note": "",
                }
            )  # fmt: skip
    return results


def print_table(results: list[dict]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # pragma: no cover
        for r in results:
            print(r)
        return
    table = Table(
        title=f"seeding speed (baseline: Faker per value + Core INSERT per row, {BASELINE_ROWS} rows)"
    )
    for col in (
        "domain",
        "rows",
        "seconds",
        "cpu s",
        "rows/s",
        "baseline rows/s",
        "ours / baseline",
        "note",
    ):
        table.add_column(col, justify="left" if col in ("domain", "note") else "right")
    for r in results:
        if "seconds" not in r:
            table.add_row(r["domain"], f"{r['rows']:,}", "", "", "", "", "", r["note"])
            continue
        table.add_row(
            r["domain"], f"{r['rows']:,}", f"{r['seconds']:.3f}", f"{r['cpu_seconds']:.3f}",
            f"{r['rows_per_s']:,.0f}",
            f"{r['baseline_rows_per_s']:,.0f}", f"{r['ratio']:.0f}x", r["note"],
        )  # fmt: skip
    Console(width=150).print(table)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("domains", nargs="*", help="spec files (default: every fixture domain)")
    ap.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    ap.add_argument("--baseline-rows", type=int, default=BASELINE_ROWS)
    args = ap.parse_args(argv)
    paths = [Path(p) for p in args.domains] or sorted(
        DOMAINS.glob("*.yaml"), key=lambda p: p.name != "tiny_shop.yaml"
    )
    t0 = time.perf_counter()
    print_table(run(paths, tuple(args.sizes), args.baseline_rows))
    print(f"total {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
