"""Leave a seeded database as an import of its own rows would build it, byte for byte.

Exporting a world's rows and importing them (``synth.importers``) inserts every row in
rowid order into the freshly migrated schema. Two things seeding does differently would
otherwise show in the bytes: the invariant repair deletes rows (rowid gaps in tables
whose rowid is no column), and the fills' helper indexes are created and dropped (each
bumps the schema cookie). ``close_rowid_gaps`` renumbers only the rows after a table's
first gap, in place; ``set_schema_cookie`` puts back the cookie the migrations left.
Both are cheap: no copy of the database.
"""

from __future__ import annotations

import sqlite3

from engine.db import q
from engine.spec.models import DomainSpec


def schema_cookie(conn: sqlite3.Connection) -> int:
    """The main database's schema cookie (``PRAGMA schema_version``)."""
    return int(conn.execute("PRAGMA schema_version").fetchone()[0])


def set_schema_cookie(conn: sqlite3.Connection, cookie: int) -> None:
    """Put the cookie back where it was before helper indexes came and went; the schema
    itself is the same, and this connection reloads it (SQLite marks it changed)."""
    if schema_cookie(conn) != cookie:
        conn.execute(f"PRAGMA schema_version = {int(cookie)}")


def _has_rowid_alias(conn: sqlite3.Connection, table: str) -> bool:
    """Whether the rowid is a column (one INTEGER primary key): its gaps are values the
    rows keep through an export, not positions."""
    pk = [r for r in conn.execute(f"PRAGMA table_info({q(table)})") if r[5]]
    return len(pk) == 1 and str(pk[0][2]).upper() == "INTEGER"


def close_rowid_gaps(conn: sqlite3.Connection, spec: DomainSpec) -> dict[str, int]:
    """Renumber rows 1..n in rowid order in tables whose rowid is no column and has gaps;
    returns the rows moved per table. Only rows after the first gap move: first to
    negative rowids (no clash with the rows still in place), then to their new ones."""
    moved: dict[str, int] = {}
    for table in spec.entities:
        n, top = conn.execute(f"SELECT COUNT(*), MAX(rowid) FROM {q(table)}").fetchone()
        if not n or top == n or _has_rowid_alias(conn, table):
            continue
        first = conn.execute(  # the first row whose rowid is not its rank
            f"SELECT rowid FROM {q(table)} AS a WHERE rowid > 1 AND NOT EXISTS "
            f"(SELECT 1 FROM {q(table)} AS b WHERE b.rowid = a.rowid - 1) ORDER BY rowid LIMIT 1"
        ).fetchone()[0]
        start = conn.execute(f"SELECT COUNT(*) FROM {q(table)} WHERE rowid < ?", (first,))
        new_first = int(start.fetchone()[0]) + 1
        cur = conn.execute(f"UPDATE {q(table)} SET rowid = -rowid WHERE rowid >= ?", (first,))
        moved[table] = cur.rowcount
        conn.execute(
            f"UPDATE {q(table)} SET rowid = m.new FROM (SELECT rowid AS old, "
            f"? - 1 + row_number() OVER (ORDER BY rowid DESC) AS new FROM {q(table)} "
            f"WHERE rowid < 0) AS m WHERE {q(table)}.rowid = m.old",
            (new_first,),
        )
    return moved
