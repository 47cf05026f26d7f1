"""A task's start state as exact row operations on the base: replayed and reverted in place.

The first time a task's start patch is applied (``engine.runtime.patch.run_patch``, on the
world's base state) the changelog holds the before-image of every row it touched, by rowid;
with the rows after, that is the patch as exact row operations, rowids included
(``Compiled``), kept per world since the base state is fixed. A later switch between tasks
reverts the old task's rows and writes the new task's in one transaction, with the
changelog triggers quiet (``QUIET``: the log stays empty, nothing to clear): O(patch rows),
and none of the patch's statement building, upserts, JSON or foreign-key retries.

Why it is exact: the rowids as well as the values are those of the first application, so
the content, the scan order and the next rowid equal a fresh session's. Each operation
writes exactly one row; SQLite's count of written rows (``total_changes``, foreign-key
actions included) must grow by exactly the number of operations, or the switch fails.

Why the rollback journal is off during a switch: at 100k rows writing each touched page
to the journal is about a third of a switch. The operations are known to succeed from this
state; if one fails all the same, ``switch`` raises and the caller deserializes the base
(the state in between is not used).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from engine.db import q
from engine.runtime.changelog import QUIET, ChangeLog, undo_table
from engine.runtime.undo import Undo
from engine.spec.models import DomainSpec

Ops = tuple[tuple[str, tuple[tuple, ...]], ...]  # (SQL, parameter rows) for executemany

_TAG = "/*scaleenv:start*/ "
_BEGIN, _COMMIT, _ROLLBACK = _TAG + "BEGIN", _TAG + "COMMIT", _TAG + "ROLLBACK"


@dataclass(frozen=True, slots=True)
class Compiled:
    """A start patch as row operations from the base state (``apply``) and back
    (``revert``); ``rows``: how many rows each writes (one per operation)."""

    apply: Ops
    revert: Ops
    rows: tuple[int, int]


def _same(a: object, b: object) -> bool:
    return type(a) is type(b) and a == b


class StartOps:
    """The statements that compile and switch start states for one spec (built once)."""

    def __init__(self, spec: DomainSpec, log: ChangeLog, undo: Undo, schema: str) -> None:
        self.log, self.undo = log, undo
        self.journal_off = f"{_TAG}PRAGMA {q(schema)}.journal_mode = OFF"
        self.journal_on = f"{_TAG}PRAGMA {q(schema)}.journal_mode = MEMORY"
        self.quiet = f"{_TAG}INSERT INTO {QUIET} VALUES (1)"
        self.loud = f"{_TAG}DELETE FROM {QUIET}"
        self.cols = {t: list(e.columns) for t, e in spec.entities.items()}
        self.read_sql: dict[str, str] = {}
        self.insert_sql: dict[str, str] = {}
        self.delete_sql: dict[str, str] = {}
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
        fwd: list[tuple[tuple[int, int], str, tuple]] = []  # ((group, rank), sql, params)
        back: list[tuple[tuple[int, int], str, tuple]] = []
        for t in self.log.touched(conn):
            cols, n, rank = self.cols[t], len(self.cols[t]), order[t]
            up, down = (0, rank), (1, -rank)  # writes parents first, deletes children first
            for row in conn.execute(self.read_sql[t]):
                rid, inserted, present = row[0], row[1], row[2]
                before, after = row[3 : 3 + n], row[3 + n :]
                if inserted:
                    if present:  # a new row: insert it, and delete it to go back
                        fwd.append((up, self.insert_sql[t], (rid, *after)))
                        back.append((down, self.delete_sql[t], (rid,)))
                elif not present:  # a deleted row: put it back to go back
                    fwd.append((down, self.delete_sql[t], (rid,)))
                    back.append((up, self.insert_sql[t], (rid, *before)))
                else:  # an updated row (one that was only logged stays as it was)
                    changed = [i for i in range(n) if not _same(before[i], after[i])]
                    if changed:
                        sql = self._update(t, [cols[i] for i in changed])
                        fwd.append((up, sql, (*(after[i] for i in changed), rid)))
                        back.append((up, sql, (*(before[i] for i in changed), rid)))
        return Compiled(_group(fwd), _group(back), (len(fwd), len(back)))

    def switch(
        self,
        conn: sqlite3.Connection,
        old: Compiled | None,
        new: Compiled | None,
        before: Callable[[], bool] | None = None,
    ) -> bool:
        """From ``old``'s start state (None: the base) to ``new``'s; the log stays empty.
        ``before`` runs first in the same transaction (the episode's undo, back to ``old``'s
        state); False from it: False, and the state is unknown. So is it after any
        ``sqlite3.Error``: the caller deserializes."""
        ops = (old.revert if old else ()) + (new.apply if new else ())
        want = (old.rows[1] if old else 0) + (new.rows[0] if new else 0)
        conn.execute(self.journal_off)
        try:
            conn.execute(_BEGIN)
            if before is not None and not before():
                return False
            conn.execute(self.quiet)
            count = conn.total_changes
            for sql, rows in ops:
                if len(rows) == 1:
                    conn.execute(sql, rows[0])
                else:
                    conn.executemany(sql, rows)
            if conn.total_changes - count != want:  # a foreign-key action, or a row missing
                raise sqlite3.IntegrityError("a start state switch wrote other rows than its own")
            conn.execute(self.loud)
            conn.execute(_COMMIT)
            return True
        finally:
            if conn.in_transaction:
                conn.execute(_ROLLBACK)
            conn.execute(self.journal_on)


def _group(ops: list[tuple[tuple[int, int], str, tuple]]) -> Ops:
    """``ops`` in (group, rank) order (stable), runs of one statement merged for executemany."""
    out: list[tuple[str, list[tuple]]] = []
    for _, sql, params in sorted(ops, key=lambda o: o[0]):
        if out and out[-1][0] == sql:
            out[-1][1].append(params)
        else:
            out.append((sql, [params]))
    return tuple((sql, tuple(rows)) for sql, rows in out)
