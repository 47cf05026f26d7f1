"""spec -> world directory: migrations, seeded database, reports, written atomically.

The world's schema is made by running its own Alembic chain, so the revision files on
disk are the ones that built ``world.sqlite``; rows come from the seeded sampler; nothing
reaches the output path unless every step succeeded.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.budget import bounded, seed_steps
from engine.db import add_functions, bytes_to_connection
from engine.errors import ScaleEnvError
from engine.spec.models import DomainSpec
from engine.spec.validate import load_spec
from engine.world import DB_FILE, SPEC_FILE, World, write_world
from synth.audit.seeding import seeding_report, strict_problems
from synth.graph import build_graph, graph_to_json
from synth.indexes import advise as advise_indexes
from synth.migrate.apply import create_world_db, initial_revision
from synth.proctest.run import run_proctest
from synth.resources import resolve_spec
from synth.seed.plan import plan_counts
from synth.seed.seeder import seed_database
from synth.tasks import generate_tasks

SEED_CACHE_KIB = 16384  # page cache while seeding (KiB)


@dataclass
class BuildResult:
    """What a build produced; ``path`` is None for an in-memory build."""

    spec: DomainSpec
    db_bytes: bytes
    files: dict[str, bytes]
    meta: dict[str, Any]
    path: Path | None = None
    reports: dict[str, Any] = field(default_factory=dict)

    def world(self) -> World:
        return World.from_parts(self.spec, self.db_bytes, meta=self.meta)


def seed_file(
    spec: DomainSpec,
    revisions: dict[str, bytes],
    seed: int,
    rows: int | None,
    path: Path,
    counts: dict[str, Any] | None = None,
) -> Path:
    """The world's initial state written to ``path``: migrated schema + seeded rows,
    vacuumed (deterministic). ``counts`` (a dict) receives the seeder's ``SeedCounts`` under
    "seed".

    Seeded in a file, not in memory: the pages live in the OS cache, not in this process
    (an in-memory database at 1M rows holds about twice the vacuumed size until VACUUM).
    A 16 MB page cache keeps the page reads cheap (the default 2 MB cost 4 s more system
    time at 1M retail rows)."""
    path.write_bytes(create_world_db(spec, revisions))
    conn = add_functions(sqlite3.connect(path, isolation_level=None, check_same_thread=False))
    try:
        conn.execute("PRAGMA journal_mode = OFF")  # a scratch file: a failure discards it
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute(f"PRAGMA cache_size = -{SEED_CACHE_KIB}")
        with bounded(conn, seed_steps(rows), f"seeding {spec.name}"):
            got = seed_database(spec, conn, seed, rows=rows)
        if counts is not None:
            counts["seed"] = got
        conn.execute("VACUUM")
    finally:
        conn.close()
    return path


def build_world(
    spec_src: str | Path | dict | DomainSpec,
    *,
    seed: int = 0,
    rows: int | None = None,
    out: str | Path | None = None,
    proctest: bool = True,
    fuzz_steps: int = 0,
    tasks: int = 0,
    task_seed: int | None = None,
    strict: bool = False,
) -> BuildResult:
    """Build a world from a spec (a file, a curated domain's name, data or a model); write it
    atomically to ``out`` when given.

    ``rows`` is the total row target (None: the spec's own per-table counts). Procedural
    testing quarantines tools that fail; ``tasks`` > 0 also generates verified tasks.
    ``reports["seeding"]`` has target and actual rows per table; ``strict`` refuses a world
    with any quarantined tool or lost row (nothing is written).
    """
    for what, count in (("rows", rows), ("fuzz_steps", fuzz_steps), ("tasks", tasks)):
        if count is not None and (
            isinstance(count, bool) or not isinstance(count, int) or count < 0
        ):
            raise ScaleEnvError(f"build_world: {what} must be a whole number >= 0, got {count!r}")
    if isinstance(spec_src, str | Path):
        spec_src = resolve_spec(spec_src)  # a file, or a curated domain's name ("retail")
    spec, index_advice = advise_indexes(load_spec(spec_src))  # before the schema is made
    revisions = initial_revision(spec)
    seeded: dict[str, Any] = {}
    files: dict[str, bytes] = dict(revisions)
    reports: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="scaleenv-seed-") as tmp:
        # procedural testing reads the seeded file; its bytes are read only after it, so
        # one copy of the database is in memory at a time (issue 21: peak memory)
        path = seed_file(spec, revisions, seed, rows, Path(tmp) / DB_FILE, counts=seeded)
        reports["seeding"] = _seeding(spec, rows, seeded["seed"])
        reports["indexes"] = index_advice
        if proctest:
            report = run_proctest(spec, path, seed=seed, fuzz_steps=fuzz_steps)
            spec = report.quarantined_spec(spec)
            reports["proctest"] = report
            files["proctest.json"] = report.to_json().encode()
        db = path.read_bytes()
    meta: dict[str, Any] = {"domain": spec.name, "seed": seed, "rows_target": rows, "now": spec.now}
    if strict:
        problems = strict_problems(spec, reports["seeding"])
        if problems:
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            raise ScaleEnvError(f"{spec.name}: strict build refused: {problems[0]}{more}")
    if tasks > 0:
        world = World.from_parts(spec, db, meta=meta)
        graph = build_graph(spec)
        files["graph.json"] = graph_to_json(graph).encode()
        generated = generate_tasks(
            world, n=tasks, seed=seed if task_seed is None else task_seed, graph=graph
        )
        files["tasks.jsonl"] = generated.to_jsonl().encode()
        reports["tasks"] = generated
    meta["spec_sha256"] = spec.digest()
    files[SPEC_FILE] = spec.to_yaml().encode()
    files[DB_FILE] = db
    result = BuildResult(spec=spec, db_bytes=db, files=files, meta=meta, reports=reports)
    if out is not None:
        result.path = write_world(out, files, meta)
    return result


def _seeding(spec: DomainSpec, rows: int | None, got: Any) -> dict[str, Any]:

    return seeding_report(plan_counts(spec, rows), dict(got), got.capped, got.repaired)


def check_database(db_bytes: bytes, spec: DomainSpec) -> list[str]:
    """Problems found in a database: integrity, foreign keys, invariants (empty = sound)."""
    conn = bytes_to_connection(db_bytes)
    problems: list[str] = []
    try:
        ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if ok != "ok":
            problems.append(f"integrity_check: {ok}")
        for row in conn.execute("PRAGMA foreign_key_check"):
            problems.append(f"foreign key: {row[0]} rowid {row[1]} -> {row[2]}")
        for inv in spec.invariants:
            try:
                bad = conn.execute(inv.violations).fetchmany(3)
            except sqlite3.Error as exc:  # pragma: no cover - validated specs prepare
                raise ScaleEnvError(f"invariants.{inv.name}: {exc}") from exc
            if bad:
                problems.append(f"invariant {inv.name}: {json.dumps([list(r) for r in bad])}")
    finally:
        conn.close()
    return problems
