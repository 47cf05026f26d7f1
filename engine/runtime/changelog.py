"""Row changes since the episode start, at O(changes) cost: triggers that keep before-images.

Every user table ``t`` gets an undo table ``_scaleenv_undo_t`` (rowid of the touched row,
whether it was inserted, and the row's columns exactly as stored: the columns are untyped,
so no value is converted) and three AFTER triggers that record the first touch of each row
(an upsert that does nothing on a known rowid). ``changes`` joins each undo row with the
current row. The same triggers fill the per-call *key log* that ``engine.runtime.invariants`` reads
to check only the invariants, and the keys, a call touched (``LogLayout``, ``take_log``).

Why the triggers live *inside* the database bytes and not in the TEMP schema: on SQLite
3.40 ``sqlite3_deserialize`` frees the schema object that temp triggers point at, so after a
reset they only keep firing while the allocator happens to reuse the address (under
valgrind they stop at once), and newer SQLite detaches them on purpose. Instrumented bytes
are made once per world (a lean world's sessions instead add them to their own copy of its
plain bytes, ``instrument``: a few ms of DDL, one database less in memory); resets and
restores then carry triggers and logs consistently.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from engine.db import bytes_to_connection, q, qs
from engine.errors import ScaleEnvError
from engine.reward.diff import sort_changes
from engine.runtime.guard import PREFIX
from engine.runtime.invariants import plan_checks
from engine.runtime.keylog import CALL_LOG, CLEAR_LOG, HAS_LOG, LogLayout, take_log  # noqa: F401
from engine.spec.models import DomainSpec, Entity
from engine.spec.task import RowChange

QUIET = f"{PREFIX}quiet"  # while it holds a row the triggers log nothing (engine.runtime.start)
_WHEN = f"WHEN NOT EXISTS(SELECT 1 FROM {QUIET})"


def undo_table(table: str) -> str:
    return f"{PREFIX}undo_{table}"


def instrument_sql(spec: DomainSpec, fks: set[tuple[str, str]] | None = None) -> list[str]:
    """DDL for the undo tables, the per-call key log and the triggers that fill them.
    ``fks``: (table, column) of the foreign keys the database enforces (None: the spec's)."""
    layout = plan_checks(spec, fks)[0]
    out: list[str] = [*layout.ddl(), f"CREATE TABLE {QUIET}(x)"]
    k = 0
    for table, entity in spec.entities.items():
        cols = list(entity.columns)
        u, t = qs(undo_table(table)), qs(table)
        out.append(
            f"CREATE TABLE {u}(_rid INTEGER PRIMARY KEY,_ins INTEGER NOT NULL,{','.join(map(qs, cols))})"
        )
        # ON CONFLICT DO NOTHING, not INSERT OR IGNORE: the conflict clause of the statement
        # that fires a trigger (UPDATE OR REPLACE, INSERT OR ABORT) overrides the trigger's
        # own, which would overwrite a before-image or fail the call; an upsert clause holds
        old = ",".join(f"OLD.{qs(c)}" for c in cols)
        log_old = f"INSERT INTO {u} VALUES(OLD.rowid,0,{old})ON CONFLICT DO NOTHING;"
        log_new = f"INSERT INTO {u}(_rid,_ins)VALUES(NEW.rowid,1)ON CONFLICT DO NOTHING;"
        # an UPDATE may move a row to a new rowid (INTEGER PRIMARY KEY): log both places
        moved = (
            f"INSERT INTO {u}(_rid,_ins)SELECT NEW.rowid,1 WHERE NEW.rowid IS NOT OLD.rowid "
            "ON CONFLICT DO NOTHING;"
        )
        keys_new, keys_old = layout.row_sql(table, "NEW"), layout.row_sql(table, "OLD")
        trigger = f"CREATE TRIGGER {PREFIX}{{}} AFTER {{}} ON {t} {_WHEN} BEGIN {{}} END"
        out.append(trigger.format(f"{table}_i", "INSERT", log_new + keys_new))
        out.append(trigger.format(f"{table}_d", "DELETE", log_old + keys_old))
        out.append(trigger.format(f"{table}_u", "UPDATE", log_old + moved))
        # the key log on UPDATE OF the columns an invariant reads: other updates cannot
        # change its result, and SQLite leaves such triggers out of the statement
        for of_cols, keys in layout.update_sql(table):
            of = "" if of_cols is None else " OF " + ",".join(qs(c) for c in sorted(of_cols))
            out.append(trigger.format(f"{k}k", "UPDATE" + of, keys))
            k += 1
    return out


def _strip(conn: sqlite3.Connection) -> None:
    old = conn.execute(
        "SELECT type, name FROM sqlite_master WHERE name LIKE ? ESCAPE '\\' AND type IN ('trigger', 'table')",
        (PREFIX.replace("_", "\\_") + "%",),
    ).fetchall()
    for kind, name in sorted(old, key=lambda r: r[0] != "trigger"):
        conn.execute(f"DROP {kind.upper()} {q(name)}")


def schema_sql(spec: DomainSpec, conn: sqlite3.Connection, schema: str = "main") -> list[str]:
    """``instrument_sql`` for the database attached as ``schema`` (its enforced foreign keys),
    each object created in that schema: the statements ``instrument`` runs."""
    fks = {
        (t, r[0])
        for t in spec.entities
        for r in conn.execute('SELECT "from" FROM pragma_foreign_key_list(?, ?)', (t, schema))
    }
    out = []
    for stmt in instrument_sql(spec, fks):
        for head in ("CREATE TABLE ", "CREATE TRIGGER "):
            if stmt.startswith(head):  # SQLite stores the name unqualified: same bytes
                stmt = f"{head}{qs(schema)}.{stmt[len(head) :]}"
                break
        else:  # pragma: no cover - instrument_sql makes only tables and triggers
            raise ScaleEnvError(f"changelog: unexpected DDL {stmt[:40]!r}")
        out.append(stmt)
    return out


def instrument(conn: sqlite3.Connection, ddl: list[str]) -> None:
    """Add the changelog (``schema_sql``'s statements) to a plain database in place, in one
    transaction. A lean world's sessions instrument their own copy of its plain bytes, so
    no instrumented copy of the whole database is kept (issue 21: peak memory).
    One script, not ``execute``: a DDL statement from the connection's statement cache fails
    ("SQL logic error", SQLite 3.40) once ``deserialize`` has replaced the schema it ran on."""
    try:
        conn.executescript("BEGIN;\n" + ";\n".join(ddl) + ";\nCOMMIT;")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def instrument_bytes(spec: DomainSpec, db_bytes: bytes) -> bytes:
    """``db_bytes`` with the changelog added (any previous instrumentation replaced)."""
    conn = bytes_to_connection(db_bytes)
    try:
        _strip(conn)
        instrument(conn, schema_sql(spec, conn))
        return conn.serialize()
    finally:
        conn.close()


def strip_bytes(db_bytes: bytes) -> bytes:
    """``db_bytes`` without the runtime's changelog objects: a plain world database."""
    conn = bytes_to_connection(db_bytes)
    try:
        _strip(conn)
        return conn.serialize()
    finally:
        conn.close()


class ChangeLog:
    """Reads and clears the undo tables of one spec (statements prepared once, shared)."""

    def __init__(self, spec: DomainSpec) -> None:
        self.spec = spec
        self.key_log = (HAS_LOG, CLEAR_LOG) if plan_checks(spec)[0].ddl() else None
        self.entities: dict[str, Entity] = dict(spec.entities)
        tables = list(spec.entities)
        self.touched_sql = "/*scaleenv:log*/ " + " UNION ALL ".join(
            f"SELECT {i} WHERE EXISTS (SELECT 1 FROM {q(undo_table(t))})"
            for i, t in enumerate(tables)
        )
        self.tables = tables
        self.read_sql: dict[str, str] = {}
        self.clear_sql: dict[str, str] = {}
        for t, e in spec.entities.items():
            cols = list(e.columns)
            u, cur = ", ".join(f"u.{q(c)}" for c in cols), ", ".join(f"c.{q(c)}" for c in cols)
            self.read_sql[t] = (
                f"/*scaleenv:log*/ SELECT u._ins, c.rowid IS NOT NULL, {u}, {cur} FROM {q(undo_table(t))} u "
                f"LEFT JOIN {q(t)} c ON c.rowid = u._rid ORDER BY u._rid"
            )
            self.clear_sql[t] = f"/*scaleenv:log*/ DELETE FROM {q(undo_table(t))}"

    def touched(self, conn: sqlite3.Connection) -> list[str]:
        """Tables with at least one logged row."""
        if not self.tables:
            return []
        return [self.tables[r[0]] for r in conn.execute(self.touched_sql).fetchall()]

    def clear(self, conn: sqlite3.Connection) -> None:
        """Forget every logged row (the current state becomes the new starting point)."""
        touched = self.touched(conn)
        if self.key_log is not None and conn.execute(self.key_log[0]).fetchone():
            touched.append("")  # writes outside a call (a start patch) filled the key log
        if not touched:
            return
        conn.execute("/*scaleenv:log*/ SAVEPOINT scaleenv_log")
        for t in touched:
            conn.execute(self.clear_sql[t] if t else self.key_log[1])  # type: ignore[index]
        conn.execute("/*scaleenv:log*/ RELEASE scaleenv_log")

    def changes(self, conn: sqlite3.Connection) -> list[RowChange]:
        """Row changes since the log was last cleared, in spec table order then key order."""
        out: list[RowChange] = []
        for table in self.touched(conn):
            out.extend(self._table_changes(conn, table))
        return sort_changes(self.spec, out)

    @staticmethod
    def _merge(
        by_key: dict[tuple, list[Any]],
        key_cols: list[str],
        has_pk: bool,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
        """Add one row's change to ``by_key``: the same key that left one rowid and arrived
        at another is one update."""
        ref = before if before is not None else after
        assert ref is not None
        key = tuple(ref[c] for c in key_cols)
        slot = by_key.get(key)
        if slot is None or not has_pk:
            if not has_pk:
                key = (*key, len(by_key))  # rows without a primary key stay separate
            by_key[key] = [before, after]
            return
        if before is not None:
            slot[0] = before
        if after is not None:
            slot[1] = after

    def _table_changes(self, conn: sqlite3.Connection, table: str) -> list[RowChange]:
        entity = self.entities[table]
        cols = list(entity.columns)
        n = len(cols)
        pk = entity.primary_key
        key_cols = pk or cols
        by_key: dict[tuple, list[Any]] = {}
        for row in conn.execute(self.read_sql[table]):
            before = None if row[0] else dict(zip(cols, row[2 : 2 + n], strict=True))
            after = dict(zip(cols, row[2 + n :], strict=True)) if row[1] else None
            if before == after:
                continue
            parts: list[tuple[dict[str, Any] | None, dict[str, Any] | None]] = [(before, after)]
            if (
                pk
                and before is not None
                and after is not None
                and any(before[c] != after[c] for c in pk)  # a rowid reused by another key:
            ):
                parts = [(before, None), (None, after)]  # one row gone, another new
            for old, new in parts:
                self._merge(by_key, key_cols, bool(pk), old, new)
        out = []
        for before, after in by_key.values():
            if before == after:
                continue
            ref = before if before is not None else after
            assert ref is not None
            out.append(
                RowChange(
                    table=table, key={c: ref[c] for c in key_cols}, before=before, after=after
                )
            )
        return out
