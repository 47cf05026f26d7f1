"""A world's base kept in a file, not in the process (issue 21: peak memory of a build).

A build tests its tools on the database it just seeded while that is still the seeder's
scratch file. Each session copies the file page by page (SQLite's backup, reading through a
small page cache) into its own in-memory database, a named ``memdb`` store that the session
attaches as its world schema; so the process holds one copy of the database (the
session's), never the file's bytes beside it, and a reload frees the old copy before the
new one is read (a ``deserialize`` holds the bytes, the old copy and the new one at once).

The copy's pages are the file's: every query reads what a ``deserialize`` of the same bytes
reads. Only the header's counters (change counter, schema cookie) differ, so ``snapshot()``
bytes may differ from a bytes world's, as they may after an in-place reset.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

from engine.db import connection_table_counts, qs
from engine.errors import WorldError

_STORES = itertools.count()  # memdb store names are process-wide: each load gets its own


class FileBase:
    """The base database of a world, read from ``path`` (which must outlive the world)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).resolve()
        self.uri = f"file:{quote(str(self.path))}?mode=ro"

    def load(self, conn: sqlite3.Connection, schema: str) -> None:
        """Replace the database attached to ``conn`` as ``schema`` by a private in-memory copy
        of the file. The old copy is detached (freed) first; if the copy fails, ``schema`` is
        an empty in-memory database and the error is raised."""
        store = f"file:/scaleenv-base-{os.getpid()}-{next(_STORES)}?vfs=memdb"
        conn.execute(f"DETACH DATABASE {qs(schema)}")
        try:
            dst = sqlite3.connect(store, uri=True)
            try:
                src = sqlite3.connect(self.uri, uri=True)
                try:
                    src.backup(dst)
                finally:
                    src.close()
                conn.execute(f"ATTACH DATABASE ? AS {qs(schema)}", (store,))
            finally:
                dst.close()  # the store lives on while ``conn`` has it attached
        except BaseException as exc:
            if not _attached(conn, schema):
                conn.execute(f"ATTACH DATABASE ':memory:' AS {qs(schema)}")
            if isinstance(exc, sqlite3.Error):
                raise WorldError(f"{self.path}: cannot copy the world's base ({exc})") from exc
            raise

    def table_counts(self) -> dict[str, int]:
        """Row count per user table of the file's database."""
        return file_table_counts(self.path)


def file_table_counts(path: str | Path) -> dict[str, int]:
    """Row count per user table of the SQLite file at ``path``, read through a small page
    cache (no copy of the database in the process; ``engine.db.table_counts`` of its bytes
    makes one)."""
    conn = sqlite3.connect(f"file:{quote(str(Path(path).resolve()))}?mode=ro", uri=True)
    try:
        return connection_table_counts(conn)
    finally:
        conn.close()


def _attached(conn: sqlite3.Connection, schema: str) -> bool:
    return any(r[1] == schema for r in conn.execute("PRAGMA database_list"))
