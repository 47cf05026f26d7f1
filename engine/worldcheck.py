"""Is a world's database the one its spec describes? Checked on every load.

The manifest's hashes catch accidents, not intent: whoever can write a world directory can
recompute them. So the database is also compared with the schema the spec makes: the same
tables with the same columns and constraints (compared as sets of parsed clauses, so the
order Alembic writes them in does not matter), the same indexes, and no triggers or views —
a trigger could silently ignore updates, a dropped CHECK would let bad rows in.
"""

from __future__ import annotations

import sqlite3

import sqlglot
from sqlglot import exp

from engine.db import bytes_to_connection
from engine.spec.metadata import create_sqlite
from engine.spec.models import DomainSpec

ALLOWED_EXTRA = frozenset({"alembic_version"})  # the migration chain's own bookkeeping


def _objects(conn: sqlite3.Connection) -> dict[tuple[str, str], str | None]:
    rows = conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
    ).fetchall()
    return {(t, n): s for t, n, s in rows}


def _clauses(sql: str | None) -> frozenset[str] | None:
    """The column definitions and constraints of a CREATE TABLE, normalized."""
    if not sql:
        return None
    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except sqlglot.errors.ParseError:
        return None
    schema = tree.this if isinstance(tree, exp.Create) else None
    if not isinstance(schema, exp.Schema):
        return None
    return frozenset(e.sql(dialect="sqlite") for e in schema.expressions)


def _normal(sql: str | None) -> str:
    return " ".join((sql or "").split())


def schema_problems(spec: DomainSpec, db_bytes: bytes) -> list[str]:
    """What differs between the database and the spec's schema (empty: they agree)."""
    want_conn = sqlite3.connect(":memory:")
    try:
        create_sqlite(spec, want_conn)
        want = _objects(want_conn)
    finally:
        want_conn.close()
    try:
        conn = bytes_to_connection(db_bytes)
    except sqlite3.Error as exc:
        return [f"not a SQLite database ({exc})"]
    try:
        have = _objects(conn)
    except sqlite3.Error as exc:
        return [f"unreadable database ({exc})"]
    finally:
        conn.close()
    problems: list[str] = []
    for kind, name in sorted(have):
        if kind in ("trigger", "view"):
            problems.append(f"{kind} {name} is not part of the spec")
        elif kind == "table" and (kind, name) not in want and name not in ALLOWED_EXTRA:
            problems.append(f"table {name} is not in the spec")
        elif kind == "index" and (kind, name) not in want:
            problems.append(f"index {name} is not in the spec")
    for (kind, name), sql in sorted(want.items()):
        got = have.get((kind, name), "missing")
        if got == "missing":
            problems.append(f"{kind} {name} is missing")
        elif kind == "table":
            a, b = _clauses(sql), _clauses(got)
            if a is None or a != b:
                gone = sorted((a or frozenset()) - (b or frozenset()))
                extra = sorted((b or frozenset()) - (a or frozenset()))
                what = "; ".join(
                    [*(f"missing {g}" for g in gone[:2]), *(f"unexpected {x}" for x in extra[:2])]
                )
                problems.append(f"table {name} differs from the spec ({what or 'unparsable'})")
        elif _normal(sql) != _normal(got):
            problems.append(f"{kind} {name} differs from the spec")
    return problems
