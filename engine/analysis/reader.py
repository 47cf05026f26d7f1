"""Read world directories for analysis: manifest-verified bytes, SQLite tables as columns.

Analysis opens hundreds of worlds, so it reads the files directly instead of through
``World.load`` (which validates the whole spec, ~40 ms a world). Each file it reads is still
checked against the manifest's SHA-256, so a damaged world is refused with one line.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from engine.errors import WorldError

MANIFEST = "manifest.json"
SKIP_TABLES = ("alembic_version",)
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class WorldData:
    """Everything analysis needs from one world directory, already parsed."""

    name: str
    path: Path
    manifest: dict[str, Any]
    spec: dict[str, Any]
    tables: dict[str, RawTable]
    tasks: list[dict[str, Any]] = field(default_factory=list)
    proctest: dict[str, Any] | None = None
    graph: dict[str, Any] | None = None


def is_world_dir(path: Path) -> bool:
    return (path / MANIFEST).is_file()


def find_worlds(root: str | Path) -> list[Path]:
    """World directories at ``root`` (itself, or any depth below), sorted by path."""
    base = Path(root)
    if not base.exists():
        raise WorldError(f"{base}: no such directory")
    if is_world_dir(base):
        return [base]
    found = sorted(
        p.parent
        for p in base.rglob(MANIFEST)
        if not any(part.startswith(".") for part in p.relative_to(base).parts)
    )
    if not found:
        raise WorldError(f"{base}: no world directories (no {MANIFEST} found)")
    return found


def _read_checked(world: Path, manifest: dict[str, Any], rel: str) -> bytes | None:
    """The file's bytes if the manifest lists it (None if not), verified by size and hash."""
    entry = manifest.get("files", {}).get(rel)
    if entry is None:
        return None
    path = world / rel
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise WorldError(f"{path}: listed in the manifest but missing") from None
    if len(data) != entry.get("bytes") or hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        raise WorldError(f"{path}: differs from the manifest (edited or truncated)")
    return data


def _json(path: Path, data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise WorldError(f"{path}: not valid JSON ({exc})") from exc


def _spec(path: Path, data: bytes, sha: str, cache: dict[str, Any]) -> dict[str, Any]:
    """The spec as plain data, parsed once per distinct file (worlds of one domain share it)."""
    cached = cache.get(sha)
    if cached is None:
        try:
            cached = yaml.load(data, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
        except yaml.YAMLError as exc:
            first = str(exc).splitlines()[0]
            raise WorldError(f"{path}: not valid YAML ({first})") from exc
        if not isinstance(cached, dict):
            raise WorldError(f"{path}: a spec must be a mapping")
        cache[sha] = cached
    return cached


@dataclass
class RawTable:
    """One SQLite table as column tuples plus declared types (Arrow is built per union)."""

    columns: list[str]
    declared: list[str]
    data: list[tuple[Any, ...]]  # one tuple of values per column
    rows: int


def arrow_type(declared: str) -> pa.DataType:
    """The Arrow type of a declared SQLite column type (by SQLite's affinity rules)."""
    d = declared.upper()
    if "INT" in d:
        return pa.int64()
    if any(k in d for k in ("REAL", "FLOA", "DOUB", "NUMERIC", "DECIMAL")):
        return pa.float64()
    if "BOOL" in d:
        return pa.bool_()
    return pa.string()


def sqlite_tables(db: bytes) -> dict[str, RawTable]:
    """Every user table of a serialized SQLite database, by name."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.deserialize(db)
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
            )
            if r[0] not in SKIP_TABLES
        ]
        out: dict[str, RawTable] = {}
        for name in names:
            quoted = '"' + name.replace('"', '""') + '"'
            info = conn.execute(f"PRAGMA table_info({quoted})").fetchall()
            rows = conn.execute(f"SELECT * FROM {quoted}").fetchall()
            data = list(zip(*rows, strict=True)) if rows else [() for _ in info]
            out[name] = RawTable([r[1] for r in info], [r[2] or "" for r in info], data, len(rows))
        return out
    except sqlite3.DatabaseError as exc:
        raise WorldError(f"not a SQLite database ({exc})") from exc
    finally:
        conn.close()


def read_world(
    path: str | Path, name: str | None = None, spec_cache: dict[str, Any] | None = None
) -> WorldData:
    """Read one world directory (manifest, spec, database, tasks and reports), verified.

    ``spec_cache`` (file hash -> parsed spec) lets the worlds of one call share a spec.
    """
    world = Path(path)
    mpath = world / MANIFEST
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WorldError(f"{world}: no {MANIFEST}; not a world or an unfinished write") from None
    except ValueError as exc:
        raise WorldError(f"{mpath}: unreadable manifest ({exc})") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise WorldError(f"{mpath}: unreadable manifest (no files)")
    spec_bytes = _read_checked(world, manifest, "spec.yaml")
    db = _read_checked(world, manifest, "world.sqlite")
    if spec_bytes is None or db is None:
        raise WorldError(f"{world}: manifest does not list spec.yaml and world.sqlite")
    sha = manifest["files"]["spec.yaml"]["sha256"]
    spec = _spec(world / "spec.yaml", spec_bytes, sha, {} if spec_cache is None else spec_cache)
    try:
        tables = sqlite_tables(db)
    except WorldError as exc:
        raise WorldError(f"{world / 'world.sqlite'}: {exc}") from None
    data = WorldData(name or world.name, world, manifest, spec, tables)
    raw_tasks = _read_checked(world, manifest, "tasks.jsonl")
    if raw_tasks:
        for i, line in enumerate(raw_tasks.decode("utf-8").splitlines(), 1):
            if line.strip():
                task = _json(world / f"tasks.jsonl:{i}", line.encode())
                data.tasks.append(task)
    for attr, rel in (("proctest", "proctest.json"), ("graph", "graph.json")):
        raw = _read_checked(world, manifest, rel)
        if raw is not None:
            setattr(data, attr, _json(world / rel, raw))
    return data
