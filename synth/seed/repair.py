"""After the fills: invariants that still fail are repaired by deleting the violating rows
with their dependants (whole aggregates), boundedly, and re-running the fills that read
what was deleted; anything that cannot be repaired raises ``SeedError`` naming the
invariant and a violating row.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict

import sqlglot
from sqlglot import exp

from engine.spec.models import DomainSpec
from synth.seed.checks import columns_in, culprits
from synth.seed.fills import Fill, fill_dependencies, fill_plan, run_fills
from synth.seed.values import SeedError

__all__ = [
    "Fill",
    "columns_in",
    "culprits",
    "delete_cascade",
    "fill_dependencies",
    "fill_plan",
    "repair_invariants",
    "run_fills",
]

MAX_REPAIR_SHARE = 0.5  # deleting more than this share of a table is not a repair


def affected(plan: list[Fill], touched: set[str]) -> list[Fill]:
    """The fills to re-run after rows of ``touched`` tables were deleted (transitively)."""
    stale = set(touched)
    out = []
    for fill in plan:
        if fill[3] & stale:
            out.append(fill)
            stale.add(fill[0])
    return out


def _children(spec: DomainSpec, table: str) -> list[tuple[str, str, str, bool]]:
    """(child table, child column, parent column, set null?) of FKs into ``table``."""
    out = []
    for ctable, entity in spec.entities.items():
        for cname, col in entity.columns.items():
            if col.references and col.references.split(".")[0] == table:
                set_null = col.on_delete == "set null" and col.nullable
                out.append((ctable, cname, col.references.split(".")[1], set_null))
    return out


def delete_cascade(
    conn: sqlite3.Connection,
    spec: DomainSpec,
    table: str,
    rowids: list[int],
    touched: set[str] | None = None,
) -> int:
    """Delete rows and every row that references them, whole aggregates at a time.

    A row found through a foreign key takes its whole with it (the reservation of a deleted
    flight's segment goes, not just the segment). Returns the number of rows deleted.
    """
    doomed: dict[str, set[int]] = {}
    todo = [(table, rowids)]
    while todo:
        t, ids = todo.pop()
        new = sorted(set(ids) - doomed.setdefault(t, set()))
        if not new:
            continue
        doomed[t].update(new)
        sub = f'SELECT "{{pcol}}" FROM "{t}" WHERE rowid IN (SELECT value FROM json_each(?))'
        for ctable, ccol, pcol, set_null in _children(spec, t):
            if set_null:
                continue
            kids = [
                r[0]
                for r in conn.execute(
                    f'SELECT rowid FROM "{ctable}" WHERE "{ccol}" IN ({sub.format(pcol=pcol)})',
                    (json.dumps(new),),
                )
            ]
            if kids:
                todo.append((ctable, kids))
                todo.append(_whole(conn, spec, ctable, kids))
    deleted = 0
    for t, ids in doomed.items():  # children that only lose their link
        args = (json.dumps(sorted(ids)),)
        for ctable, ccol, pcol, set_null in _children(spec, t):
            if set_null:
                sub = f'SELECT "{pcol}" FROM "{t}" WHERE rowid IN (SELECT value FROM json_each(?))'
                conn.execute(
                    f'UPDATE "{ctable}" SET "{ccol}" = NULL WHERE "{ccol}" IN ({sub})', args
                )
                if touched is not None:
                    touched.add(ctable)
    for t, ids in doomed.items():
        cur = conn.execute(
            f'DELETE FROM "{t}" WHERE rowid IN (SELECT value FROM json_each(?))',
            (json.dumps(sorted(ids)),),
        )
        deleted += cur.rowcount
        if touched is not None and ids:
            touched.add(t)
    return deleted


def _whole(
    conn: sqlite3.Connection, spec: DomainSpec, table: str, rowids: list[int]
) -> tuple[str, list[int]]:
    """Climb from parts to their whole (an FK with on_delete cascade): a repair drops whole
    aggregates (the order with its items), never leaves an order without items."""
    seen = {table}
    while True:
        entity = spec.entities[table]
        up = next(
            (
                (n, c.references.split("."))
                for n, c in entity.columns.items()
                if c.references and c.on_delete == "cascade" and not c.nullable
            ),
            None,
        )
        if up is None or up[1][0] in seen:
            return table, rowids
        fk, (parent, pcol) = up
        ids = json.dumps(rowids)
        rowids = [
            r[0]
            for r in conn.execute(
                f'SELECT rowid FROM "{parent}" WHERE "{pcol}" IN (SELECT "{fk}" FROM "{table}" '
                "WHERE rowid IN (SELECT value FROM json_each(?))) ORDER BY rowid",
                (ids,),
            )
        ]
        table = parent
        seen.add(table)


def _key_table(spec: DomainSpec, sql: str, column: str) -> str | None:
    """The table whose one-column primary key is ``column`` (preferring tables the SQL reads)."""
    candidates = [t for t, e in spec.entities.items() if e.primary_key == [column]]
    try:
        read = [t.name for t in sqlglot.parse_one(sql, read="sqlite").find_all(exp.Table)]
    except Exception:  # noqa: BLE001
        read = []
    for t in read:
        if t in candidates:
            return t
    return candidates[0] if candidates else None


def repair_invariants(
    conn: sqlite3.Connection, spec: DomainSpec, plan: list[Fill]
) -> dict[str, int]:
    """Delete rows that violate invariants (with dependants) until all hold; rows per invariant."""
    repaired: dict[str, int] = defaultdict(int)
    for _ in range(2 * len(spec.invariants) + 2):
        failing = False
        touched: set[str] = set()
        for inv in spec.invariants:
            try:
                cur = conn.execute(inv.violations)
                bad = cur.fetchall()
            except sqlite3.Error as exc:
                raise SeedError(f"invariant {inv.name}: query fails: {exc}") from exc
            if not bad:
                continue
            failing = True
            column = cur.description[0][0]
            table = _key_table(spec, inv.violations, column)
            if table is None:
                raise SeedError(
                    f"invariant {inv.name} violated by {list(bad[0])} and its first column "
                    f"{column!r} is no table's primary key to repair by"
                )
            keys = json.dumps(sorted({r[0] for r in bad}, key=repr))
            rowids = [
                r[0]
                for r in conn.execute(
                    f'SELECT rowid FROM "{table}" WHERE "{column}" IN (SELECT value FROM json_each(?))',
                    (keys,),
                )
            ]
            table, rowids = _whole(conn, spec, table, rowids)
            total = conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
            if not rowids or len(rowids) > MAX_REPAIR_SHARE * total:
                raise SeedError(
                    f"invariant {inv.name} violated by {len(bad)} rows of {table} "
                    f"(of {total}), first {list(bad[0])}: seeding does not satisfy it"
                )
            repaired[inv.name] += delete_cascade(conn, spec, table, sorted(rowids), touched)
        if not failing:
            return dict(repaired)
        run_fills(conn, spec, affected(plan, touched))
    names = [inv.name for inv in spec.invariants if conn.execute(inv.violations).fetchone()]
    raise SeedError(f"invariant {names[0] if names else '?'} still violated after repairs")
