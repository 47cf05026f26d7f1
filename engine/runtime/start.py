"""A task's start state as exact row operations on the base: replayed and reverted in place.

The first time a task's start patch is applied (``engine.runtime.patch.run_patch``, on the
world's base state) the changelog holds the before-image of every row it touched, by rowid;
with the rows after, that is the patch as exact row operations, rowids included
(``Compiled``), kept per world since the base state is fixed. A later switch between tasks
reverts the old task's rows and writes the new task's in one transaction, then clears what
the changelog triggers logged meanwhile: O(patch rows), and none of the patch's statement
building, upserts, JSON or foreign-key retries.

Why it is exact: the rowids as well as the values are those of the first application, so
the content, the scan order and the next rowid equal a fresh session's; a foreign-key
action that reaches a row outside the operations is caught by counting the log.

Why the rollback journal is off during a switch: at 100k rows writing each touched page
to the journal is about a third of a switch. The operations are known to succeed from this
state; if one fails all the same, ``switch`` raises and the caller deserializes the base
(the state in between is not used).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from engine.db import q
from engine.runtime.changelog import ChangeLog, undo_table
from engine.runtime.undo import Undo
from engine.spec.models import DomainSpec

Ops = tuple[tuple[str, tuple[tuple, ...]], ...]  # (SQL, parameter rows) for executemany

_TAG = "/*scaleenv:start*/ "
_BEGIN, _COMMIT, _ROLLBACK = _TAG + "BEGIN", _TAG + "COMMIT", _TAG + "ROLLBACK"


@dataclass(frozen=True, slots=True)
class Compiled:
    """A start patch as row operations from the base state (``apply``) and back
    (``revert``); ``rowids``: per table, the rows both touch (what the log holds after);
    ``reach``: the tables a foreign-key action of ``apply``, ``revert`` could write (their
    log is counted: it must hold the operations' rows only)."""

    apply: Ops
    revert: Ops
    rowids: dict[str, frozenset[int]]
    reach: tuple[frozenset[str], frozenset[str]]


def _same(a: object, b: object) -> bool:
    return type(a) is type(b) and a == b


class StartOps:
    """The statements that compile and switch start states for one spec (built once)."""

    def __init__(self, spec: DomainSpec, log: ChangeLog, undo: Undo, schema: str) -> None:
        self.log, self.undo = log, undo
        self.journal_off = f"{_TAG}PRAGMA {q(schema)}.journal_mode = OFF"
        self.journal_on = f"{_TAG}PRAGMA {q(schema)}.journal_mode = MEMORY"
        self.cols = {t: list(e.columns) for t, e in spec.entities.items()}
        self.read_sql: dict[str, str] = {}
        self.insert_sql: dict[str, str] = {}
        self.delete_sql: dict[str, str] = {}
        self.count_sql: dict[frozenset[str], str] = {}
        for t, cols in self.cols.items():
            qt, qc = q(t), ", ".join(q(c) for c in cols)
            u, c = ", ".join(f"u.{q(x)}" for x in cols), ", ".join(f"c.{q(x)}" for x in cols)
            self.read_sql[t] = (
                f"{_TAG}SELECT u._rid, u._ins, c.rowid IS NOT NULL, {u}, {c} "
                f"FROM {q(undo_table(t))} u LEFT JOIN {qt} c ON c.rowid = u._rid ORDER BY u._rid"
            )
            marks = ", ".join("?" for _ in range(len(cols) + 1))
            self.insert_sql[t] = f"{_TAG}INSERT INTO {qt} (rowid, {qc}) VALUES ({marks})"
            self.delete_sql[t] = f"{_TAG}DELETE FROM {qt} WHERE rowid = ?"

    def _update(self, table: str, names: list[str]) -> str:
        sets = ", ".join(f"{q(c)} = ?" for c in names)
        return f"{_TAG}UPDATE {q(table)} SET {sets} WHERE rowid = ?"

    def compile(self, conn: sqlite3.Connection) -> Compiled:
        """The logged changes as a ``Compiled`` (call after a patch applied on the base, in
        its transaction, before the log is cleared)."""
        order = self.undo.order
        assert self.undo.acting is not None, "call Undo.prepare first"
        on_delete, on_update = self.undo.reach
        reach: tuple[set[str], set[str]] = (set(), set())  # (apply, revert)
        fwd: list[tuple[tuple[int, int], str, tuple]] = []  # ((group, rank), sql, params)
        back: list[tuple[tuple[int, int], str, tuple]] = []
        rowids: dict[str, frozenset[int]] = {}
        for t in self.log.touched(conn):
            cols, n, rank = self.cols[t], len(self.cols[t]), order[t]
            up, down = (0, rank), (1, -rank)  # writes parents first, deletes children first
            rids = []
            for row in conn.execute(self.read_sql[t]):
                rid, inserted, present = row[0], row[1], row[2]
                before, after = row[3 : 3 + n], row[3 + n :]
                if inserted:
                    if present:  # a new row: insert it, and delete it to go back
                        rids.append(rid)
                        fwd.append((up, self.insert_sql[t], (rid, *after)))
                        back.append((down, self.delete_sql[t], (rid,)))
                        reach[1].update(on_delete.get(t, ()))
                elif not present:  # a deleted row: put it back to go back
                    rids.append(rid)
                    fwd.append((down, self.delete_sql[t], (rid,)))
                    back.append((up, self.insert_sql[t], (rid, *before)))
                    reach[0].update(on_delete.get(t, ()))
                else:
                    changed = [i for i in range(n) if not _same(before[i], after[i])]
                    if changed:  # an updated row (one that only logged stays as it was)
                        rids.append(rid)
                        sql = self._update(t, [cols[i] for i in changed])
                        fwd.append((up, sql, (*(after[i] for i in changed), rid)))
                        back.append((up, sql, (*(before[i] for i in changed), rid)))
                        for r in reach:
                            r.update(on_update.get(t, ()))
            if rids:
                rowids[t] = frozenset(rids)
        logged = set(self.cols)
        counted = (frozenset(reach[0] & logged), frozenset(reach[1] & logged))
        return Compiled(_group(fwd), _group(back), rowids, counted)

    def switch(self, conn: sqlite3.Connection, old: Compiled | None, new: Compiled | None) -> None:
        """From ``old``'s start state (None: the base) to ``new``'s, with a clean log. Any
        ``sqlite3.Error`` leaves the state unknown: the caller deserializes."""
        if old is None and new is None:
            return
        ops = (old.revert if old else ()) + (new.apply if new else ())
        tables = set(old.rowids if old else ()) | set(new.rowids if new else ())
        conn.execute(self.journal_off)
        try:
            conn.execute(_BEGIN)
            for sql, rows in ops:
                if len(rows) == 1:
                    conn.execute(sql, rows[0])
                else:
                    conn.executemany(sql, rows)
            reach = (old.reach[1] if old else frozenset()) | (new.reach[0] if new else frozenset())
            if reach:
                self._count(conn, reach, old, new)
            for t in tables:
                conn.execute(self.log.clear_sql[t])
            if self.log.key_log is not None:
                conn.execute(self.log.key_log[1])
            conn.execute(_COMMIT)
        finally:
            if conn.in_transaction:
                conn.execute(_ROLLBACK)
            conn.execute(self.journal_on)

    def _count(
        self,
        conn: sqlite3.Connection,
        tables: frozenset[str],
        old: Compiled | None,
        new: Compiled | None,
    ) -> None:
        """Raise when the log of ``tables`` holds other rows than the operations' (a
        foreign-key action reached a row no operation names)."""
        sql = self.count_sql.get(tables)
        if sql is None:
            sql = _TAG + " UNION ALL ".join(
                f"SELECT count(*) FROM {q(undo_table(t))}" for t in sorted(tables)
            )
            self.count_sql[tables] = sql
        empty: frozenset[int] = frozenset()
        want = [
            len(
                (old.rowids.get(t, empty) if old else empty)
                | (new.rowids.get(t, empty) if new else empty)
            )
            for t in sorted(tables)
        ]
        if [r[0] for r in conn.execute(sql)] != want:
            raise sqlite3.IntegrityError("a start state switch touched a row it does not name")


def _group(ops: list[tuple[tuple[int, int], str, tuple]]) -> Ops:
    """``ops`` in (group, rank) order (stable), runs of one statement merged for executemany."""
    out: list[tuple[str, list[tuple]]] = []
    for _, sql, params in sorted(ops, key=lambda o: o[0]):
        if out and out[-1][0] == sql:
            out[-1][1].append(params)
        else:
            out.append((sql, [params]))
    return tuple((sql, tuple(rows)) for sql, rows in out)
