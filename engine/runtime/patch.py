"""A task's start patch applied in place: O(patch rows), never a copy of the database.

``patch_statements`` turns a patch into SQL once per patch (upserts parents first, deletes
children first, so foreign keys hold after each statement); ``run_patch`` applies it in one
transaction on a live connection (a session resets to a task this way); ``apply_patch``
makes new bytes from old ones (for building worlds, not for resets).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from engine.db import q
from engine.errors import TaskError
from engine.runtime.changelog import ChangeLog
from engine.runtime.undo import fk_order
from engine.spec.models import DomainSpec
from engine.spec.task import RowChange


def patch_statements(
    spec: DomainSpec, patch: list[RowChange], label: str = "patch"
) -> list[tuple[str, list[Any], int]]:
    """``patch`` as SQL (statement, params, index in the patch): upsert each ``after`` row,
    parents before children, then delete each row whose after is None, children first;
    in that order foreign keys hold after every statement (so ``run_patch`` need not
    defer them, which would expire every prepared statement of the connection)."""
    rank = fk_order(spec)
    ups: list[tuple[int, str, list[Any], int]] = []
    dels: list[tuple[int, str, list[Any], int]] = []
    for i, ch in enumerate(patch):
        entity = spec.entities.get(ch.table)
        if entity is None:
            raise TaskError(f"{label}: start_patch[{i}] names unknown table {ch.table!r}")
        if ch.after is None:
            where = " AND ".join(f"{q(k)} IS ?" for k in ch.key)
            sql = f"DELETE FROM {q(ch.table)} WHERE {where}"
            dels.append((-rank[ch.table], sql, list(ch.key.values()), i))
            continue
        row = {**ch.key, **ch.after}
        cols = ", ".join(q(c) for c in row)
        marks = ", ".join("?" for _ in row)
        pk = entity.primary_key
        upsert = ""
        if pk and set(pk) <= set(row):
            sets = ", ".join(f"{q(c)} = excluded.{q(c)}" for c in row if c not in pk)
            upsert = f" ON CONFLICT ({', '.join(q(c) for c in pk)}) DO " + (
                f"UPDATE SET {sets}" if sets else "NOTHING"
            )
        sql = f"INSERT INTO {q(ch.table)} ({cols}) VALUES ({marks}){upsert}"
        ups.append((rank[ch.table], sql, list(row.values()), i))
    ordered = sorted(ups, key=lambda x: (x[0], x[3])) + sorted(dels, key=lambda x: (x[0], x[3]))
    return [(sql, params, i) for _, sql, params, i in ordered]


def run_patch(
    conn: sqlite3.Connection,
    stmts: list[tuple[str, list[Any], int]],
    patch: list[RowChange],
    label: str = "patch",
    finish: Callable[[], None] | None = None,
) -> None:
    """Apply ``stmts`` (from ``patch_statements``) in one transaction, in O(patch rows), then
    ``finish()`` in it; on any error nothing is applied and a ``TaskError`` names the change.
    A statement refused by a UNIQUE constraint waits until the others are in (a patch made
    of a sequence of calls may give a value to one row that another row gives up later in
    the patch), and is tried again while that makes progress. A foreign key the statement
    order cannot meet (a cycle) is tried once more with foreign keys deferred to the commit:
    the start state must hold them, not each step."""
    for deferred in (False, True):
        conn.execute("BEGIN")
        try:
            if deferred:
                conn.execute("PRAGMA defer_foreign_keys = ON")
            if _run_all(conn, stmts, patch, label, deferred):
                if finish is not None:
                    finish()
                try:
                    conn.execute("COMMIT")
                    return
                except sqlite3.IntegrityError as exc:
                    raise TaskError(f"{label}: start state breaks foreign keys ({exc})") from exc
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
    raise TaskError(f"{label}: start state breaks foreign keys")  # pragma: no cover


def _run_all(
    conn: sqlite3.Connection,
    stmts: list[tuple[str, list[Any], int]],
    patch: list[RowChange],
    label: str,
    deferred: bool,
) -> bool:
    """Run ``stmts`` in order, UNIQUE refusals again after the rest (while that makes
    progress). False: a foreign key failed and deferring them may help."""
    pending = stmts
    while pending:
        later: list[tuple[tuple[str, list[Any], int], sqlite3.IntegrityError]] = []
        for stmt in pending:
            sql, params, i = stmt
            try:
                conn.execute(sql, params)
            except sqlite3.IntegrityError as exc:
                if not deferred and "FOREIGN KEY" in str(exc):
                    return False
                if "UNIQUE" not in str(exc):
                    raise _failed(label, patch, i, exc) from exc
                later.append((stmt, exc))
            except sqlite3.Error as exc:
                raise _failed(label, patch, i, exc) from exc
        if len(later) == len(pending):
            (_, _, first), err = later[0]
            raise _failed(label, patch, first, err) from err
        pending = [stmt for stmt, _ in later]
    return True


def _failed(label: str, patch: list[RowChange], i: int, exc: Exception) -> TaskError:
    ch = patch[i]
    return TaskError(f"{label}: start_patch[{i}] on {ch.table} {ch.key}: {exc}")


def apply_patch(
    spec: DomainSpec, data: bytes, patch: list[RowChange], log: ChangeLog, label: str = "patch"
) -> bytes:
    """``data`` with ``patch`` applied, as new bytes (a full copy: for building worlds, not
    for resets, which patch the session in place)."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        conn.deserialize(data)
        conn.execute("PRAGMA foreign_keys = ON")
        run_patch(conn, patch_statements(spec, patch, label), patch, label)
        log.clear(conn)
        return conn.serialize()
    finally:
        conn.close()
