"""Read a user's rows: a JSON document (with a mapping for nested ones), a folder of
CSV/Parquet files (one per table) or a SQLite database -> ``{table: [row dicts]}``.

Rows keep the order of their source (document order, file order, rowid order), so the
same data always builds the same world. Values stay as the source has them; types are
checked later, column by column (``synth.importers.coerce``).

A JSON mapping (YAML or JSON, or a dict) says where each table's rows are::

    tables:
      users: {path: users.*}                  # '*': every value of a dict / item of a list
      order_items:
        path: orders.*.items.*
        columns:                              # column -> where its value is; default: the
          order_id: ^order_id                 #   field of the same name. '^f': field f of
          position: "#"                       #   the parent element (one '^' per level),
          user_id: "@key"                     #   '#': index in its list, '@key': dict key,
          city: address.city                  #   'a.b': a nested field, '=v': a constant

Without a mapping the document must be ``{table: [rows]}`` or ``{table: {key: row}}``.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path
from typing import Any

import yaml

from engine.errors import ScaleEnvError
from engine.spec.models import DomainSpec

Rows = dict[str, list[dict[str, Any]]]
_MISSING = object()


class DataImportError(ScaleEnvError):
    """Data that cannot be read or mapped (one line: what and where)."""


def read_rows(spec: DomainSpec, data: str | Path, mapping: Any = None) -> tuple[str, Rows]:
    """(source kind, rows per table) read from ``data``: a .json file, a .sqlite/.db file
    or a folder of <table>.csv / <table>.parquet files."""
    path = Path(data)
    if path.is_dir():
        return "folder", _read_folder(spec, path)
    if not path.is_file():
        raise DataImportError(f"{path}: no such file or folder")
    head = path.read_bytes()[:16]
    if head.startswith(b"SQLite format 3"):
        return "sqlite", _read_sqlite(spec, path)
    if path.suffix.lower() in (".json", ".jsonl") or head.lstrip()[:1] in (b"{", b"["):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataImportError(f"{path}: not valid JSON ({exc})") from None
        return "json", rows_from_document(spec, doc, load_mapping(mapping), where=str(path))
    raise DataImportError(f"{path}: not JSON, SQLite or a folder of CSV/Parquet files")


def load_mapping(mapping: Any) -> dict[str, Any] | None:
    """A mapping given as a dict or a YAML/JSON file path (None: no mapping)."""
    if mapping is None or isinstance(mapping, dict):
        return mapping
    path = Path(mapping)
    try:
        got = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DataImportError(f"{path}: mapping is not valid YAML ({one(exc)})") from None
    if not isinstance(got, dict):
        raise DataImportError(f"{path}: a mapping is a dict with 'tables'")
    return got


def one(exc: BaseException) -> str:
    return " ".join(str(exc).split())


# ---- JSON documents -------------------------------------------------------------------------
def rows_from_document(
    spec: DomainSpec, doc: Any, mapping: dict[str, Any] | None, where: str = "document"
) -> Rows:
    """Rows per table from a JSON document, through ``mapping`` when given."""
    if mapping is None:
        if not isinstance(doc, dict):
            raise DataImportError(
                f"{where}: without a mapping the document must be {{table: rows}}"
            )
        mapping = {"tables": {t: {"path": f"{t}.*"} for t in doc}}
    tables = mapping.get("tables")
    if not isinstance(tables, dict) or not tables:
        raise DataImportError(f"{where}: mapping needs 'tables': {{table: {{path: ...}}}}")
    out: Rows = {}
    for table, rule in tables.items():
        if table not in spec.entities:
            raise DataImportError(f"mapping.tables.{table}: not a table of {spec.name}")
        if isinstance(rule, str):
            rule = {"path": rule}
        if not isinstance(rule, dict) or not isinstance(rule.get("path"), str):
            raise DataImportError(f"mapping.tables.{table}: needs a 'path' ('orders.*')")
        columns = rule.get("columns") or {}
        unknown = sorted(set(columns) - set(spec.entities[table].columns))
        if unknown:
            raise DataImportError(f"mapping.tables.{table}.columns: {unknown[0]} is not a column")
        steps = rule["path"].split(".")
        rows = []
        for element, trail in _walk(doc, steps, [], where):
            rows.append(_row(spec, table, element, trail, columns, where))
        out[table] = rows
    return out


def _walk(node: Any, steps: list[str], trail: list[tuple[Any, Any]], where: str):
    """(element, [(key or index, element) of each '*' above it, innermost last])."""
    if not steps:
        yield node, trail
        return
    step, rest = steps[0], steps[1:]
    if step == "*":
        if isinstance(node, dict):
            pairs = list(node.items())
        elif isinstance(node, list):
            pairs = list(enumerate(node))
        else:
            return  # nothing to iterate: no rows (an absent nested list)
        for key, child in pairs:
            yield from _walk(child, rest, [*trail, (key, child)], where)
        return
    if isinstance(node, dict) and step in node:
        yield from _walk(node[step], rest, trail, where)


def _field(node: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _row(
    spec: DomainSpec,
    table: str,
    element: Any,
    trail: list[tuple[Any, Any]],
    columns: dict[str, str],
    where: str,
) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for col in spec.entities[table].columns:
        source = columns.get(col, col)
        value: Any
        if not isinstance(source, str):
            raise DataImportError(f"mapping.tables.{table}.columns.{col}: a source is text")
        if source.startswith("="):
            value = source[1:]
        elif source in ("@key", "#"):
            value = trail[-1][0] if trail else _MISSING
        elif source.startswith("^"):
            up = len(source) - len(source.lstrip("^"))
            rest = source[up:]
            if up >= len(trail) + 1:
                raise DataImportError(f"mapping.tables.{table}.columns.{col}: {source} is too high")
            parent = trail[-1 - up][1]
            value = trail[-1 - up][0] if rest == "@key" else _field(parent, rest)
        else:
            value = _field(element, source)
        if value is not _MISSING:
            row[col] = value
    return row


# ---- CSV / Parquet folders and SQLite -------------------------------------------------------
def _read_folder(spec: DomainSpec, folder: Path) -> Rows:
    out: Rows = {}
    known = {p.stem: p for p in sorted(folder.iterdir()) if p.suffix in (".csv", ".parquet")}
    extra = sorted(set(known) - set(spec.entities))
    if extra:
        raise DataImportError(f"{known[extra[0]]}: {extra[0]} is not a table of {spec.name}")
    for table in spec.entities:
        path = known.get(table)
        if path is None:
            continue
        out[table] = _read_csv(path) if path.suffix == ".csv" else _read_parquet(path)
    return out


def _read_csv(path: Path) -> list[dict[str, Any]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            rows = [dict(r) for r in reader]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataImportError(f"{path}: not a UTF-8 CSV file ({one(exc)})") from None
    for i, r in enumerate(rows, start=2):
        if None in r:
            raise DataImportError(f"{path}:{i}: more fields than the header names")
    return rows


def _read_parquet(path: Path) -> list[dict[str, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow is in the dev extra
        raise DataImportError(
            f"{path}: reading Parquet needs pyarrow (pip install pyarrow)"
        ) from None
    try:
        return pq.read_table(path).to_pylist()
    except Exception as exc:  # noqa: BLE001 - any reader error is one line
        raise DataImportError(f"{path}: not a Parquet file ({one(exc)})") from None


def _read_sqlite(spec: DomainSpec, path: Path) -> Rows:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        have = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        out: Rows = {}
        for table, entity in spec.entities.items():
            if table not in have:
                continue
            cols = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
            use = [c for c in entity.columns if c in cols]
            names = ", ".join(f'"{c}"' for c in use)
            order = "ORDER BY rowid" if _has_rowid(conn, table) else ""
            cur = conn.execute(f'SELECT {names} FROM "{table}" {order}')
            out[table] = [dict(zip(use, r, strict=True)) for r in cur]
        return out
    except sqlite3.Error as exc:
        raise DataImportError(f"{path}: {one(exc)}") from None
    finally:
        conn.close()


def _has_rowid(conn: sqlite3.Connection, table: str) -> bool:
    try:
        conn.execute(f'SELECT rowid FROM "{table}" LIMIT 0')
        return True
    except sqlite3.Error:
        return False
