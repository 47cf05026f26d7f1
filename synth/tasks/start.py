"""Start states: the base plus a row patch of distractors and of prepared entity states.

The patch is built on its own connection and is the list of rows inserted or changed,
base -> start. A patch on the base is built inside a savepoint of one connection that holds
the base for the whole run and is rolled back when the patch closes (O(patch rows)); a copy
of the database is made only for a patch on another state or while that one is in use. A
patch that starts from another (a prepared edit, then distractors) is a nested savepoint. Distractors (near-miss copies of the rows a task talks about) are made in
``synth.tasks.distractors``; preparation here edits a column of a chain row (an order older
than 30 days for a refusal). Every change is kept only when it is sound
(``synth.tasks.soundness``: foreign keys and invariants, checked on the changed rows only).
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from engine.db import bytes_to_connection, q
from engine.spec.models import DATE_FMT, DATETIME_FMT
from engine.spec.task import RowChange
from synth.tasks.context import Ctx
from synth.tasks.distractors import Distractors
from synth.tasks.domain import TAG, fetch_row
from synth.tasks.soundness import Row, Soundness


@dataclass
class Patch:
    """A start-state patch under construction on a private connection."""

    conn: sqlite3.Connection
    inserted: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (table, key)
    updated: dict[tuple[str, str], tuple[str, dict[str, Any], dict[str, Any]]] = field(
        default_factory=dict
    )

    def changes(self, ctx: Ctx) -> list[RowChange]:
        out = []
        for table, key in self.inserted:
            row = fetch_row(self.conn, ctx.info, table, key)
            if row is not None:
                out.append(RowChange(table=table, key=key, before=None, after=row))
        for table, key, before in self.updated.values():
            row = fetch_row(self.conn, ctx.info, table, key)
            if row is not None and row != before:
                out.append(RowChange(table=table, key=key, before=before, after=row))
        return out

    release: Callable[[], None] | None = None  # a patch on the shared base connection

    def close(self) -> None:
        if self.release is not None:
            release, self.release = self.release, None
            release()
        else:
            self.conn.close()


class StartBuilder:
    """Builds patches for one world: distractor copies and prepared column values."""

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.spec = ctx.spec
        self.info = ctx.info
        self.soundness = Soundness(self.spec, ctx.base_conn)
        self._base: sqlite3.Connection | None = None  # the base, for patches in savepoints
        self._open: list[Patch] = []  # patches open on it, innermost last

    def open(self, state: bytes, private: bool = False) -> Patch:
        """A patch on ``state``: on the base (unless ``private``: the caller keeps or copies
        the connection past ``close``) a savepoint on the shared base connection, else a
        private copy."""
        if state is self.ctx.base and not private and not self._open:
            if self._base is None:
                self._base = self._connect(state)
            return self._savepoint(Patch(self._base))
        return Patch(self._connect(state))

    def child(self, parent: Patch) -> Patch:
        """A patch that starts as ``parent`` (a prepared edit, then distractors): a nested
        savepoint when ``parent`` is the innermost open patch on the shared connection,
        else a copy of its database."""
        if self._open and self._open[-1] is parent:
            return self._savepoint(Patch(parent.conn, list(parent.inserted), dict(parent.updated)))
        out = Patch(bytes_to_connection(parent.conn.serialize()))
        out.conn.execute("PRAGMA foreign_keys = ON")
        out.inserted, out.updated = list(parent.inserted), dict(parent.updated)
        return out

    def _savepoint(self, patch: Patch) -> Patch:
        patch.conn.execute("SAVEPOINT start_patch")
        self._open.append(patch)

        def release() -> None:
            if not self._open or self._open[-1] is not patch:
                raise RuntimeError("StartBuilder: a start patch closed before the one inside it")
            self._open.pop()
            patch.conn.execute("ROLLBACK TO start_patch")
            patch.conn.execute("RELEASE start_patch")

        patch.release = release
        return patch

    @staticmethod
    def _connect(state: bytes) -> sqlite3.Connection:
        conn = bytes_to_connection(state)
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    # ---- checks ------------------------------------------------------------------------------
    def sound(self, conn: sqlite3.Connection, rows: list[Row]) -> bool:
        """Foreign keys of the changed ``rows`` and the invariants the change touched hold."""
        return self.soundness.holds(conn, rows)

    # ---- copies --------------------------------------------------------------------------------
    @cached_property
    def distractors(self) -> Distractors:
        return Distractors(self)

    # ---- preparation -------------------------------------------------------------------------
    def set_column(
        self, patch: Patch, table: str, key: dict[str, Any], col: str, value: Any
    ) -> bool:
        """Change one column of an existing row in the patch (kept only if sound). A number
        whose change breaks a sum rule may take another number of the row along by the same
        amount (a zero balance with the opening balance moved alike keeps the ledger)."""
        if self.set_values(patch, table, key, {col: value}):
            return True
        c = self.spec.entities[table].columns[col]
        row = fetch_row(patch.conn, self.info, table, key)
        old = row.get(col) if row else None
        if (
            c.type not in ("integer", "decimal")
            or not isinstance(old, int | float)
            or not isinstance(value, int | float)
        ):
            return False
        delta = value - old
        for other, oc in self.spec.entities[table].columns.items():
            if (
                other == col
                or oc.type not in ("integer", "decimal")
                or oc.primary_key
                or oc.references
            ):
                continue
            ov = row.get(other) if row else None
            if not isinstance(ov, int | float):
                continue
            for sign in (1, -1):
                new = round(ov + sign * delta, oc.scale if oc.type == "decimal" else 0)
                if self.set_values(patch, table, key, {col: value, other: new}):
                    return True
        return False

    def set_values(
        self, patch: Patch, table: str, key: dict[str, Any], values: dict[str, Any]
    ) -> bool:
        """Change columns of an existing row in the patch (kept only if sound)."""
        conn = patch.conn
        before = fetch_row(conn, self.info, table, key)
        if before is None:
            return False
        where = " AND ".join(f"{q(c)} = ?" for c in key)
        sets = ", ".join(f"{q(c)} = ?" for c in values)
        conn.execute("SAVEPOINT prepare")
        try:
            conn.execute(
                TAG + f"UPDATE {q(table)} SET {sets} WHERE {where}",
                [*values.values(), *key.values()],
            )
            if not self.sound(conn, [(table, key)]):
                raise _Skip
        except (_Skip, sqlite3.Error):
            conn.execute("ROLLBACK TO prepare")
            conn.execute("RELEASE prepare")
            return False
        conn.execute("RELEASE prepare")
        ident = (table, repr(sorted(key.items())))
        if ident not in patch.updated:
            patch.updated[ident] = (table, key, before)
        return True

    def mutations(
        self,
        conn: sqlite3.Connection,
        table: str,
        key: dict[str, Any],
        cols: list[str],
        rng: random.Random,
    ) -> list[tuple[str, Any]]:
        """Candidate (column, value) edits of a row for preparing a state: other enum
        members, flipped booleans, dates moved into the past or future."""
        row = fetch_row(conn, self.info, table, key)
        if row is None:
            return []
        ent = self.spec.entities[table]
        out: list[tuple[str, Any]] = []
        for col in cols:
            c = ent.columns.get(col)
            if c is None or c.primary_key or c.references:
                continue
            old = row.get(col)
            if c.type == "enum":
                out += [(col, v) for v in c.values or [] if v != old]
            elif c.type == "boolean":
                out.append((col, 0 if old else 1))
            elif c.type in ("date", "datetime") and isinstance(old, str):
                fmt = DATE_FMT if c.type == "date" else DATETIME_FMT
                try:
                    d = dt.datetime.strptime(old[: 10 if c.type == "date" else 19], fmt)
                except ValueError:
                    continue
                out += [(col, (d + dt.timedelta(days=n)).strftime(fmt)) for n in (-45, -400, 2, 40)]
            elif c.type in ("integer", "decimal") and isinstance(old, int | float):
                out += [(col, 0), (col, old + 1), (col, old * 2 + 100)]
        rng.shuffle(out)
        return out


class _Skip(Exception):
    pass
