"""Build a world from a user's rows instead of seeded ones: ``import_world``.

The schema comes from the spec's own Alembic chain (the same path a build takes, so the
world passes ``World.load``'s schema check); every row goes through the column type checks
(``synth.importers.coerce``), the table's constraints (NOT NULL, UNIQUE, CHECK, inserted
one by one) and foreign keys (``PRAGMA foreign_key_check`` after all tables, so the order
of tables and self-references do not matter; a row whose parent was refused is refused
too), then the spec's invariants. What was refused is reported row by row. By default any
refusal refuses the import and nothing is written; ``allow_rejected`` writes the world
without those rows. An invariant that fails always refuses (its rows cannot be dropped
one by one without changing what it means). Then the normal pipeline: procedural tests on
the imported rows, the dependency graph, tasks.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.db import bytes_to_connection
from engine.errors import ScaleEnvError
from engine.spec.models import DomainSpec
from engine.spec.validate import load_spec
from engine.world import DB_FILE, SPEC_FILE, World, write_world
from synth.graph import build_graph, graph_to_json
from synth.importers.coerce import Refused, coerce
from synth.importers.sources import Rows, read_rows
from synth.migrate.apply import create_world_db, initial_revision
from synth.proctest.run import run_proctest
from synth.resources import resolve_spec
from synth.tasks import generate_tasks

REPORT_FILE = "import.json"
MAX_LISTED = 1000  # rejected rows listed in the report (the counts are always complete)


class ImportRefused(ScaleEnvError):
    """Rows were refused and the import was not allowed to drop them."""

    def __init__(self, message: str, report: dict[str, Any]) -> None:
        super().__init__(message)
        self.report = report


@dataclass
class ImportResult:
    """What an import produced: the database, the world's files and the rejection report."""

    spec: DomainSpec
    db_bytes: bytes
    files: dict[str, bytes]
    meta: dict[str, Any]
    report: dict[str, Any]
    path: Path | None = None
    reports: dict[str, Any] = field(default_factory=dict)

    def world(self) -> World:
        return World.from_parts(self.spec, self.db_bytes, meta=self.meta)


def load_rows(spec: DomainSpec, rows: Rows, kind: str = "rows") -> tuple[bytes, dict[str, Any]]:
    """(database bytes, report): ``rows`` checked and inserted into the spec's schema.

    The database holds only the accepted rows; the report lists every refused one."""

    textual = kind in ("folder", "sqlite")
    unknown = sorted(set(rows) - set(spec.entities))
    if unknown:
        raise ScaleEnvError(f"data: {unknown[0]} is not a table of {spec.name}")
    conn = bytes_to_connection(create_world_db(spec, initial_revision(spec)))
    rejected: list[dict[str, Any]] = []
    tables: dict[str, dict[str, int]] = {}
    positions: dict[tuple[str, int], int] = {}  # (table, rowid) -> 1-based source position
    try:
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("BEGIN")
        for table, entity in spec.entities.items():
            src = rows.get(table, [])
            tables[table] = {"read": len(src), "imported": 0, "rejected": 0}
            cols = list(entity.columns)
            sql = (
                f'INSERT INTO "{table}" ({", ".join(f"{chr(34)}{c}{chr(34)}" for c in cols)}) '
                f"VALUES ({', '.join('?' * len(cols))})"
            )
            for pos, raw in enumerate(src, start=1):
                values, why = _values(entity, raw, textual)
                if why is not None:
                    rejected.append({"table": table, "row": pos, **why})
                    continue
                try:
                    cur = conn.execute(sql, values)
                except sqlite3.IntegrityError as exc:
                    rejected.append({"table": table, "row": pos, "reason": str(exc)})
                    continue
                positions[(table, int(cur.lastrowid or 0))] = pos
        rejected += _drop_orphans(conn, spec, positions)
        conn.execute("COMMIT")
        for r in rejected:
            tables[r["table"]]["rejected"] += 1
        for table in tables:
            n = conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
            tables[table]["imported"] = n
        broken = _invariants(conn, spec)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("VACUUM")
        db = conn.serialize()
    finally:
        conn.close()
    rejected.sort(key=lambda r: (list(spec.entities).index(r["table"]), r["row"]))
    report = {
        "source": kind,
        "tables": tables,
        "rejected_rows": len(rejected),
        "rejected": rejected[:MAX_LISTED],
        "invariants": broken,
    }
    return db, report


def _values(entity: Any, raw: Any, textual: bool) -> tuple[list[Any], dict[str, str] | None]:
    if not isinstance(raw, dict):
        return [], {"reason": f"a row is an object of columns, got {type(raw).__name__}"}
    extra = sorted(set(raw) - set(entity.columns))
    if extra:
        return [], {"column": extra[0], "reason": "not a column of the table"}
    values = []
    for cname, col in entity.columns.items():
        if cname not in raw:
            if col.default is not None:
                raw_value: Any = col.default
            elif col.nullable:
                raw_value = None
            else:
                return [], {"column": cname, "reason": "missing (NOT NULL, no default)"}
        else:
            raw_value = raw[cname]
        try:
            values.append(coerce(col, raw_value, textual=textual and cname in raw))
        except Refused as exc:
            return [], {"column": cname, "reason": str(exc)}
    return values, None


def _drop_orphans(
    conn: sqlite3.Connection, spec: DomainSpec, positions: dict[tuple[str, int], int]
) -> list[dict[str, Any]]:
    """Refuse the rows whose parent is missing, until none is left (a refused parent
    orphans its children: foreign keys are off, so nothing cascades by itself)."""
    out: list[dict[str, Any]] = []
    while True:
        bad = conn.execute("PRAGMA foreign_key_check").fetchall()
        if not bad:
            return out
        seen: set[tuple[str, int]] = set()
        for table, rowid, parent, fkid in bad:
            if (table, rowid) in seen:
                continue
            seen.add((table, rowid))
            fk = [r for r in conn.execute(f'PRAGMA foreign_key_list("{table}")') if r[0] == fkid]
            col = fk[0][3] if fk else "?"
            value = conn.execute(f'SELECT "{col}" FROM "{table}" WHERE rowid = ?', (rowid,))
            shown = (value.fetchone() or [None])[0]
            out.append(
                {
                    "table": table,
                    "row": positions.get((table, rowid), 0),
                    "column": col,
                    "reason": f"foreign key: no {parent} row with {fk[0][4] if fk else '?'} "
                    f"= {shown!r}",
                }
            )
            conn.execute(f'DELETE FROM "{table}" WHERE rowid = ?', (rowid,))


def _invariants(conn: sqlite3.Connection, spec: DomainSpec) -> list[dict[str, Any]]:
    broken = []
    for inv in spec.invariants:
        try:
            bad = conn.execute(inv.violations).fetchmany(3)
        except sqlite3.Error as exc:  # pragma: no cover - validated specs prepare
            raise ScaleEnvError(f"invariants.{inv.name}: {exc}") from exc
        if bad:
            shown = [[v if isinstance(v, int | float | str) else None for v in r] for r in bad]
            broken.append({"invariant": inv.name, "first_rows": shown})
    return broken


def _refusal(spec: DomainSpec, report: dict[str, Any]) -> str | None:
    if report["invariants"]:
        b = report["invariants"][0]
        return f"{spec.name}: imported rows break invariant {b['invariant']}: {b['first_rows'][0]}"
    if report["rejected_rows"]:
        r = report["rejected"][0]
        col = f".{r['column']}" if r.get("column") else ""
        return (
            f"{spec.name}: {report['rejected_rows']} row(s) refused; first: {r['table']} row "
            f"{r['row']}{col}: {r['reason']}"
        )
    return None


def import_world(
    spec_src: str | Path | dict | DomainSpec,
    data: str | Path | Rows,
    out: str | Path | None = None,
    *,
    mapping: Any = None,
    allow_rejected: bool = False,
    proctest: bool = True,
    tasks: int = 0,
    seed: int = 0,
    extra_files: dict[str, bytes] | None = None,
) -> ImportResult:
    """A world from ``data`` (a JSON file + optional ``mapping``, a folder of CSV/Parquet
    files, a SQLite file, or rows already read: ``{table: [row dicts]}``) under the spec;
    written atomically to ``out`` when given. Refused rows raise ``ImportRefused`` (its
    ``report`` says which and why) unless ``allow_rejected``; a broken invariant always does."""

    if isinstance(spec_src, str | Path):
        spec_src = resolve_spec(spec_src)
    spec = load_spec(spec_src)
    if isinstance(data, dict):
        kind, rows = "rows", data
    else:
        kind, rows = read_rows(spec, data, mapping)
    db, report = load_rows(spec, rows, kind)
    problem = _refusal(spec, report)
    if problem and (report["invariants"] or not allow_rejected):
        raise ImportRefused(problem, report)
    files: dict[str, bytes] = dict(initial_revision(spec))
    meta: dict[str, Any] = {
        "domain": spec.name,
        "seed": seed,
        "now": spec.now,
        "imported": {"source": kind, "db_sha256": hashlib.sha256(db).hexdigest()},
    }
    reports: dict[str, Any] = {"import": report}
    if proctest:
        prep = run_proctest(spec, db, seed=seed)
        spec = prep.quarantined_spec(spec)
        reports["proctest"] = prep
        files["proctest.json"] = prep.to_json().encode()
    if tasks > 0:
        graph = build_graph(spec)
        files["graph.json"] = graph_to_json(graph).encode()
        generated = generate_tasks(
            World.from_parts(spec, db, meta=meta), n=tasks, seed=seed, graph=graph
        )
        files["tasks.jsonl"] = generated.to_jsonl().encode()
        reports["tasks"] = generated
    files.update(extra_files or {})
    meta["spec_sha256"] = spec.digest()
    files[REPORT_FILE] = (json.dumps(report, indent=2, sort_keys=True) + "\n").encode()
    files[SPEC_FILE] = spec.to_yaml().encode()
    files[DB_FILE] = db
    result = ImportResult(spec, db, files, meta, report, reports=reports)
    if out is not None:
        result.path = write_world(out, files, meta)
    return result
