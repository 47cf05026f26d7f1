"""A world's schema as an Alembic revision chain: make revisions, run them, migrate worlds.

The chain lives in the world (``migrations/versions/*.py``) and the environment in the
repository's ``migrations/``; revisions run programmatically on a connection we open, so
SQLite (batch mode, foreign keys off while tables are copied) and PostgreSQL take the same
files. Everything works on ``{relpath: bytes}`` maps because worlds are written atomically
by ``engine.world.write_world``.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from alembic import command
from alembic.config import Config

from engine.db import bytes_to_connection
from engine.spec.models import DomainSpec
from engine.world import DB_FILE, SPEC_FILE, read_world_files, write_world
from engine.worldcheck import schema_problems
from synth.migrate.revisions import (
    VERSIONS_DIR,
    MigrationError,
    Revision,
    parse_chain,
    render_revision,
    schema_digest,
    stub_revision,
)
from synth.resources import migrations_dir

ENV_DIR = migrations_dir()
# Keys write_world computes itself; everything else in a manifest is the builder's meta.
_MANIFEST_OWN = ("format", "scaleenv", "files", "rows")

__all__ = [
    "create_world_db",
    "downgrade",
    "downgrade_world",
    "head",
    "initial_revision",
    "migrate_world",
    "new_revision",
    "upgrade",
]


def _revision_files(files: Mapping[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in files.items() if k.startswith(VERSIONS_DIR)}


def head(revision_files: Mapping[str, bytes]) -> Revision:
    """The last revision of a chain (``MigrationError`` when there is none)."""
    chain = parse_chain(revision_files)
    if not chain:
        raise MigrationError("no migrations/versions/*.py revision files")
    return chain[-1]


def initial_revision(spec: DomainSpec) -> dict[str, bytes]:
    """The first revision (empty database -> ``spec``) as ``{relpath: bytes}``."""
    path, data = render_revision(1, None, None, spec)
    return {path: data}


def new_revision(
    old_spec: DomainSpec, new_spec: DomainSpec, existing: Mapping[str, bytes]
) -> dict[str, bytes]:
    """``existing`` plus one revision from ``old_spec`` to ``new_spec`` on top of its head.

    Refuses when the head was not made for ``old_spec``'s schema, when the schema did not
    change, or when a NOT NULL column can't be filled for existing rows.
    """
    last = head(existing)
    if last.schema != schema_digest(old_spec):
        raise MigrationError(
            f"{last.path}: the chain's head was made for another schema than {old_spec.name}'s spec"
        )
    path, data = render_revision(last.number + 1, last.rev, old_spec, new_spec)
    return {**existing, path: data}


def _url(db: str | Path) -> str:
    text = str(db)
    return text if "://" in text else f"sqlite:///{Path(text).resolve()}"


def _engine(db: str | Path) -> sa.Engine:
    """An engine whose transactions cover DDL on SQLite too, so a failed run changes nothing.

    pysqlite would commit each CREATE/DROP on its own; here we issue BEGIN ourselves.
    Foreign keys are off: a batch table copy must not cascade deletes or trip FKs.
    """
    engine = sa.create_engine(_url(db), poolclass=sa.pool.NullPool)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None
            dbapi_conn.execute("PRAGMA foreign_keys=OFF")

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: sa.Connection) -> None:
            conn.exec_driver_sql("BEGIN")

    return engine


def _run(db: str | Path, revision_files: Mapping[str, bytes], action: str, target: str) -> None:
    """Run ``alembic upgrade|downgrade target`` against ``db`` in one transaction."""
    files = _revision_files(revision_files)
    head(files)  # parse and check the chain before touching the database
    if not (ENV_DIR / "env.py").is_file():
        raise MigrationError(f"{ENV_DIR}: the Alembic environment is missing")
    engine = _engine(db)
    with tempfile.TemporaryDirectory(prefix="scaleenv-rev-") as tmp:
        for rel, data in files.items():
            (Path(tmp) / Path(rel).name).write_bytes(data)
        cfg = Config()
        cfg.set_main_option("script_location", str(ENV_DIR))
        cfg.set_main_option("path_separator", "os")
        cfg.set_main_option("version_locations", tmp)
        try:
            with engine.begin() as conn:
                cfg.attributes["connection"] = conn
                getattr(command, action)(cfg, target)
                if conn.dialect.name == "sqlite":
                    bad = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if bad:
                        raise MigrationError(
                            f"{action} to {target}: {len(bad)} row(s) break foreign keys, "
                            f"first in {bad[0][0]}"
                        )
        except MigrationError:
            raise
        except Exception as exc:  # noqa: BLE001 - any driver/Alembic error becomes one line
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise MigrationError(f"{action} to {target} failed: {first}") from exc
        finally:
            engine.dispose()


def upgrade(db: str | Path, revision_files: Mapping[str, bytes], target: str = "head") -> None:
    """Upgrade ``db`` (a SQLAlchemy URL or a SQLite file path) to ``target``."""
    _run(db, revision_files, "upgrade", target)


def downgrade(db: str | Path, revision_files: Mapping[str, bytes], target: str) -> None:
    """Downgrade ``db`` to ``target`` (a revision id, ``-1`` or ``base``)."""
    _run(db, revision_files, "downgrade", target)


def _migrated_bytes(
    db_bytes: bytes | None, revision_files: Mapping[str, bytes], action: str, target: str
) -> bytes:
    """Run the chain on a temporary SQLite file holding ``db_bytes``; VACUUMed result."""
    with tempfile.TemporaryDirectory(prefix="scaleenv-db-") as tmp:
        path = Path(tmp) / DB_FILE
        if db_bytes is not None:
            path.write_bytes(db_bytes)
        _run(path, revision_files, action, target)
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("VACUUM")  # deterministic layout, no free pages
        finally:
            conn.close()
        return path.read_bytes()


def create_world_db(spec: DomainSpec, revision_files: Mapping[str, bytes]) -> bytes:
    """The world's empty schema, built by running its chain: bytes of a SQLite file.

    Same spec and files give the same bytes. The head must match ``spec``'s schema.
    """
    last = head(_revision_files(revision_files))
    if last.schema != schema_digest(spec):
        raise MigrationError(f"{last.path}: the chain's head does not build {spec.name}'s schema")
    return _migrated_bytes(None, revision_files, "upgrade", "head")


def _load_world(world_dir: str | Path) -> tuple[dict[str, Any], dict[str, bytes], DomainSpec]:
    manifest, files = read_world_files(world_dir)
    spec = DomainSpec.model_validate(yaml.safe_load(files[SPEC_FILE].decode("utf-8")))
    if not _revision_files(files):
        raise MigrationError(f"{world_dir}: the world has no migrations to extend")
    problems = schema_problems(spec, files[DB_FILE])
    if problems:  # the new revision is computed from the spec: the database must agree
        raise MigrationError(f"{world_dir}: {DB_FILE} does not match its spec: {problems[0]}")
    meta = {k: v for k, v in manifest.items() if k not in _MANIFEST_OWN}
    return meta, files, spec


def _check_version(world_dir: str | Path, files: Mapping[str, bytes]) -> None:
    """The database must sit at its chain's head, or a new revision would not fit it."""
    conn = bytes_to_connection(files[DB_FILE])
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        row = None
    finally:
        conn.close()
    expected = head(_revision_files(files)).rev
    if row is None or row[0] != expected:
        found = "no alembic_version" if row is None else f"revision {row[0]}"
        raise MigrationError(f"{world_dir}: {DB_FILE} has {found}, its chain's head is {expected}")


def _write(
    world_dir: str | Path,
    meta: dict[str, Any],
    files: dict[str, bytes],
    spec: DomainSpec,
    revisions: Mapping[str, bytes],
    db: bytes,
) -> Path:
    kept = {k: v for k, v in files.items() if not k.startswith(VERSIONS_DIR)}
    out = {**kept, **_revision_files(revisions), SPEC_FILE: spec.to_yaml().encode(), DB_FILE: db}
    meta = {**meta, "spec_sha256": spec.digest(), "migration_head": head(revisions).rev}
    if "now" in meta:
        meta["now"] = spec.now
    return write_world(world_dir, out, meta, overwrite=True)


def migrate_world(world_dir: str | Path, new_spec: DomainSpec) -> Path:
    """Evolve a world to ``new_spec``: one new revision, rows kept, written atomically.

    Tasks and reports are kept as they are; the manifest meta is kept (plus the new head).
    """
    meta, files, old_spec = _load_world(world_dir)
    _check_version(world_dir, files)
    carried = _revision_files(files)
    revisions = new_revision(old_spec, new_spec, carried)
    new = {k: v for k, v in revisions.items() if k not in carried}
    db = _migrated_bytes(files[DB_FILE], {**_stand_ins(carried), **new}, "upgrade", "head")
    return _write(world_dir, meta, files, new_spec, revisions, db)


def _stand_ins(carried: Mapping[str, bytes]) -> dict[str, bytes]:
    """The world's revision files replaced by stand-ins that never run (same ids)."""
    return {r.path: stub_revision(r) for r in parse_chain(carried)}


def _stamped(db_bytes: bytes, rev: str) -> bytes:
    """``db_bytes`` with its Alembic revision set to ``rev`` (VACUUMed, deterministic)."""
    conn = bytes_to_connection(db_bytes)
    try:
        conn.execute("UPDATE alembic_version SET version_num = ?", (rev,))
        conn.execute("VACUUM")
        return conn.serialize()
    finally:
        conn.close()


def downgrade_world(world_dir: str | Path, spec: DomainSpec) -> Path:
    """Take a world back to the latest revision made for ``spec``'s schema.

    Later revisions are removed from the world, so its chain, spec and database agree.
    """
    meta, files, current = _load_world(world_dir)
    _check_version(world_dir, files)
    chain = parse_chain(files)
    digest = schema_digest(spec)
    keep = [r for r in chain if r.schema == digest]
    if not keep:
        raise MigrationError(f"{world_dir}: no revision of the world builds {spec.name}'s schema")
    target = keep[-1]
    # the way back is computed now, from the two specs (the world's own downgrade code is
    # data, never run): one forward step current -> spec on stand-ins, then the stamp
    carried = _revision_files(files)
    if schema_digest(current) != digest:
        path, step = render_revision(chain[-1].number + 1, chain[-1].rev, current, spec)
        db = _migrated_bytes(files[DB_FILE], {**_stand_ins(carried), path: step}, "upgrade", "head")
    else:
        db = files[DB_FILE]
    db = _stamped(db, target.rev)
    kept_paths = {r.path for r in chain if r.number <= target.number}
    revisions = {k: v for k, v in files.items() if k in kept_paths}
    return _write(world_dir, meta, files, spec, revisions, db)
