"""The run's catalog: one record per world, written as ``catalog.json`` and ``catalog.parquet``.

Both files are deterministic -- sorted by world index, fixed column order, no wall-clock
values -- so the same seed gives the same bytes across backends, worker counts and resumed
runs. Seconds per world go to ``timings.json`` beside them, which is *not* compared.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from engine import ScaleEnvError
from engine.world import read_world_files

CATALOG_JSON = "catalog.json"
CATALOG_PARQUET = "catalog.parquet"
TIMINGS_JSON = "timings.json"
WORLDS_DIR = "worlds"

# column -> (default for failed worlds, arrow type name)
COLUMNS: dict[str, tuple[Any, str]] = {
    "id": ("", "string"),
    "index": (0, "int64"),
    "name": ("", "string"),
    "source": ("", "string"),
    "sector": ("", "string"),
    "mechanisms": ([], "list<string>"),
    "seed": (0, "int64"),
    "spec_seed": (None, "int64"),
    "status": ("failed", "string"),
    "reason": ("", "string"),
    "world": ("", "string"),
    "spec_sha256": ("", "string"),
    "fingerprint": ("", "string"),
    "tables": (0, "int64"),
    "table_names": ([], "list<string>"),
    "columns": (0, "int64"),
    "foreign_keys": (0, "int64"),
    "invariants": (0, "int64"),
    "policy_rules": (0, "int64"),
    "tools": (0, "int64"),
    "tools_read": (0, "int64"),
    "tools_write": (0, "int64"),
    "quarantined": (0, "int64"),
    "quarantined_tools": ([], "list<string>"),
    "edges": (0, "int64"),
    "graph_density": (0.0, "float64"),
    "tasks": (0, "int64"),
    "gold": (0.0, "float64"),
    "empty": (0.0, "float64"),
    "rows": (0, "int64"),
    "rows_target": (None, "int64"),
}


def normalize(record: dict[str, Any]) -> dict[str, Any]:
    """A record with every catalog column, in catalog order (failed worlds get defaults)."""
    out = {}
    for col, (default, _) in COLUMNS.items():
        value = record.get(col, default)
        out[col] = list(value) if isinstance(default, list) else value
    if out["status"] == "ok":
        out["world"] = f"{WORLDS_DIR}/{out['id']}"
    return out


def summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts the report and the CLI print: ok, failed, medians, distinct hashes."""
    ok = [r for r in records if r["status"] == "ok"]

    def med(key: str) -> float:
        vals = sorted(r[key] for r in ok)
        if not vals:
            return 0
        mid = len(vals) // 2
        return vals[mid] if len(vals) % 2 else (vals[mid - 1] + vals[mid]) / 2

    return {
        "worlds": len(records),
        "ok": len(ok),
        "failed": len(records) - len(ok),
        "tasks": sum(r["tasks"] for r in ok),
        "median_tools": med("tools"),
        "median_tables": med("tables"),
        "median_tasks": med("tasks"),
        "zero_quarantine": sum(r["quarantined"] == 0 for r in ok),
        "distinct_spec_hashes": len({r["spec_sha256"] for r in ok}),
        "distinct_fingerprints": len({r["fingerprint"] for r in ok}),
        "domains": len({r["name"] for r in ok}),
        "sectors": len({r["sector"] for r in ok}),
    }


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def catalog_json(run: dict[str, Any], records: list[dict[str, Any]]) -> bytes:
    doc = {"run": run, "summary": summary(records), "worlds": records}
    return (json.dumps(doc, indent=1, sort_keys=False, ensure_ascii=True) + "\n").encode()


def catalog_parquet(records: list[dict[str, Any]]) -> bytes | None:
    """The catalog as Parquet bytes, or None where pyarrow is not installed."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return None
    types = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64()}
    types["list<string>"] = pa.list_(pa.string())
    schema = pa.schema([(c, types[t]) for c, (_, t) in COLUMNS.items()])
    table = pa.Table.from_pylist(records, schema=schema)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue().to_pybytes()


def write_catalog(
    out: Path, run: dict[str, Any], records: list[dict[str, Any]], seconds: dict[str, float]
) -> list[Path]:
    """Write catalog.json, catalog.parquet (if pyarrow) and timings.json, each atomically."""
    records = sorted((normalize(r) for r in records), key=lambda r: r["index"])
    written = [out / CATALOG_JSON]
    _atomic_write(out / CATALOG_JSON, catalog_json(run, records))
    pq_bytes = catalog_parquet(records)
    if pq_bytes is not None:
        _atomic_write(out / CATALOG_PARQUET, pq_bytes)
        written.append(out / CATALOG_PARQUET)
    timings = {k: seconds[k] for k in sorted(seconds)}
    _atomic_write(out / TIMINGS_JSON, (json.dumps(timings, indent=1) + "\n").encode())
    written.append(out / TIMINGS_JSON)
    return written


def read_catalog(out: str | Path) -> dict[str, Any]:
    """The parsed catalog.json of a run directory."""
    path = Path(out) / CATALOG_JSON
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScaleEnvError(
            f"{path}: no catalog (run `scaleenv synth --domains N` first)"
        ) from None
    except (OSError, ValueError) as exc:
        raise ScaleEnvError(f"{path}: unreadable catalog ({exc})") from exc


def finished_record(world_dir: Path, key: dict[str, Any]) -> dict[str, Any] | None:
    """The stored record of a finished world built from ``key``; None if it must be rebuilt.

    A world counts as finished only when its manifest verifies (every file's hash) and was
    written by the same job -- same source, item, rows and tasks.
    """
    if not (world_dir / "manifest.json").is_file():
        return None
    try:
        manifest, _ = read_world_files(world_dir, verify=True)
    except Exception:  # noqa: BLE001 - any damage means: rebuild it
        return None
    synth = manifest.get("synth") or {}
    if synth.get("job") != key or not isinstance(synth.get("record"), dict):
        return None
    return synth["record"]
