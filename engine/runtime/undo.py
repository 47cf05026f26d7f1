"""Reset in O(changes): write the changelog's before-images back in place.

A reset copies the whole database (``deserialize``: O(world)). After a short episode the
changelog (``engine.runtime.changelog``) already holds, per table, the before-image of every row
touched since the episode start, keyed by rowid; writing those back and deleting the rows
inserted since costs O(rows changed), whatever the world's size. ``Undo.run`` declines (and
the session deserializes) when that cannot be done exactly.
"""

from __future__ import annotations

import sqlite3

from engine.db import q
from engine.runtime.changelog import ChangeLog, undo_table
from engine.runtime.guard import PREFIX
from engine.spec.models import DomainSpec, Entity


def undo_statements(table: str, entity: Entity) -> tuple[str | None, str, str, str]:
    """``ChangeLog.undo``'s statements for one table: restore rows whose key is unchanged
    (None when every column is key), restore every present row, put deleted rows back,
    delete inserted rows. All write rows from the undo table by rowid."""
    cols = list(entity.columns)
    ut, qt, qc = q(undo_table(table)), q(table), ", ".join(q(c) for c in cols)

    def update(names: list[str], where: str = "") -> str:
        return (
            f"/*scaleenv:undo*/ UPDATE {qt} SET ({', '.join(q(c) for c in names)}) = "
            f"({', '.join(f'u.{q(c)}' for c in names)}) FROM {ut} u "
            f"WHERE u._rid = {qt}.rowid AND u._ins = 0{where}"
        )

    # key unchanged (the usual case): the key's indexes and foreign-key checks are skipped
    rest = [c for c in cols if c not in entity.primary_key]
    same = " AND ".join(f"u.{q(c)} IS {qt}.{q(c)}" for c in entity.primary_key)
    return (
        update(rest, f" AND {same}") if same and rest else None,
        update(cols),
        f"/*scaleenv:undo*/ INSERT INTO {qt} (rowid, {qc}) SELECT _rid, {qc} FROM {ut} u "
        f"WHERE _ins = 0 AND NOT EXISTS (SELECT 1 FROM {qt} c WHERE c.rowid = u._rid)",
        f"/*scaleenv:undo*/ DELETE FROM {qt} WHERE rowid IN (SELECT _rid FROM {ut} WHERE _ins)",
    )


def fk_order(spec: DomainSpec) -> dict[str, int]:
    """Table -> rank with parents before the tables that reference them (cycles: any order)."""
    order: dict[str, int] = {}
    seen: set[str] = set()

    def visit(table: str) -> None:
        if table in seen:
            return
        seen.add(table)
        for col in spec.entities[table].columns.values():
            parent = col.references.split(".", 1)[0] if col.references else None
            if parent in spec.entities and parent != table:
                visit(parent)
        order[table] = len(order)

    for table in spec.entities:
        visit(table)
    return order


class Undo:
    """The undo statements of one spec (shared by the world's sessions, built once)."""

    def __init__(self, spec: DomainSpec, log: ChangeLog) -> None:
        self.log = log
        tables = log.tables
        self.count_sql = "/*scaleenv:undo*/ " + " UNION ALL ".join(
            f"SELECT count(*) FROM {q(undo_table(t))}" for t in tables
        )
        self.plan_sql = "/*scaleenv:undo*/ " + " UNION ALL ".join(
            f"SELECT count(*), total(_ins) FROM {q(undo_table(t))}" for t in tables
        )
        self.order = fk_order(spec)
        self.acting: tuple[frozenset[str], frozenset[str]] | None = None  # see prepare
        self.undoable = False
        self.undo_sql = {t: undo_statements(t, e) for t, e in spec.entities.items()}

    def prepare(self, conn: sqlite3.Connection, schema: str) -> bool:
        """Whether ``undo`` can work on this database (once per world): no AUTOINCREMENT
        counter and no trigger of its own, which an undo would not put back. Also finds the
        parent tables whose deletes or key updates act on other rows (cascade, set null)."""
        if self.acting is None:
            plain = not conn.execute(
                f"SELECT 1 FROM {schema}.sqlite_master WHERE name = 'sqlite_sequence' OR "
                f"(type = 'trigger' AND substr(name, 1, {len(PREFIX)}) <> '{PREFIX}') LIMIT 1"
            ).fetchone()
            acts = conn.execute(
                f'SELECT f."table", f.on_delete, f.on_update FROM {schema}.sqlite_master m, '
                f"pragma_foreign_key_list(m.name, '{schema}') f WHERE m.type = 'table'"
            ).fetchall()
            inert = ("NO ACTION", "RESTRICT")
            self.undoable = plain
            self.acting = (
                frozenset(t for t, d, _ in acts if d.upper() not in inert),
                frozenset(t for t, _, u in acts if u.upper() not in inert),
            )
        return self.undoable

    def run(self, conn: sqlite3.Connection, limit: int, txn: bool = True) -> bool:
        """Put every logged row back to its before-image and clear the logs, in one
        transaction; True when done. False, with nothing changed, when more than ``limit``
        rows are logged or the undo fails (a unique or foreign key the row order cannot
        meet) or touches a row that was not logged (a foreign-key action): then deserialize.
        Call ``prepare`` first. ``txn=False``: inside the caller's transaction, and a failed
        undo raises (``sqlite3.Error``) instead of rolling back.

        Why it is exact: every first touch of a row is logged with its rowid, so the rows
        not logged still hold their starting values; each logged rowid is restored from its
        before-image (rowid kept) or deleted when it was inserted, and when a foreign-key
        action could reach other rows the log is counted again before commit. The content
        equals the start's (same rowids, so the same scan order and next rowid); the page
        layout, hence the ``serialize()`` bytes, may differ.
        """
        plan = conn.execute(self.plan_sql).fetchall()
        total = sum(r[0] for r in plan)
        touched = [(t, r) for t, r in zip(self.log.tables, plan, strict=True) if r[0]]
        if total > limit:
            return False
        if not touched:
            if self.log.key_log is not None and conn.execute(self.log.key_log[0]).fetchone():
                conn.execute(self.log.key_log[1])
            return True
        if txn:
            conn.execute("/*scaleenv:undo*/ BEGIN")
        try:
            self._restore(conn, touched, plan)
            if txn:
                conn.execute("/*scaleenv:undo*/ COMMIT")
        except sqlite3.Error:
            if not txn:
                raise
            if conn.in_transaction:
                conn.execute("/*scaleenv:undo*/ ROLLBACK")
            return False
        return True

    def _restore(self, conn: sqlite3.Connection, touched: list, plan: list) -> None:
        assert self.acting is not None
        on_delete, on_update = self.acting
        recount = False
        ranked = sorted(touched, key=lambda tr: self.order[tr[0]])
        for t, (n, n_ins) in ranked:  # parents first: a restored row's parent is back
            if n > n_ins:
                recount = recount or t in on_update
                same, full, put_back, _ = self.undo_sql[t]
                done = conn.execute(same).rowcount if same else 0
                if done < n - n_ins:  # a key moved or a row was deleted
                    done = conn.execute(full).rowcount
                    done += conn.execute(put_back).rowcount
                if done != n - n_ins:
                    raise sqlite3.IntegrityError("the undo missed a logged row")
        for t, (_, n_ins) in reversed(ranked):  # children first: none points at it
            if n_ins:
                conn.execute(self.undo_sql[t][3])
                recount = recount or t in on_delete
        if recount and [r[0] for r in conn.execute(self.count_sql)] != [r[0] for r in plan]:
            raise sqlite3.IntegrityError("the undo touched a row that was not logged")
        for t, _ in touched:
            conn.execute(self.log.clear_sql[t])
        if self.log.key_log is not None:
            conn.execute(self.log.key_log[1])
