"""Bounded samples of a table's rows: the sampler's value pools and strata, in memory and time
that do not grow with the world.

A small table (at most ``SAMPLE`` rows) is read whole, exactly as a full read would. A larger
one is read at ``SAMPLE`` rowids spread evenly over its rowid range (one indexed probe each:
O(SAMPLE log n), not the whole table), plus up to ``RARE`` rows of every enum or boolean
value of its own columns that the spread missed: a rare kind of row (a closed account
among a million open ones) stays reachable, as it is in a small world. A sample of a fixed
size drawn evenly from a large table looks like a small world's table, so the cases, and
the verdicts, do not depend on the world's size. No randomness: rowids in order.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from engine.db import q
from engine.spec.models import DomainSpec

SAMPLE = 1024  # rows read from a large table (a small one is read whole)
RARE = 8  # rows kept of each enum/boolean value the spread missed
Pool = list[tuple[int, Any]]  # (rowid, value), rowid order
Edge = tuple[str, str, str, str]  # child table, child column, parent table, parent column


def flag_columns(spec: DomainSpec, table: str) -> list[str]:
    """The enum and boolean columns of ``table``: what a row's kind is made of."""
    cols = spec.entities[table].columns
    return [n for n, c in cols.items() if c.type in ("enum", "boolean")]


class RowSample:
    """Pools, strata and value look-ups of one state of a session's database (read on first
    use, kept until ``clear``); the rare rows found are kept for the world's lifetime."""

    def __init__(self, conn: sqlite3.Connection, spec: DomainSpec, edges: list[Edge]) -> None:
        self.conn, self.spec, self.edges = conn, spec, edges
        self.pools: dict[tuple[str, str], Pool] = {}
        self.strata_: dict[tuple[str, str], list[Pool]] = {}
        self.rowids_: dict[str, str | None] = {}  # table -> JSON list of sampled rowids
        self.highest: dict[tuple[str, str], Any] = {}
        self.rare: dict[str, list[int]] = {}  # shared by every state: see ``clear``
        self.leading: dict[str, set[str]] = {}  # table -> columns an index starts with

    def clear(self, tables: Any = None) -> None:
        """Forget what was read of ``tables`` (all when None) after the state changed."""
        for cache in (self.pools, self.strata_, self.highest):
            for key in [k for k in cache if tables is None or k[0] in tables]:
                del cache[key]
        for table in [t for t in self.rowids_ if tables is None or t in tables]:
            del self.rowids_[table]

    def fresh(self) -> RowSample:
        """An empty sample of another state of the same database (rare rows shared)."""
        other = RowSample(self.conn, self.spec, self.edges)
        other.rare, other.leading = self.rare, self.leading
        return other

    # ---- which rows ----------------------------------------------------------------------
    def rowids(self, table: str) -> str | None:
        """The sampled rowids of ``table`` as a JSON list (a bind), or None: read every row."""
        if table not in self.rowids_:
            t = q(table)
            n = self.conn.execute(
                f"SELECT COUNT(*) FROM (SELECT 1 FROM {t} LIMIT {SAMPLE + 1})"
            ).fetchone()[0]
            if n <= SAMPLE:
                self.rowids_[table] = None
                return None
            # two queries: SQLite reads MIN and MAX of the rowid from the b-tree's ends only
            # when each is alone (together they scan the table)
            lo = self.conn.execute(f"SELECT MIN(rowid) FROM {t}").fetchone()[0]
            hi = self.conn.execute(f"SELECT MAX(rowid) FROM {t}").fetchone()[0]
            probe = f"SELECT rowid FROM {t} WHERE rowid >= ? ORDER BY rowid LIMIT 1"
            got: set[int] = set()
            for i in range(SAMPLE):
                row = self.conn.execute(probe, (lo + (hi - lo) * i // SAMPLE,)).fetchone()
                if row:
                    got.add(row[0])
            if table not in self.rare:
                self.rare[table] = self._rare(table, sorted(got))
            self.rowids_[table] = json.dumps(sorted(got | set(self.rare[table])))
        return self.rowids_[table]

    def _rare(self, table: str, spread: list[int]) -> list[int]:
        """Up to ``RARE`` rows of each declared enum/boolean value the spread holds none of."""
        out: list[int] = []
        t, ids = q(table), json.dumps(spread)
        for cname in flag_columns(self.spec, table):
            col = self.spec.entities[table].columns[cname]
            declared = list(col.values or []) if col.type == "enum" else [0, 1]
            sql = f"SELECT DISTINCT {q(cname)} FROM {t} WHERE rowid IN (SELECT value FROM json_each(?))"
            seen = {r[0] for r in self.conn.execute(sql, (ids,))}
            for v in declared:
                if v in seen:
                    continue
                sql = f"SELECT rowid FROM {t} WHERE {q(cname)} = ? ORDER BY rowid LIMIT {RARE}"
                out += [r[0] for r in self.conn.execute(sql, (v,))]
        return out

    def _where(self, table: str, alias: str = "") -> tuple[str, list[Any]]:
        ids = self.rowids(table)
        if ids is None:
            return "", []
        return f" AND {alias}rowid IN (SELECT value FROM json_each(?))", [ids]

    # ---- what the sampler reads -------------------------------------------------------------
    def pool(self, table: str, col: str) -> Pool:
        """(rowid, value) of the sampled rows where ``col`` is set."""
        key = (table, col)
        if key not in self.pools:
            cond, binds = self._where(table)
            sql = f"SELECT rowid, {q(col)} FROM {q(table)} WHERE {q(col)} IS NOT NULL{cond} ORDER BY rowid"
            self.pools[key] = self.conn.execute(sql, binds).fetchall()
        return self.pools[key]

    def strata(self, table: str, col: str) -> list[Pool]:
        """The pool of ``table.col`` in groups, one per value of each enum/boolean column of
        the row and of the rows it references (the cards of closed accounts are a group)."""
        key = (table, col)
        if key not in self.strata_:
            sel, joins = [f"t.{q(n)}" for n in flag_columns(self.spec, table)], []
            for i, (_, cc, p, pc) in enumerate(e for e in self.edges if e[0] == table):
                if flag_columns(self.spec, p):
                    joins.append(f"LEFT JOIN {q(p)} p{i} ON p{i}.{q(pc)} = t.{q(cc)}")
                    sel += [f"p{i}.{q(n)}" for n in flag_columns(self.spec, p)]
            cond, binds = self._where(table, "t.")
            sql = (
                f"SELECT t.rowid, t.{q(col)}, {', '.join(sel) or 'NULL'} FROM {q(table)} t "
                f"{' '.join(joins)} WHERE t.{q(col)} IS NOT NULL{cond} ORDER BY t.rowid"
            )
            groups: dict[tuple, Pool] = {}
            for row in self.conn.execute(sql, binds):  # one group per (column, value)
                for i, v in enumerate(row[2:]):
                    groups.setdefault((i, v), []).append((row[0], row[1]))
            self.strata_[key] = list(groups.values())
        return self.strata_[key]

    def firsts(self, table: str, col: str, limit: int = 6) -> list[int]:
        """The first row of each value of ``col`` (the first ``limit`` of them, rowid order)."""
        cond, binds = self._where(table)
        sql = f"SELECT MIN(rowid) FROM {q(table)} WHERE 1{cond} GROUP BY {q(col)} ORDER BY 1 LIMIT {limit}"
        return [r[0] for r in self.conn.execute(sql, binds)]

    def indexed(self, table: str, col: str) -> bool:
        """Whether a look-up by ``col`` is a b-tree search (an index starts with it)."""
        if table not in self.leading:
            lead = set(self.spec.entities[table].primary_key[:1])
            for idx in self.conn.execute("SELECT name FROM pragma_index_list(?)", (table,)):
                first = self.conn.execute(
                    "SELECT name FROM pragma_index_info(?) WHERE seqno = 0", (idx[0],)
                ).fetchone()
                lead |= {first[0]} if first and first[0] else set()
            self.leading[table] = lead
        return col in self.leading[table]

    def restrict(self, table: str, col: str, alias: str = "") -> tuple[str, list[Any]]:
        """A condition (`` AND ...``) and its binds keeping a look-up by ``col`` off a full
        scan: none when ``col`` is indexed or the table small, else the sampled rows."""
        if self.indexed(table, col):
            return "", []
        return self._where(table, alias)

    def rowid_of(self, table: str, col: str, value: Any) -> int | None:
        """A row holding ``value`` in ``col`` (among the sampled rows when ``col`` has no
        index and the table is large: the values drawn come from those)."""
        cond, binds = self.restrict(table, col)
        sql = f"SELECT rowid FROM {q(table)} WHERE {q(col)} = ?{cond} LIMIT 1"
        row = self.conn.execute(sql, [value, *binds]).fetchone()
        return None if row is None else row[0]

    def complete(self, table: str) -> bool:
        """Whether the pools of ``table`` hold every row (a small table)."""
        return self.rowids(table) is None

    def holds(self, table: str, col: str, value: Any) -> bool:
        """Whether some row of the whole table has ``value`` in ``col`` (an indexed look-up)."""
        sql = f"SELECT 1 FROM {q(table)} WHERE {q(col)} = ? LIMIT 1"
        return self.conn.execute(sql, (value,)).fetchone() is not None

    def max_int(self, table: str, col: str) -> int:
        """The largest integer in ``col`` over the whole table (0 when none)."""
        key = (table, col)
        if key not in self.highest:
            c, t = q(col), q(table)
            top = self.conn.execute(  # the numbers' range of the column's index
                f"SELECT MAX({c}) FROM {t} WHERE {c} BETWEEN ? AND ?", (-(2**63), 2**63 - 1)
            ).fetchone()[0]
            if top is not None and type(top) is not int:  # a real above every integer: scan
                sql = f"SELECT MAX({c}) FROM {t} WHERE typeof({c}) = 'integer'"
                top = self.conn.execute(sql).fetchone()[0]
            self.highest[key] = top or 0
        return self.highest[key]
