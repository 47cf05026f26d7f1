"""A world's rows out again, in the forms ``import_world`` reads: one JSON document
``{table: [rows]}``, a folder of CSV files or of Parquet files (one per table).

Rows go out in rowid order and floats in their shortest exact form, so exporting a world
and importing the result rebuilds the same database byte for byte (the round trip the
import tests hold the curated fixtures to).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from engine.db import bytes_to_connection
from engine.spec.models import DomainSpec
from synth.importers.coerce import NULL_TEXT, json_text
from synth.importers.sources import Rows


def world_rows(spec: DomainSpec, db_bytes: bytes) -> Rows:
    """Every table's rows in rowid order, json columns parsed (as a JSON document has them)."""
    conn = bytes_to_connection(db_bytes)
    try:
        out: Rows = {}
        for table, entity in spec.entities.items():
            cols = list(entity.columns)
            names = ", ".join(f'"{c}"' for c in cols)
            rows = []
            for r in conn.execute(f'SELECT {names} FROM "{table}" ORDER BY rowid'):
                row = dict(zip(cols, r, strict=True))
                for c in cols:
                    if entity.columns[c].type == "json" and isinstance(row[c], str):
                        row[c] = json.loads(row[c])
                rows.append(row)
            out[table] = rows
        return out
    finally:
        conn.close()


def to_json(rows: Rows) -> bytes:
    return (json.dumps(rows, ensure_ascii=False, indent=1) + "\n").encode()


def _cell(value: Any) -> str:
    if value is None:
        return NULL_TEXT
    if isinstance(value, dict | list):
        return json_text(value)
    return repr(value) if isinstance(value, float) else str(value)


def to_csv(rows: list[dict[str, Any]], columns: list[str]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([_cell(r.get(c)) for c in columns])
    return buf.getvalue().encode()


def export_rows(spec: DomainSpec, db_bytes: bytes, out: str | Path, fmt: str = "json") -> Path:
    """Write the world's rows to ``out``: a .json file (fmt json) or a folder (csv, parquet)."""
    rows = world_rows(spec, db_bytes)
    path = Path(out)
    if fmt == "json":
        path.write_bytes(to_json(rows))
        return path
    path.mkdir(parents=True, exist_ok=True)
    for table, entity in spec.entities.items():
        cols = list(entity.columns)
        if fmt == "csv":
            (path / f"{table}.csv").write_bytes(to_csv(rows[table], cols))
        elif fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            data = {
                c: [json_text(r[c]) if isinstance(r[c], dict | list) else r[c] for r in rows[table]]
                for c in cols
            }
            pq.write_table(pa.table(data), path / f"{table}.parquet")
        else:
            raise ValueError(f"export format must be json, csv or parquet, got {fmt!r}")
    return path
