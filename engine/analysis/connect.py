"""One DuckDB connection over many worlds: data tables, per-world schemas, catalog views.

Layout of the connection:

* ``main.<table>``: every world's rows of that table, with a leading ``world`` column
  (columns unioned by name across worlds; conflicting types become text).
* ``"<world>".<table>``: one schema per world with views of its own rows (created up to
  ``schemas_limit`` worlds: DuckDB creates a view in ~0.3 ms, too slow for thousands).
* ``meta.*``: worlds, tables, columns, tools, tasks, task_actions, subgoals, proctest,
  edges, trajectories, steps, first_failures and, when the synthesis runner left them,
  synth_catalog (``catalog.json``) and fingerprints (``report/fingerprints.jsonl``).

SQLite is read through Python's sqlite3 into Arrow: DuckDB's SQLite extension would be
downloaded at run time, so extension autoinstall and autoload are off.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from engine.analysis.reader import RawTable, WorldData, arrow_type, find_worlds, read_world
from engine.analysis.records import catalog_tables
from engine.analysis.trajectories import load_trajectories
from engine.errors import ScaleEnvError, WorldError

RESERVED = {"main", "meta", "temp", "system", "information_schema", "pg_catalog"}
CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


def q(name: str) -> str:
    """A quoted DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


@dataclass
class Analysis:
    """An open DuckDB connection over worlds; ``sql`` returns rows, ``df`` a DataFrame."""

    con: duckdb.DuckDBPyConnection
    worlds: list[str]
    schemas: dict[str, str] = field(default_factory=dict)  # world -> its schema, if created
    roots: list[Path] = field(default_factory=list)

    def sql(self, query: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.con.execute(query, params or []).fetchall()

    def df(self, query: str, params: Sequence[Any] | None = None) -> Any:
        """A pandas DataFrame (pandas comes with the ``analysis`` extra)."""
        return self.con.execute(query, params or []).df()

    def scalar(self, query: str, params: Sequence[Any] | None = None) -> Any:
        rows = self.con.execute(query, params or []).fetchall()  # fetchall: no open result
        return rows[0][0] if rows else None

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Analysis:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _unified_type(types: list[pa.DataType]) -> pa.DataType:
    distinct = set(types)
    if len(distinct) == 1:
        return distinct.pop()
    if all(pa.types.is_integer(t) or pa.types.is_boolean(t) for t in distinct):
        return pa.int64()
    if all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in distinct):
        return pa.float64()
    return pa.string()


def _array(values: list[Any], type_: pa.DataType) -> pa.Array:
    """Values in their declared type; SQLite is loosely typed, so fall back to text."""
    try:
        return pa.array(values, type=type_)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def union_tables(parts: list[tuple[str, RawTable]]) -> pa.Table:
    """One Arrow table with a leading ``world`` column from per-world tables of one name.

    Columns are unioned by name (absent ones are NULL); a column whose declared types
    differ between worlds becomes text. Built once per name, not once per world: at a
    thousand worlds, per-world Arrow tables cost more than reading the SQLite files.
    """
    types: dict[str, list[pa.DataType]] = {}
    for _, t in parts:
        for col, declared in zip(t.columns, t.declared, strict=True):
            if col != "world":  # a world's own ``world`` column would clash; the label wins
                types.setdefault(col, []).append(arrow_type(declared))
    values: dict[str, list[Any]] = {c: [] for c in types}
    label: list[str] = []
    for world, t in parts:
        label.extend([world] * t.rows)
        own = dict(zip(t.columns, t.data, strict=True))
        for col, acc in values.items():
            acc.extend(own.get(col) or [None] * t.rows)
    arrays = {"world": pa.array(label, pa.string())}
    for col, acc in values.items():
        arrays[col] = _array(acc, _unified_type(types[col]))
    return pa.table(arrays)


def world_names(paths: list[Path], roots: list[Path]) -> list[str]:
    """Directory names, or paths relative to their root where two worlds share a name."""
    base = [p.name for p in paths]
    dup = {n for n in base if base.count(n) > 1}
    names = []
    for p, n in zip(paths, base, strict=True):
        if n in dup:
            root = next((r for r in roots if p.is_relative_to(r) and p != r), p.parent)
            n = p.relative_to(root).as_posix()
        names.append(n)
    if len(set(names)) != len(names):
        raise WorldError("two worlds resolve to the same name: " + ", ".join(sorted(names)))
    return names


def _flat(rows: list[Any]) -> pa.Table | None:
    """Records as a table; nested values as JSON text, mixed types as text."""
    flat = [
        {
            k: json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else v
            for k, v in r.items()
        }
        for r in rows
        if isinstance(r, dict)
    ]
    if not flat:
        return None
    try:
        return pa.Table.from_pylist(flat)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.Table.from_pylist(
            [{k: None if v is None else str(v) for k, v in r.items()} for r in flat]
        )


def _json_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ScaleEnvError(f"{path}: not valid JSON ({exc})") from exc


def _synth_catalog(roots: list[Path]) -> pa.Table | None:
    """The synthesis runner's catalog (``catalog.parquet`` or ``catalog.json``), if any."""
    for root in roots:
        if (root / "catalog.parquet").is_file():
            return pq.read_table(root / "catalog.parquet")
        if (root / "catalog.json").is_file():
            data = _json_file(root / "catalog.json")
            if isinstance(data, dict):
                data = data.get("worlds", list(data.values()))
            return _flat(data if isinstance(data, list) else [])
    return None


def _synth_fingerprints(roots: list[Path]) -> pa.Table | None:
    """Per-world fingerprints of ``scaleenv synth report`` (``report/fingerprints.jsonl``)."""
    for root in roots:
        path = root / "report" / "fingerprints.jsonl"
        if path.is_file():
            lines = path.read_text(encoding="utf-8").splitlines()
            try:
                return _flat([json.loads(x) for x in lines if x.strip()])
            except ValueError as exc:
                raise ScaleEnvError(f"{path}: not valid JSON lines ({exc})") from exc
    return None


def _load(con: duckdb.DuckDBPyConnection, target: str, table: pa.Table) -> None:
    con.register("_arrow_in", table)
    try:
        con.execute(f"CREATE TABLE {target} AS SELECT * FROM _arrow_in")
    finally:
        con.unregister("_arrow_in")


DERIVED = """
CREATE VIEW meta.trajectories AS
  SELECT t.* REPLACE (COALESCE(t.difficulty, k.difficulty) AS difficulty)
  FROM meta.episodes t LEFT JOIN meta.tasks k ON k.world = t.world AND k.task_id = t.task_id;
CREATE VIEW meta.first_failures AS
  SELECT world, task_id, sample, min(step) AS step,
         arg_min(tool, step) AS tool, arg_min(error_type, step) AS error_type
  FROM meta.steps WHERE NOT ok GROUP BY world, task_id, sample;
"""


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while reading: a thousand worlds allocate millions of small
    objects (row values, JSON) that hold no cycles, and each collection rescans them all."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _world_schemas(
    con: duckdb.DuckDBPyConnection, worlds: list[WorldData], limit: int
) -> dict[str, str]:
    """A schema per world with a view per table (none above ``limit`` worlds)."""
    schemas: dict[str, str] = {}
    if len(worlds) > limit:
        return schemas
    con.execute("BEGIN")
    for w in worlds:
        schema = f"w_{w.name}" if w.name.lower() in RESERVED else w.name
        con.execute(f"CREATE SCHEMA {q(schema)}")
        literal = "'" + w.name.replace("'", "''") + "'"  # views take no parameters
        for tname, t in w.tables.items():
            cols = ", ".join(q(c) for c in t.columns if c != "world")
            con.execute(
                f"CREATE VIEW {q(schema)}.{q(tname)} AS SELECT {cols} "
                f"FROM main.{q(tname)} WHERE world = {literal}"
            )
        schemas[w.name] = schema
    con.execute("COMMIT")
    return schemas


def open_worlds(
    sources: str | Path | Iterable[str | Path],
    trajectories: str | Path | Iterable[str | Path] | None = None,
    *,
    schemas_limit: int = 200,
    database: str = ":memory:",
) -> Analysis:
    """Open world directories (or directories of worlds) and trajectory files in DuckDB.

    ``database`` may name a new DuckDB file to keep the result (default: in memory).
    """
    if database != ":memory:" and Path(database).exists():
        raise ScaleEnvError(f"{database}: already exists; name a new DuckDB file")
    srcs = [Path(sources)] if isinstance(sources, str | Path) else [Path(s) for s in sources]
    if not srcs:
        raise WorldError("no world directories given")
    tpaths = (
        []
        if trajectories is None
        else ([trajectories] if isinstance(trajectories, str | Path) else list(trajectories))
    )
    roots = [s.resolve() for s in srcs]
    paths = sorted({p.resolve() for s in srcs for p in find_worlds(s)})
    names = world_names(paths, roots)
    specs: dict[str, Any] = {}  # parsed specs by file hash, for this call only
    with _gc_paused():
        worlds = [
            read_world(p, n, specs)
            for p, n in sorted(zip(paths, names, strict=True), key=lambda x: x[1])
        ]
        episodes, steps = load_trajectories(tpaths)
        con = duckdb.connect(database, config=dict(CONFIG))
        try:
            con.execute("CREATE SCHEMA IF NOT EXISTS meta")
            by_table: dict[str, list[tuple[str, RawTable]]] = {}
            for w in worlds:
                for tname, t in w.tables.items():
                    by_table.setdefault(tname, []).append((w.name, t))
            for tname in sorted(by_table):
                _load(con, f"main.{q(tname)}", union_tables(by_table.pop(tname)))
            for name, table in catalog_tables(worlds).items():
                _load(con, f"meta.{q(name)}", table)
            _load(con, "meta.episodes", episodes)
            _load(con, "meta.steps", steps)
            for name, extra in (
                ("synth_catalog", _synth_catalog(roots)),
                ("fingerprints", _synth_fingerprints(roots)),
            ):
                if extra is not None:
                    _load(con, f"meta.{name}", extra)
            con.execute(DERIVED)
            schemas = _world_schemas(con, worlds, schemas_limit)
        except BaseException:
            con.close()
            raise
    return Analysis(con, [w.name for w in worlds], schemas, roots)
