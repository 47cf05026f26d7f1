"""Insert one table's drawn rows so that every constraint holds, redrawing what fails.

Fast path: one ``executemany``; a row that a constraint rejects is redrawn (only the
columns the error names) and retried on its own, a bounded number of times, then the bulk
insert resumes after it. CHECKs that read a ``sql``-filled column cannot be judged before
the fill, so for such tables CHECKs are switched off while inserting
(``PRAGMA ignore_check_constraints``), the other CHECKs are verified with one query each
and their failing rows redrawn; the fill-dependent ones are verified after the fills.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from engine.spec.models import DomainSpec
from synth.seed.checks import culprits, deferred_checks, table_checks
from synth.seed.values import SeedError, sub_rng

TRIES = 50  # redraws of one row (or one unique combination) before giving up
Redraw = Callable[[str, Any], Any]  # (column, rng) -> a fresh value


class Inserter:
    def __init__(
        self,
        conn: sqlite3.Connection,
        spec: DomainSpec,
        seed: int,
        checks: dict[str, dict[str, list[str]]],
    ) -> None:
        self.conn, self.spec, self.seed, self.checks = conn, spec, seed, checks

    def insert(self, table: str, cols: list[str], rows: list[tuple], redraw: Redraw) -> None:
        """Insert ``rows`` (fixed rows are written back into the list)."""
        if not deferred_checks(self.spec, table):
            self._bulk(table, cols, rows, redraw)
            return
        self.conn.execute("PRAGMA ignore_check_constraints = ON")
        try:
            self._bulk(table, cols, rows, redraw)
            self._enforce(table, cols, rows, redraw)
        finally:
            self.conn.execute("PRAGMA ignore_check_constraints = OFF")

    def _bulk(self, table: str, cols: list[str], rows: list[tuple], redraw: Redraw) -> None:
        names = ", ".join(f'"{c}"' for c in cols)
        sql = f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(cols))})'
        cur = self.conn.cursor()
        at = [0]

        def feed(start: int):
            for j in range(start, len(rows)):
                at[0] = j
                yield rows[j]

        start = 0
        while start < len(rows):
            try:
                cur.executemany(sql, feed(start))
                break
            except sqlite3.IntegrityError as exc:
                j = at[0]
                rows[j] = self._fix_row(table, cols, rows[j], sql, exc, redraw)
                start = j + 1

    def _fix_row(
        self, table: str, cols: list[str], row: tuple, sql: str, exc: Exception, redraw: Redraw
    ) -> tuple:
        rng = sub_rng(self.seed, table, "retry", row[0])
        entity = self.spec.entities[table]
        for _ in range(TRIES):
            blamed = culprits(self.spec, table, str(exc), self.checks) or [
                c for c, col in entity.columns.items() if not col.primary_key and not col.unique
            ]
            fresh = list(row)
            for c in blamed:
                fresh[cols.index(c)] = redraw(c, rng)
            row = tuple(fresh)
            try:
                self.conn.execute(sql, row)
                return row
            except sqlite3.IntegrityError as e:
                exc = e
        blamed = culprits(self.spec, table, str(exc), self.checks) or ["?"]
        raise SeedError(f"{table}.{blamed[0]}: {exc} after {TRIES} redraws (row {list(row)})")

    def _enforce(self, table: str, cols: list[str], rows: list[tuple], redraw: Redraw) -> None:
        """Verify the CHECKs that do not wait for a fill; redraw the rows that fail them."""
        later = {c[0] for c in deferred_checks(self.spec, table)}
        now = [c for c in table_checks(self.spec, table) if c[0] not in later]
        rowids = [r[0] for r in self.conn.execute(f'SELECT rowid FROM "{table}" ORDER BY rowid')]
        index = {rowid: i for i, rowid in enumerate(rowids)}  # rowid -> position in rows
        rng = sub_rng(self.seed, table, "checks")
        for _ in range(TRIES):
            bad: dict[int, dict[str, None]] = {}
            first: tuple[str, str, list[str]] | None = None
            for check in now:
                for (rowid,) in self.conn.execute(
                    f'SELECT rowid FROM "{table}" WHERE NOT ({check[1]})'
                ):
                    bad.setdefault(rowid, {}).update(dict.fromkeys(check[2]))
                    first = first or check
            if not bad:
                return
            for rowid in sorted(bad):
                fresh = list(rows[index[rowid]])
                for c in bad[rowid]:
                    fresh[cols.index(c)] = redraw(c, rng)
                sets = ", ".join(f'"{c}" = ?' for c in bad[rowid])
                args = [fresh[cols.index(c)] for c in bad[rowid]]
                try:
                    self.conn.execute(
                        f'UPDATE "{table}" SET {sets} WHERE rowid = ?', (*args, rowid)
                    )
                    rows[index[rowid]] = tuple(fresh)
                except sqlite3.IntegrityError:  # a unique clash: redrawn next round
                    pass
        assert first is not None
        raise SeedError(
            f"{table}.{first[2][0]}: CHECK {first[0]} ({first[1]}) still fails after {TRIES} redraws"
        )
