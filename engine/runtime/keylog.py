"""The per-call *key log*: which keys of which tables a call touched, filled by triggers.

``engine.runtime.invariants`` plans which slots to log; the triggers that
``engine.runtime.changelog`` installs fill them; the call reads them back (``take_log``) to
check only the invariants, and the keys, that a call touched.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from engine.db import qs
from engine.runtime.guard import PREFIX

CALL_LOG = f"{PREFIX}k"  # the per-call key log (engine.runtime.invariants); a plain identifier
READ_LOG = f'/*scaleenv:keys*/ SELECT s, v FROM "{CALL_LOG}" WHERE v IS NOT NULL'
CLEAR_LOG = f'/*scaleenv:keys*/ DELETE FROM "{CALL_LOG}"'
HAS_LOG = f'/*scaleenv:keys*/ SELECT 1 FROM "{CALL_LOG}" LIMIT 1'


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
