"""Invariant checks at O(changed rows): scopes, the per-call key log, key-filtered queries.

A full check runs an invariant's ``violations`` query over whole tables: O(world) per
write call. Two things make it O(changed rows):

1. Column-precise dirtiness. The changelog triggers (``engine.runtime.changelog``) log, per call,
   which invariants a change can affect: an insert or delete in a table the invariant
   reads, or an UPDATE OF a column it reads (found with ``engine.spec.sql``; when unsure,
   all columns). An invariant nothing relevant touched does not run.
2. Scopes. ``Invariant.scope`` says, per table the query reads, where the invariant's key
   (its first output column) is found for a changed row: a column of the row
   (``accounts: account_id``; a list for several), a foreign key of another scoped table
   pointing at the row (``transactions: transfers.debit_transaction_id``: the keys of the
   transfers rows that reference it) or an explicit link (``other.col=mine``). A violation
   with key k can only appear or disappear when such a row changes (old or new image), so
   the check reads ``SELECT 1 FROM (<violations>) AS _v WHERE _v."<key>" = :k``. Scopes
   may be partial: a relevant change in an unscoped table runs the full check.

The triggers append ``(slot, value)`` rows to one runtime table, the *call log*: key values
of changed rows, or a marker for an unscoped table. The runtime reads and empties it after
the effects (inside the savepoint: it is empty in every state a session can observe), then
runs one statement, ``SELECT EXISTS (...), EXISTS (...)``, over the touched invariants;
only a violation costs a second query, for the message. Keys are bound values, so SQLite
pushes the filter down into the subquery (through UNION ALL arms, and for aggregates into
WHERE when it names a GROUP BY column): only the keys' rows are read. Up to four keys are
looked up one by one (an IN list first builds a temporary index), more as IN lists of a few
fixed sizes, so the statement cache keeps them.

Link lookups read the end state. That suffices because the linking table is scoped itself:
a row linked before the call but not after (or the reverse) changed and logged its own key;
for the same reason, with enforced foreign keys, a foreign-key link logs updates only. A
scoped check assumes the invariant held before the call: the runtime never commits a
violating call, and worlds are checked when they are built.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlglot import exp

from engine.db import q
from engine.runtime.keylog import LogLayout
from engine.spec.models import DomainSpec, Invariant
from engine.spec.scope import (  # noqa: F401
    Via,
    cascade_closure,
    link,
    read_columns,
    scope_columns,
    scoped_violations_sql,
)
from engine.spec.sql import output_names, parse_one_statement, tables_read, tables_written

KEY_CHUNK = 64
_UNROLL = 4  # up to this many keys, a combined check looks each key up on its own
_FULL_ABOVE = 2048  # more keys than this (a bulk write): one full check is cheaper
_BUCKETS = (1, 2, 4, 8, 16, 32, 64)
_KEY_BINDS = tuple(f"_k{i}" for i in range(KEY_CHUNK))

Fks = set[tuple[str, str]] | None  # (table, column) of FKs the database enforces; None: all


def _order(value: Any) -> tuple[str, Any]:
    return (type(value).__name__, value)


def _in_lists(values: list[Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    """``values`` as (list size, binds) chunks of the fixed IN-list sizes."""
    for start in range(0, len(values), KEY_CHUNK):
        chunk = values[start : start + KEY_CHUNK]
        n = next(b for b in _BUCKETS if b >= len(chunk))
        yield n, dict(zip(_KEY_BINDS[:n], chunk + [chunk[-1]] * (n - len(chunk)), strict=True))


def _marks(n: int) -> str:
    return ", ".join(f":{b}" for b in _KEY_BINDS[:n])


@dataclass(eq=False)
class Check:
    """One invariant as the runtime checks it.

    ``tables`` None (SQL not understood): always checked in full. Otherwise it runs when
    the log shows it dirty: ``marker`` logged (full check) or keys logged (scoped)."""

    index: int
    inv: Invariant
    sql: str  # the full query, tagged
    tables: frozenset[str] | None
    key: str | None = None  # first output column, when scoped
    select: bool = False  # a SELECT (else run on its own, as written: unvalidated SQL)
    marker: int | None = None
    direct: tuple[int, ...] = ()
    vias: tuple[tuple[int, str, str, tuple[str, ...]], ...] = ()  # slot, table, fk, keys
    _sql: dict[tuple[Any, ...], str] = field(default_factory=dict, repr=False)

    def scoped_sql(self, n: int) -> str:
        """The violations restricted to ``n`` bound keys ``:_k0 .. :_k{n-1}``."""
        sql = self._sql.get((n,))
        if sql is None:
            sql = self._sql[(n,)] = scoped_violations_sql(
                self.index, self.inv.violations, self.key or "", _marks(n), n
            )
        return sql

    def _lookup(self, conn: sqlite3.Connection, i: int, values: set[Any], keys: set[Any]) -> None:
        _, table, fk, cols = self.vias[i]
        for n, binds in _in_lists(sorted(values, key=_order)):
            sql = self._sql.get((i, n))
            if sql is None:
                sql = self._sql[(i, n)] = (
                    f"/*scaleenv:inv{self.index}:via{i}:{n}*/ SELECT {', '.join(map(q, cols))} "
                    f"FROM {q(table)} WHERE {q(fk)} IN ({_marks(n)})"
                )
            for row in conn.execute(sql, binds):
                keys.update(row)

    def keys(self, conn: sqlite3.Connection, logged: dict[int, set[Any]]) -> list[Any] | None:
        """The keys the call touched, sorted ([]: nothing relevant); None: check in full."""
        if self.tables is None or self.marker in logged:
            return None
        keys: set[Any] = set()
        for s in self.direct:
            got = logged.get(s)
            if got:
                keys |= got
        for i, via in enumerate(self.vias):
            got = logged.get(via[0])
            if got:
                self._lookup(conn, i, got, keys)
        keys.discard(None)
        if len(keys) > _FULL_ABOVE:
            return None
        return sorted(keys, key=_order) if len(keys) > 1 else list(keys)

    def exists_sql(self, n: int | None, j: int) -> str:
        """An EXISTS term of a combined check: in full (``n`` None) or on keys ``:_c{j}_*``."""
        body = self.inv.violations.rstrip().rstrip(";")
        if n is None:
            return f"EXISTS ({body}\n)"
        key, names = q(self.key or ""), _term_binds(j)[:n]
        if n <= _UNROLL:  # one lookup per key: an IN list builds a temporary index first
            arms = [f"SELECT 1 FROM ({body}\n) AS _v WHERE _v.{key} = :{b}" for b in names]
            return f"EXISTS ({' UNION ALL '.join(arms)})"
        marks = ", ".join(f":{b}" for b in names)
        return f"EXISTS (SELECT 1 FROM ({body}\n) AS _v WHERE _v.{key} IN ({marks}))"

    def violations(
        self, conn: sqlite3.Connection, logged: dict[int, set[Any]] | None, now: str, limit: int = 4
    ) -> tuple[list[str], list[tuple]] | None:
        """Up to ``limit`` violating rows and the column names; None when it holds.

        ``logged`` is the call log (``read_log``); None means: check in full."""
        keys = None if logged is None else self.keys(conn, logged)
        if keys is None:
            cur = conn.execute(self.sql, {"now": now})
            full = cur.fetchmany(limit)
            return ([d[0] for d in cur.description], full) if full else None
        rows: list[tuple] = []
        names: list[str] = []
        for n, binds in _in_lists(keys):
            binds["now"] = now
            cur = conn.execute(self.scoped_sql(n), binds)
            got = cur.fetchmany(limit - len(rows))
            if got:
                names = names or [d[0] for d in cur.description]
                rows += got
                if len(rows) >= limit:
                    break
        return (names, rows) if rows else None


@lru_cache(maxsize=256)
def _term_binds(j: int) -> tuple[str, ...]:
    return tuple(f"_c{j}_{i}" for i in range(KEY_CHUNK))


def first_violated(
    conn: sqlite3.Connection,
    checks: list[Check],
    logged: dict[int, set[Any]] | None,
    now: str,
    cache: dict[tuple, str],
) -> Check | None:
    """The first of ``checks`` the state violates (None: all hold), with one statement:
    ``SELECT EXISTS (...), EXISTS (...)`` over the checks the call log shows touched."""
    small: list[tuple[Check, list[Any] | None]] = []
    big: list[Check] = []  # run on their own: not a SELECT, or more keys than one IN list
    for chk in checks:
        keys = None if logged is None else chk.keys(conn, logged)
        if keys is None or keys:
            if chk.select and (keys is None or len(keys) <= KEY_CHUNK):
                small.append((chk, keys))
            else:
                big.append(chk)
    if not small and not big:
        return None
    binds: dict[str, Any] = {"now": now}
    shape: list[tuple[int, int | None]] = []
    for j, (chk, keys) in enumerate(small):
        if keys is None:
            shape.append((chk.index, None))
            continue
        m = len(keys)
        n = m if m <= _UNROLL else next(b for b in _BUCKETS if b >= m)
        shape.append((chk.index, n))
        names = _term_binds(j)
        binds.update(zip(names, keys, strict=False))
        for i in range(m, n):
            binds[names[i]] = keys[-1]
    key = tuple(shape)
    sql = cache.get(key)
    if sql is None:
        tag = ",".join(f"{i}:{n or 0}" for i, n in shape)
        terms_sql = ", ".join(
            c.exists_sql(n, j) for j, ((c, _), (_, n)) in enumerate(zip(small, shape, strict=True))
        )
        sql = cache[key] = f"/*scaleenv:invs:{tag}*/ SELECT {terms_sql}"
    row = conn.execute(sql, binds).fetchone() if small else ()
    hits = [c for (c, _), hit in zip(small, row, strict=True) if hit]
    hits += [c for c in big if c.violations(conn, logged, now, 1) is not None]
    return min(hits, key=lambda c: c.index) if hits else None


def plan_checks(spec: DomainSpec, fks: Fks = None) -> tuple[LogLayout, list[Check]]:
    """Every invariant as a ``Check``, and the call-log layout that drives them. ``fks``:
    the foreign keys the database enforces (None: all the spec declares)."""
    layout, checks = LogLayout(), []
    for i, inv in enumerate(spec.invariants):
        chk = Check(i, inv, f"/*scaleenv:inv{i}*/ " + inv.violations, None)
        checks.append(chk)
        try:
            expr = parse_one_statement(inv.violations)
            tables = frozenset(tables_read(expr) | tables_written(expr))
            names = output_names(expr)
            cols = read_columns(spec, expr, tables)
        except Exception:  # an unvalidated spec: check it in full after every write
            continue
        chk.tables = tables
        chk.select = isinstance(expr, exp.Query)
        scope = scope_columns(inv)
        plain = (
            names[0]
            if names and not expr.args.get("limit") and not expr.args.get("offset")
            else None
        )
        if plain and scope and _scope_ok(spec, scope, tables):
            chk.key = plain
            direct, vias = [], []
            for t, entries in scope.items():
                for e in entries:
                    via = link(spec, t, e) if "." in e else None
                    if via is None:
                        direct.append(layout.add(t, cols.get(t), e))
                        continue
                    keys = tuple(k for k in scope[via[0]] if "." not in k)
                    rows = not (via[3] and (fks is None or (via[0], via[1]) in fks))
                    slot = layout.add(t, cols.get(t), via[2], rows)
                    vias.append((slot, via[0], via[1], keys))
            chk.direct, chk.vias = tuple(direct), tuple(vias)
        unscoped = [t for t in sorted(cols) if chk.key is None or t not in scope]
        if unscoped:
            chk.marker = layout.slots
            for t in unscoped:
                layout.entries.setdefault(t, []).append((cols[t], chk.marker, None, True))
            layout.slots += 1
    return layout, checks


def _scope_ok(spec: DomainSpec, scope: dict[str, tuple[str, ...]], tables: frozenset[str]) -> bool:
    for t, entries in scope.items():
        entity = spec.entities.get(t)
        if entity is None or t not in tables or not entries:
            return False
        for e in entries:
            if "." in e:
                via = link(spec, t, e)
                if via is None or not any("." not in k for k in scope.get(via[0], ())):
                    return False
            elif e not in entity.columns:
                return False
    return True


def explain_scoped(conn: sqlite3.Connection, check: Check, n: int = 2) -> list[str]:
    """SQLite's query plan (detail lines) of a scoped check with ``n`` keys."""
    binds = {"now": None, **dict.fromkeys(_KEY_BINDS[:n])}
    return [r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + check.scoped_sql(n), binds)]
