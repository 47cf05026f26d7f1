"""Low-level SQLite helpers every layer shares: identifier quoting and bytes <-> connection.

They sit at the bottom of the import graph so the runtime, the reward and the builders can
use them without importing one another.
"""

from __future__ import annotations

import math
import sqlite3
from decimal import ROUND_HALF_UP, Decimal


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


def _casefold(value: str | bytes | int | float | None) -> str | bytes | int | float | None:
    return value.casefold() if isinstance(value, str) else value


def _number(value: object) -> int | float:
    """SQLite's numeric reading of a value (non-numeric text and blobs are 0)."""
    if isinstance(value, int | float):
        return value
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    for cast in (int, float):
        try:
            return cast(text.strip())
        except ValueError:
            pass
    return 0


def _round(value: object, digits: object = 0) -> float | None:
    """round(x, n) as SQLite >= 3.44 rounds: the exact binary value, halves away from zero
    (31.755 is 31.75499.. in binary: 31.75; 2.5 -> 3.0). Older SQLite gave 31.76."""
    if value is None:
        return None
    if type(digits) is int and 0 <= digits <= 15:
        n = digits
    else:
        n = max(0, min(30, int(_number(digits)))) if digits is not None else 0
    x = value if type(value) is float else float(_number(value))
    if -1e12 < x < 1e12 and n <= 15:  # fast path: Python's round is exact but halves to even
        t = x * _TWO_POW[n]  # x is a decimal half at n places iff x * 2**(n+1) is odd
        if not (t.is_integer() and int(t) & 1):
            return round(x, n)
    if not math.isfinite(x):
        return x
    return float(Decimal(x).quantize(Decimal(1).scaleb(-n), rounding=ROUND_HALF_UP))


_TWO_POW = [2.0 ** (n + 1) for n in range(16)]


def add_functions(conn: sqlite3.Connection) -> sqlite3.Connection:
    """SQL that gives the same results on every SQLite the user's Python carries: ``round``
    replaced by a deterministic version (3.4x changed it: seeded prices differed in the
    cents by host), and ``casefold(x)``, Unicode case folding for lookups (SQLite's
    ``lower()`` folds ASCII only: 'ZOË' -> 'zoË'). SUM() is left alone: 3.43's compensated
    sum differs in the last bits only (the reward compares decimals at their scale), and a
    Python window-function SUM crashes SQLite 3.40 inside the runtime."""
    conn.create_function("casefold", 1, _casefold, deterministic=True)
    conn.create_function("round", 1, _round, deterministic=True)
    conn.create_function("round", 2, _round, deterministic=True)
    return conn


def bytes_to_connection(db_bytes: bytes) -> sqlite3.Connection:
    """An in-memory connection holding a copy of ``db_bytes``."""
    conn = add_functions(sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None))
    conn.deserialize(db_bytes)
    return conn


def connection_table_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Row count per user table of the database ``conn`` has open (sorted by name)."""
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    return {n: conn.execute(f"SELECT COUNT(*) FROM {q(n)}").fetchone()[0] for n in names}


def table_counts(db_bytes: bytes) -> dict[str, int]:
    """Row count per user table of a serialized SQLite database."""
    conn = bytes_to_connection(db_bytes)
    try:
        return connection_table_counts(conn)
    finally:
        conn.close()
