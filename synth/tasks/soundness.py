"""Whether a start-state patch still holds: foreign keys and invariants, at O(changed rows).

A distractor copy or a prepared column edit changes a handful of rows of a world that held
every rule before, so only those rows can break one. Foreign keys are checked for the
changed rows (their parents exist), and invariants the way the runtime checks a write call:
the change log's triggers (inside every snapshot) log the keys the change touched, and only
the invariants those keys make dirty run, filtered to the keys (``engine.runtime.call``
re-exports the runtime's plan and its combined check). A whole-table scan per candidate
made task generation O(world) per task.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from engine.db import q
from engine.runtime.call import first_violated, invariant_checks, take_log
from engine.spec.models import DomainSpec
from synth.tasks.domain import TAG

Row = tuple[str, dict[str, Any]]  # (table, primary key)


class Soundness:
    """The checks of one world's patches (plans and statements made once)."""

    def __init__(self, spec: DomainSpec, base: sqlite3.Connection) -> None:
        self.spec = spec
        layout, self.checks = invariant_checks(spec)
        self.logs = bool(layout.tables)  # the snapshot carries a key log to read
        self.cache: dict[tuple, str] = {}  # combined statements by shape
        self.fks = {t: _db_fks(base, t) for t in spec.entities}

    def holds(self, conn: sqlite3.Connection, rows: list[Row]) -> bool:
        """Foreign keys of ``rows`` and every invariant the change since the last check
        touched hold (the key log is read and emptied: inside a savepoint, a rollback
        brings the keys back for the next check)."""
        try:
            if not all(self._parents_exist(conn, t, k) for t, k in rows):
                return False
            logged = take_log(conn) if self.logs else {}
            return first_violated(conn, self.checks, logged, self.spec.now, self.cache) is None
        except sqlite3.Error:
            return False

    def _parents_exist(self, conn: sqlite3.Connection, table: str, key: dict[str, Any]) -> bool:
        fks = self.fks.get(table)
        if not fks:
            return True
        where = " AND ".join(f"{q(c)} IS ?" for c in key)
        cols = [c for _p, child, _pc in fks for c in child]
        row = conn.execute(
            TAG + f"SELECT {', '.join(map(q, cols))} FROM {q(table)} WHERE {where}",
            list(key.values()),
        ).fetchone()
        if row is None:
            return True  # not there (an update rolled back): nothing points anywhere
        i = 0
        for parent, child, pcols in fks:
            values = row[i : i + len(child)]
            i += len(child)
            if any(v is None for v in values):
                continue  # a NULL link points at nothing (as SQLite's own check)
            hit = conn.execute(
                TAG
                + f"SELECT 1 FROM {q(parent)} WHERE "
                + " AND ".join(f"{q(c)} = ?" for c in pcols)
                + " LIMIT 1",
                list(values),
            ).fetchone()
            if hit is None:
                return False
        return True


def _db_fks(conn: sqlite3.Connection, table: str) -> list[tuple[str, list[str], list[str]]]:
    """The foreign keys the database declares on ``table``: (parent, columns, parent
    columns); the ones ``PRAGMA foreign_key_check`` would check."""
    by_id: dict[int, tuple[str, list[str], list[str | None]]] = {}
    for fid, _seq, parent, frm, to in conn.execute(
        'SELECT id, seq, "table", "from", "to" FROM pragma_foreign_key_list(?) ORDER BY id, seq',
        (table,),
    ):
        got = by_id.setdefault(fid, (parent, [], []))
        got[1].append(frm)
        got[2].append(to)
    out = []
    for parent, child, pcols in by_id.values():
        if any(c is None for c in pcols):  # REFERENCES parent: its primary key
            pk = [
                r[1]
                for r in sorted(
                    conn.execute(
                        "SELECT pk, name FROM pragma_table_info(?) WHERE pk > 0", (parent,)
                    )
                )
            ]
            pcols = list(pk)
        out.append((parent, child, [str(c) for c in pcols]))
    return out
