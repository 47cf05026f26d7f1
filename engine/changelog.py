"""Row changes since the episode start, at O(changes) cost: triggers that keep before-images.

Every user table ``t`` gets an undo table ``_scaleenv_undo_t`` (rowid of the touched row,
whether it was inserted, and the row's columns exactly as stored: the columns are untyped,
so no value is converted) and three AFTER triggers that record the first touch of each row
(an upsert that does nothing on a known rowid). ``changes`` joins each undo row with the
current row. The same triggers fill the per-call *key log* that ``engine.invariants`` reads
to check only the invariants, and the keys, a call touched (``LogLayout``, ``take_log``).

Why the triggers live *inside* the database bytes and not in the TEMP schema: on SQLite
3.40 ``sqlite3_deserialize`` frees the schema object that temp triggers point at, so after a
reset they only keep firing while the allocator happens to reuse the address (under
valgrind they stop at once), and newer SQLite detaches them on purpose. Instrumented bytes
are made once per world; resets and restores then carry triggers and logs consistently.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from engine.guard import PREFIX
from engine.spec import DomainSpec, Entity
from engine.task import RowChange
from engine.world import bytes_to_connection

CALL_LOG = f"{PREFIX}k"  # the per-call key log (engine.invariants); a plain identifier
READ_LOG = f'/*scaleenv:keys*/ SELECT s, v FROM "{CALL_LOG}" WHERE v IS NOT NULL'
CLEAR_LOG = f'/*scaleenv:keys*/ DELETE FROM "{CALL_LOG}"'
HAS_LOG = f'/*scaleenv:keys*/ SELECT 1 FROM "{CALL_LOG}" LIMIT 1'


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


def undo_table(table: str) -> str:
    return f"{PREFIX}undo_{table}"


class LogLayout:
    """What the triggers log: per table, entries (columns that make an UPDATE relevant, or
    None for any; slot; logged column, or None for a marker; whether inserts and deletes
    log too). A foreign-key link logs on UPDATE only: with enforced foreign keys a row that
    points at an inserted or deleted row changed itself, and its own key is logged."""

    def __init__(self) -> None:
        self.entries: dict[str, list[tuple[frozenset[str] | None, int, str | None, bool]]] = {}
        self.slots = 0

    def add(
        self, table: str, cols: frozenset[str] | None, column: str | None, rows: bool = True
    ) -> int:
        slot = self.slots
        self.slots += 1
        if column is not None and cols is not None:
            cols = cols | {column}
        self.entries.setdefault(table, []).append((cols, slot, column, rows))
        return slot

    @property
    def tables(self) -> frozenset[str]:
        return frozenset(self.entries)

    def ddl(self) -> list[str]:
        # no constraints: an outer INSERT OR REPLACE/ABORT overrides a trigger's conflict
        # clause, so the log must never conflict (duplicates and NULLs are read away)
        return [f"CREATE TABLE {CALL_LOG} (s, v)"] if self.entries else []

    @staticmethod
    def _tags(entries: list) -> list[tuple[str, str | None]]:
        """(slots tag, column) per logged column: one row carries all its slots ("3" or
        '3,7'), so the trigger SQL (kept in the schema, copied on every reset) and the rows
        read back stay few."""
        by_col: dict[str | None, list[int]] = {}
        for _, s, c, _ in entries:
            by_col.setdefault(c, []).append(s)
        return [
            (str(s[0]) if len(s) == 1 else "'" + ",".join(map(str, s)) + "'", c)
            for c, s in by_col.items()
        ]

    def _insert(self, entries: list, image: str) -> str:
        values = []
        for t, c in self._tags(entries):
            if c is None:
                values.append(f"({t},0)")
            elif image == "OLD NEW":  # the new key only where it moved (NULL is read away)
                values.append(f"({t},OLD.{qs(c)}),({t},NULLIF(NEW.{qs(c)},OLD.{qs(c)}))")
            else:
                values.append(f"({t},{image}.{qs(c)})")
        return f"INSERT INTO {CALL_LOG} VALUES{','.join(values)};" if values else ""

    def row_sql(self, table: str, image: str) -> str:
        """The statement an INSERT (``NEW``) or DELETE (``OLD``) trigger runs."""
        return self._insert([e for e in self.entries.get(table, []) if e[3]], image)

    def update_sql(self, table: str) -> list[tuple[frozenset[str] | None, str]]:
        """(UPDATE OF columns or None for any, statement) of ``table``'s update triggers."""
        groups: dict[frozenset[str] | None, list] = {}
        for e in self.entries.get(table, []):
            groups.setdefault(e[0], []).append(e)
        return [(cols, self._insert(entries, "OLD NEW")) for cols, entries in groups.items()]


def take_log(conn: sqlite3.Connection) -> dict[int, set[Any]]:
    """The call log as slot -> the values logged in it; the log is emptied."""
    out: dict[int, set[Any]] = {}
    rows = conn.execute(READ_LOG).fetchall()
    if rows:  # (DELETE ... RETURNING hands rows over more slowly than a SELECT)
        conn.execute(CLEAR_LOG)
    for s, v in rows:
        if v is None:
            continue  # a NULL key matches no violation
        for slot in (s,) if type(s) is int else map(int, s.split(",")):
            got = out.get(slot)
            if got is None:
                out[slot] = {v}
            else:
                got.add(v)
    return out


def instrument_sql(spec: DomainSpec, fks: set[tuple[str, str]] | None = None) -> list[str]:
    """DDL for the undo tables, the per-call key log and the triggers that fill them.
    ``fks``: (table, column) of the foreign keys the database enforces (None: the spec's)."""
    from engine.invariants import plan_checks

    layout = plan_checks(spec, fks)[0]
    out: list[str] = list(layout.ddl())
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
        trigger = f"CREATE TRIGGER {PREFIX}{{}} AFTER {{}} ON {t} BEGIN {{}} END"
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


def instrument_bytes(spec: DomainSpec, db_bytes: bytes) -> bytes:
    """``db_bytes`` with the changelog added (any previous instrumentation replaced)."""
    conn = bytes_to_connection(db_bytes)
    try:
        _strip(conn)
        fks = {
            (t, r[0])
            for t in spec.entities
            for r in conn.execute('SELECT "from" FROM pragma_foreign_key_list(?)', (t,))
        }
        conn.execute("BEGIN")
        for stmt in instrument_sql(spec, fks):
            conn.execute(stmt)
        conn.execute("COMMIT")
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
        from engine.invariants import plan_checks

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
        from engine.diff import sort_changes

        out: list[RowChange] = []
        for table in self.touched(conn):
            out.extend(self._table_changes(conn, table))
        return sort_changes(self.spec, out)

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
            ref = before if before is not None else after
            assert ref is not None
            key = tuple(ref[c] for c in key_cols)
            slot = by_key.get(key)
            if slot is None or not pk:
                if not pk:
                    key = (*key, len(by_key))  # rows without a primary key stay separate
                by_key[key] = [before, after]
                continue
            # the same key left one rowid and arrived at another: one update
            if before is not None:
                slot[0] = before
            if after is not None:
                slot[1] = after
        out = []
        for before, after in by_key.values():
            if before == after:
                continue
            ref = before if before is not None else after
            out.append(
                RowChange(
                    table=table, key={c: ref[c] for c in key_cols}, before=before, after=after
                )
            )
        return out
