"""After the rows: derived values (``FakerHint.sql`` fills) and invariant repair.

Fills run as one ``UPDATE t SET c = (sql)`` each, ordered so a fill that reads table U runs
after U's own fills (orders.total after order_items.unit_price). Invariants that still fail
are repaired by deleting the violating rows with their dependants, boundedly; anything that
cannot be repaired raises ``SeedError`` naming the invariant and a violating row.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict

import sqlglot
from sqlglot import exp

from engine.spec import DomainSpec
from synth.values import SeedError

Fill = tuple[str, str, str, frozenset[str]]  # (table, column, UPDATE, tables the SQL reads)
MAX_REPAIR_SHARE = 0.5  # deleting more than this share of a table is not a repair


def _reads(sql: str) -> tuple[set[str], set[str]]:
    """Tables and column names a fill's SQL reads."""
    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except Exception as exc:  # noqa: BLE001
        raise SeedError(f"sql fill does not parse: {sql!r}: {exc}") from exc
    tables = {t.name for t in tree.find_all(exp.Table)}
    columns = {c.name for c in tree.find_all(exp.Column)}
    return tables, columns


def columns_in(sql: str) -> set[str]:
    """Column names an SQL expression mentions (empty if it does not parse)."""
    try:
        return {c.name for c in sqlglot.parse_one(sql, read="sqlite").find_all(exp.Column)}
    except Exception:  # noqa: BLE001
        return set()


def constraint_columns(spec: DomainSpec) -> dict[str, dict[str, list[str]]]:
    """Per table: CHECK constraint name (and its raw text) -> the columns it reads."""
    out: dict[str, dict[str, list[str]]] = {}
    for table, entity in spec.entities.items():
        m: dict[str, list[str]] = {}
        for cname, col in entity.columns.items():
            if col.check:
                m[f"ck_{table}_{cname}"] = m[col.check] = [cname]
            if col.type == "enum":
                m[f"ck_{table}_{cname}_enum"] = [cname]
        for chk in entity.checks:
            names = columns_in(chk.check)
            m[f"ck_{table}_{chk.name}"] = m[chk.check] = [c for c in entity.columns if c in names]
        out[table] = m
    return out


def culprits(
    spec: DomainSpec,
    table: str,
    message: str,
    checks: dict[str, dict[str, list[str]]] | None = None,
) -> list[str]:
    """The columns an IntegrityError message blames (CHECK / UNIQUE / NOT NULL)."""
    head, _, tail = message.partition(" constraint failed: ")
    if head in ("UNIQUE", "NOT NULL"):
        return [p.split(".", 1)[-1] for p in tail.split(", ") if p.startswith(f"{table}.")]
    if head == "CHECK":
        return list((checks or constraint_columns(spec))[table].get(tail, []))
    return []


def fill_plan(spec: DomainSpec) -> list[Fill]:
    """Every ``sql`` fill as an UPDATE, topologically ordered (spec order breaks ties).

    A fill depends on the fills of the columns it reads (by name) in the tables it reads.
    """
    fills: list[tuple[str, str, str]] = []
    for table, entity in spec.entities.items():
        for cname, col in entity.columns.items():
            if col.faker is not None and col.faker.sql:
                fills.append((table, cname, col.faker.sql))
    deps: dict[tuple[str, str], set[tuple[str, str]]] = {}
    reads: dict[tuple[str, str], set[str]] = {}
    for t, c, sql in fills:
        tables, columns = _reads(sql)
        reads[(t, c)] = tables
        deps[(t, c)] = {
            (u, d) for u, d, _ in fills if (u, d) != (t, c) and u in tables | {t} and d in columns
        }
    done: list[tuple[str, str]] = []
    pending = [(t, c) for t, c, _ in fills]
    while pending:
        ready = [k for k in pending if deps[k] <= set(done)]
        if not ready:
            names = ", ".join(f"{t}.{c}" for t, c in pending)
            raise SeedError(f"sql fills depend on each other in a cycle: {names}")
        done.append(ready[0])
        pending.remove(ready[0])
    by_key = {(t, c): sql for t, c, sql in fills}
    plan = []
    for t, c in done:
        col = spec.entities[t].columns[c]
        expr = f"({by_key[(t, c)]})"
        if col.type == "decimal":
            expr = f"ROUND({expr}, {col.scale})"
        plan.append((t, c, f'UPDATE "{t}" SET "{c}" = {expr}', frozenset(reads[(t, c)])))
    return plan


def _needs_stage(spec: DomainSpec, table: str, filled: set[str]) -> bool:
    """Whether one-column-at-a-time UPDATEs could pass through a state a constraint rejects:
    a filled column in a unique key, or a CHECK reading a filled column and another one."""
    entity = spec.entities[table]
    groups = [[c] for c, col in entity.columns.items() if col.unique] + [
        list(g) for g in entity.unique
    ]
    groups.append(entity.primary_key)
    if any(set(g) & filled for g in groups):
        return True
    checks = [col.check for col in entity.columns.values() if col.check]
    checks += [chk.check for chk in entity.checks]
    for text in checks:
        cols = columns_in(text) & set(entity.columns)
        if len(cols) > 1 and cols & filled:
            return True
    return False


def _stage(conn: sqlite3.Connection, spec: DomainSpec, table: str) -> None:
    """A constraint-free TEMP copy that shadows ``table`` for unqualified names, indexed."""
    conn.execute(f'CREATE TEMP TABLE "{table}" AS SELECT * FROM main."{table}" ORDER BY rowid')
    entity = spec.entities[table]
    for cname, col in entity.columns.items():
        if col.primary_key or col.unique or col.references:
            conn.execute(f'CREATE INDEX temp."_seed_{table}_{cname}" ON "{table}" ("{cname}")')


def _unstage(conn: sqlite3.Connection, spec: DomainSpec, table: str) -> None:
    """Write the staged rows back; constraints judge the final values only."""
    names = ", ".join(f'"{c}"' for c in spec.entities[table].columns)
    try:
        conn.execute(f'DELETE FROM main."{table}"')
        conn.execute(
            f'INSERT INTO main."{table}" ({names}) SELECT {names} FROM temp."{table}" ORDER BY rowid'
        )
    except sqlite3.IntegrityError as exc:
        cols = culprits(spec, table, str(exc)) or ["?"]
        raise SeedError(f"{table}.{cols[0]}: sql fills leave {exc}") from exc
    finally:
        conn.execute(f'DROP TABLE temp."{table}"')


def run_fills(conn: sqlite3.Connection, spec: DomainSpec, plan: list[Fill]) -> None:
    """Apply the fills; a fill that breaks a CHECK / NOT NULL is an error naming its column.

    Tables whose fills could pass through a state a constraint rejects are filled in a TEMP
    copy and written back at once (needs foreign keys off, which ``seed_database`` ensures).
    """
    filled: dict[str, set[str]] = defaultdict(set)
    for t, c, _, _ in plan:
        filled[t].add(c)
    fk_on = conn.execute("PRAGMA foreign_keys").fetchone()[0]
    staged = (
        []
        if fk_on
        else [t for t in spec.entities if t in filled and _needs_stage(spec, t, filled[t])]
    )
    done: list[str] = []
    try:
        for t in staged:
            _stage(conn, spec, t)
            done.append(t)
        for table, cname, stmt, _ in plan:
            try:
                conn.execute(stmt)
            except sqlite3.Error as exc:
                raise SeedError(f"{table}.{cname}: sql fill fails: {exc}") from exc
        while done:
            _unstage(conn, spec, done.pop(0))
    finally:
        for t in done:
            conn.execute(f'DROP TABLE IF EXISTS temp."{t}"')


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
