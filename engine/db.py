"""Low-level SQLite helpers every layer shares: identifier quoting and bytes <-> connection.

They sit at the bottom of the import graph so the runtime, the reward and the builders can
use them without importing one another.
"""

from __future__ import annotations

import sqlite3


def q(name: str) -> str:
    """Quote an identifier for SQLite."""
    return '"' + name.replace('"', '""') + '"'


_KEYWORDS = frozenset(
    """ABORT ACTION ADD AFTER ALL ALTER ALWAYS ANALYZE AND AS ASC ATTACH AUTOINCREMENT BEFORE
    BEGIN BETWEEN BY CASCADE CASE CAST CHECK COLLATE COLUMN COMMIT CONFLICT CONSTRAINT CREATE
    CROSS CURRENT CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP DATABASE DEFAULT DEFERRABLE
    DEFERRED DELETE DESC DETACH DISTINCT DO DROP EACH ELSE END ESCAPE EXCEPT EXCLUDE EXCLUSIVE
    EXISTS EXPLAIN FAIL FILTER FIRST FOLLOWING FOR FOREIGN FROM FULL GENERATED GLOB GROUP
    GROUPS HAVING IF IGNORE IMMEDIATE IN INDEX INDEXED INITIALLY INNER INSERT INSTEAD INTERSECT
    INTO IS ISNULL JOIN KEY LAST LEFT LIKE LIMIT MATCH MATERIALIZED NATURAL NO NOT NOTHING
    NOTNULL NULL NULLS OF OFFSET ON OR ORDER OTHERS OUTER OVER PARTITION PLAN PRAGMA PRECEDING
    PRIMARY QUERY RAISE RANGE RECURSIVE REFERENCES REGEXP REINDEX RELEASE RENAME REPLACE
    RESTRICT RETURNING RIGHT ROLLBACK ROW ROWS SAVEPOINT SELECT SET TABLE TEMP TEMPORARY THEN
    TIES TO TRANSACTION TRIGGER UNBOUNDED UNION UNIQUE UPDATE USING VACUUM VALUES VIEW VIRTUAL
    WHEN WHERE WINDOW WITH WITHOUT""".split()  # noqa: SIM905 - SQLite's keyword list, as printed
)


def qs(name: str) -> str:
    """``name`` as short as SQLite reads it: bare when a plain non-keyword word, else quoted.
    Trigger SQL lives in the schema, which every reset copies: its size is reset time."""
    plain = name.isascii() and name.replace("_", "a").isalnum() and not name[0].isdigit()
    return name if plain and name.upper() not in _KEYWORDS else q(name)


def _casefold(value: object) -> object:
    return value.casefold() if isinstance(value, str) else value


def add_functions(conn: sqlite3.Connection) -> sqlite3.Connection:
    """The SQL functions specs may use beyond SQLite's own: ``casefold(x)``, Unicode case
    folding for lookups (SQLite's ``lower()`` folds ASCII only: 'ZOË' -> 'zoË'). Pure and
    deterministic (Python's ``str.casefold``; non-text passes through), so results do not
    depend on the host."""
    conn.create_function("casefold", 1, _casefold, deterministic=True)
    return conn


def bytes_to_connection(db_bytes: bytes) -> sqlite3.Connection:
    """An in-memory connection holding a copy of ``db_bytes``."""
    conn = add_functions(sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None))
    conn.deserialize(db_bytes)
    return conn


def table_counts(db_bytes: bytes) -> dict[str, int]:
    """Row count per user table of a serialized SQLite database."""
    conn = bytes_to_connection(db_bytes)
    try:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
                "ORDER BY name"
            )
        ]
        return {n: conn.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0] for n in names}
    finally:
        conn.close()
