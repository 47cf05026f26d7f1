"""A world on disk: manifest with hashes, spec, seeded SQLite, migrations, reports, tasks.

Written into a temporary sibling directory and renamed into place, so a crash leaves the
old world or nothing. Loading verifies every file's SHA-256 against the manifest and refuses
a tampered, truncated or incomplete world with one line naming the file.
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from engine.db import bytes_to_connection, table_counts
from engine.errors import SpecError, UnknownNameError, WorldError
from engine.runtime.filebase import FileBase, file_table_counts
from engine.session import Session
from engine.spec.models import DomainSpec
from engine.spec.task import Task, read_tasks
from engine.spec.validate import load_spec
from engine.worldcheck import schema_problems

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SPEC_FILE = "spec.yaml"
DB_FILE = "world.sqlite"
TASKS_FILE = "tasks.jsonl"
REQUIRED = (SPEC_FILE, DB_FILE)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("scaleenv")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


def write_world(
    out_dir: str | Path,
    files: Mapping[str, bytes],
    meta: Mapping[str, Any],
    *,
    overwrite: bool = True,
) -> Path:
    """Write ``files`` (relative path -> bytes) plus a manifest, atomically.

    ``meta`` goes into the manifest (seed, scale, domain ...). The manifest records the
    SHA-256 and size of every file, so loading can tell a tampered or truncated world.
    """
    out = Path(out_dir).resolve()
    missing = [f for f in REQUIRED if f not in files]
    if missing:
        raise WorldError(f"{out}: a world needs {', '.join(missing)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with _writer_lock(out):
        _recover(out)
        _check_target(out, overwrite)
        return _write(out, files, meta)


def _check_target(out: Path, overwrite: bool) -> None:
    """Replace only a world, and only when asked; an empty directory is fine."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise WorldError(f"{out}: exists and is not a directory; refusing to replace it")
    if not out.exists() or not any(out.iterdir()):
        return
    if not (out / MANIFEST).is_file():
        raise WorldError(
            f"{out}: exists, is not empty and is not a world; refusing to replace it "
            "(choose another --out)"
        )
    if not overwrite:
        raise WorldError(f"{out}: a world is already there (pass overwrite/--force to replace it)")


@contextmanager
def _writer_lock(out: Path) -> Iterator[None]:
    """Writers into one parent directory take turns (a lock on the directory itself, so no
    lock file is left behind): concurrent builds serialise instead of racing on renames."""
    fd = os.open(out.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - someone else's process
        return True
    return True


def _recover(out: Path) -> None:
    """Clean up after a writer that died (under the lock): a target it moved aside comes
    back if the target is gone, and its temporary directories are removed."""
    for p in sorted(out.parent.glob(f".{out.name}.*")):
        parts = p.name[len(out.name) + 2 :].split(".")
        if len(parts) < 2 or not parts[1].isdigit() or _alive(int(parts[1])):
            continue
        if parts[0] == "old" and not out.exists():
            p.rename(out)
        elif parts[0] in ("old", "tmp"):
            shutil.rmtree(p, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    if sys.platform != "linux":
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return rc == 0


def swap_in(tmp: Path, out: Path) -> None:
    """Put the finished directory ``tmp`` at ``out``, replacing what is there: one atomic
    swap where the OS has it, else two renames (a crash between them is undone by
    ``_recover`` for worlds). ``tmp`` is gone afterwards."""
    if out.exists() and _exchange(tmp, out):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old directory
        return
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old.{os.getpid()}")
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write(out: Path, files: Mapping[str, bytes], meta: Mapping[str, Any]) -> Path:
    tmp = out.parent / f".{out.name}.tmp.{os.getpid()}.{secrets.token_hex(4)}"
    tmp.mkdir()
    try:
        entries: dict[str, dict[str, Any]] = {}
        for rel in sorted(files):
            data = files[rel]
            target = tmp / rel
            if not target.resolve().is_relative_to(tmp.resolve()):
                raise WorldError(f"{rel}: a world file must stay inside the world directory")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            entries[rel] = {"sha256": sha256_bytes(data), "bytes": len(data)}
        manifest = {
            "format": FORMAT_VERSION,
            "scaleenv": _version(),
            **dict(meta),
            "files": entries,
        }
        if DB_FILE in files:  # counted in the written file: no second copy in memory
            manifest["rows"] = file_table_counts(tmp / DB_FILE)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        for f in tmp.rglob("*"):
            if f.is_file():
                with open(f, "rb") as fh:
                    os.fsync(fh.fileno())
        swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _inside(d: Path, root: Path, rel: object) -> Path:
    """``d / rel`` for a manifest entry that stays inside the world: relative, no ``..``,
    no symbolic link on the way (a link could point at any file on the machine)."""
    if not isinstance(rel, str) or not rel or Path(rel).is_absolute() or ".." in Path(rel).parts:
        raise WorldError(f"{d}: manifest lists {rel!r}, a path outside the world directory")
    path = d / rel
    probe = d
    for part in Path(rel).parts:
        probe = probe / part
        if probe.is_symlink():
            raise WorldError(f"{probe}: a symbolic link; world files must be plain files")
    if not path.resolve().is_relative_to(root):
        raise WorldError(f"{d}: manifest lists {rel!r}, a path outside the world directory")
    return path


def read_world_files(
    world_dir: str | Path, verify: bool = True
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The manifest and every listed file's bytes, each checked against its hash."""
    d = Path(world_dir)
    mpath = d / MANIFEST
    if not d.is_dir():
        raise WorldError(f"{d}: not a world directory")
    if not mpath.is_file():
        raise WorldError(f"{d}: no {MANIFEST}; not a world or an unfinished write")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
        listed = manifest["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise WorldError(f"{mpath}: unreadable manifest ({exc})") from exc
    if not isinstance(listed, dict):
        raise WorldError(f"{mpath}: unreadable manifest (files is not a mapping)")
    root = d.resolve()
    files: dict[str, bytes] = {}
    for rel, entry in sorted(listed.items()):
        path = _inside(d, root, rel)
        if not path.is_file():
            raise WorldError(f"{path}: listed in the manifest but missing")
        size = entry.get("bytes") if isinstance(entry, dict) else None
        if verify and path.stat().st_size != size:  # before reading: a huge file is not read
            raise WorldError(
                f"{path}: {path.stat().st_size} bytes, manifest says {size} (truncated or edited)"
            )
        data = path.read_bytes()
        if verify:
            if len(data) != entry.get("bytes"):
                raise WorldError(
                    f"{path}: {len(data)} bytes, manifest says {entry.get('bytes')} (truncated or edited)"
                )
            if sha256_bytes(data) != entry.get("sha256"):
                raise WorldError(f"{path}: SHA-256 differs from the manifest (file was edited)")
        files[rel] = data
    for rel in REQUIRED:
        if rel not in files:
            raise WorldError(f"{d}: manifest does not list {rel}")
    return manifest, files


_DAMAGE = (
    ValueError,
    TypeError,
    AttributeError,
    KeyError,
    yaml.YAMLError,
    RecursionError,
    MemoryError,
)


class World:
    """A loaded world: spec, base database bytes (or file), tasks. Sessions share the base."""

    def __init__(
        self,
        spec: DomainSpec,
        base_bytes: bytes | FileBase,
        *,
        tasks: list[Task] | None = None,
        manifest: Mapping[str, Any] | None = None,
        path: Path | None = None,
        files: Mapping[str, bytes] | None = None,
        lean: bool = False,
    ) -> None:
        self.spec = spec
        # a base in a file (``from_file``) stays there: each session copies it page by page
        # and the world holds no bytes (issue 21: a build's procedural testing)
        self.base_file = base_bytes if isinstance(base_bytes, FileBase) else None
        self._base_bytes = b"" if isinstance(base_bytes, FileBase) else bytes(base_bytes)
        # lean: sessions add the changelog to their own copy of base_bytes (a few ms of DDL
        # per session and per reset that reloads the base) instead of sharing an instrumented
        # copy of the whole database: one database less in memory, for builds (issue 21)
        self.lean = lean or self.base_file is not None
        self._tasks = tasks
        self.manifest = dict(manifest or {})
        self.path = path
        self.files = dict(files or {})

    @classmethod
    def from_parts(
        cls,
        spec: DomainSpec,
        db_bytes: bytes,
        tasks: list[Task] | None = None,
        meta: Mapping[str, Any] | None = None,
        lean: bool = False,
    ) -> World:
        """An in-memory world (synthesis uses it before anything is on disk)."""
        return cls(spec, db_bytes, tasks=list(tasks or []), manifest=meta, lean=lean)

    @classmethod
    def from_file(
        cls, spec: DomainSpec, db_path: str | Path, meta: Mapping[str, Any] | None = None
    ) -> World:
        """A lean world whose base stays in the SQLite file ``db_path`` (read, never
        written; it must outlive the world): sessions copy it page by page, so the process
        never holds the file's bytes beside a session's copy (a build's procedural testing)."""
        return cls(spec, FileBase(db_path), tasks=[], manifest=meta, lean=True)

    @property
    def base_bytes(self) -> bytes:
        """The base database's bytes; a world on a file reads them on each use (keeps none)."""
        if self.base_file is not None:
            return self.base_file.path.read_bytes()
        return self._base_bytes

    @classmethod
    def load(cls, world_dir: str | Path, verify: bool = True) -> World:
        """Load a world directory; refuses a tampered or truncated one (``WorldError``)."""
        d = Path(world_dir)
        try:
            return cls._load(d, verify)
        except _DAMAGE as exc:  # whatever a damaged file makes a decoder raise: one line
            raise WorldError(f"{d}: damaged world ({type(exc).__name__}: {exc})") from exc

    @classmethod
    def _load(cls, d: Path, verify: bool) -> World:
        manifest, files = read_world_files(d, verify=verify)
        try:
            spec = load_spec(
                yaml.safe_load(files[SPEC_FILE].decode("utf-8")), source=str(d / SPEC_FILE)
            )
        except SpecError as exc:
            raise WorldError(str(exc)) from exc
        db = files[DB_FILE]
        try:
            bytes_to_connection(db).close()
        except sqlite3.DatabaseError as exc:
            raise WorldError(f"{d / DB_FILE}: not a SQLite database ({exc})") from exc
        if verify:
            problems = schema_problems(spec, db)
            if problems:
                more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
                raise WorldError(f"{d / DB_FILE}: does not match its spec: {problems[0]}{more}")
        return cls(spec, db, manifest=manifest, path=d, files=files)

    @property
    def name(self) -> str:
        return self.path.name if self.path else f"{self.spec.name}-mem"

    @property
    def tasks(self) -> list[Task]:
        if self._tasks is None:
            self._tasks = []
            if self.path is not None and TASKS_FILE in self.files:
                self._tasks = read_tasks(self.path / TASKS_FILE)
        return self._tasks

    def task(self, task_id: str) -> Task:
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise UnknownNameError(f"{self.name}: no task {task_id!r}")

    def report(self, name: str) -> Any:
        """A JSON report stored in the world (``proctest.json``, ``graph.json``), or None."""
        data = self.files.get(name)
        return None if data is None else json.loads(data)

    @cached_property
    def row_counts(self) -> dict[str, int]:
        if self.manifest.get("rows"):
            return dict(self.manifest["rows"])
        if self.base_file is not None:
            return self.base_file.table_counts()
        return table_counts(self.base_bytes)

    def session(self) -> Session:
        return Session(self)
