"""Derived values: every ``FakerHint.sql`` fill as one UPDATE, in dependency order.

A fill of ``t.c`` runs as ``UPDATE t SET c = (sql)`` after the fills of exactly the
(table, column) pairs its SQL reads (orders.total after order_items.unit_price), resolved
as SQLite resolves them. Consecutive independent fills of one table share one UPDATE;
CHECKs are off while filling and verified after (one scan per table); tables whose fills
could pass through a state a UNIQUE rejects are filled in a TEMP copy; a natural key is
indexed while later fills read its table (dropped afterwards).
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from functools import lru_cache

from sqlglot import exp

from engine.spec.models import DomainSpec
from engine.spec.sql import (
    ROWID_NAMES,
    column_map,
    columns_used,
    parse_one_statement,
    sources,
    tables_read,
)
from synth.seed.checks import culprits, verify_checks
from synth.seed.values import SeedError

Fill = tuple[str, str, str, frozenset[str]]  # (table, column, UPDATE, tables the SQL reads)


def _fill_reads(
    spec: DomainSpec, table: str, column: str, sql: str
) -> tuple[frozenset[str], frozenset[tuple[str | None, str]]]:
    """Tables (in FROMs) and (table, column) pairs a fill reads, resolved as SQLite runs it: in
    ``UPDATE table SET column = (sql)``, so ``table.col`` and bare names resolve to the row.

    Table None: a name that does not resolve (kept, to be safe). ``t.*`` and ``*`` read
    every column of their tables (as ``(t, "*")``).
    """
    schema = tuple((t, tuple(cols)) for t, cols in column_map(spec).items())
    return _reads_cached(table, column, sql, schema)


@lru_cache(maxsize=4096)
def _reads_cached(
    table: str, column: str, sql: str, schema_key: tuple[tuple[str, tuple[str, ...]], ...]
) -> tuple[frozenset[str], frozenset[tuple[str | None, str]]]:
    stmt = f'UPDATE "{table}" SET "{column}" = ({sql})'
    try:
        tree = parse_one_statement(stmt)
    except ValueError as exc:
        raise SeedError(f"{table}.{column}: sql fill does not parse: {exc}") from exc
    schema = dict(schema_key)
    tables = tables_read(tree)
    cols = {(t, c) for t, c in columns_used(tree, schema) if c.lower() not in ROWID_NAMES}
    for star in tree.find_all(exp.Star):  # a projected * (not COUNT(*), not EXISTS (SELECT *))
        col = star.parent if isinstance(star.parent, exp.Column) else None
        query = (col if col is not None else star).parent
        if not isinstance(query, exp.Select) or isinstance(query.parent, exp.Exists):
            continue
        srcs = sources(query)
        named = [srcs.get(col.table)] if col is not None and col.table else list(srcs.values())
        for src in named:
            if isinstance(src, str):
                cols.add((src, "*"))
            elif isinstance(src, exp.Expression):
                cols |= {(t.name, "*") for t in src.find_all(exp.Table)}
    return frozenset(tables), frozenset(cols)


def _fills(spec: DomainSpec) -> list[tuple[str, str, str]]:
    return [
        (table, cname, col.faker.sql)
        for table, entity in spec.entities.items()
        for cname, col in entity.columns.items()
        if col.faker is not None and col.faker.sql
    ]


def fill_dependencies(spec: DomainSpec) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(table, column) of each fill -> the fills it waits for: those of exactly the columns
    its SQL reads, never its own (spec order)."""
    fills = _fills(spec)
    keys = [(t, c) for t, c, _ in fills]
    deps: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for t, c, sql in fills:
        tables, cols = _fill_reads(spec, t, c, sql)
        deps[(t, c)] = [
            (u, d)
            for u, d in keys
            if (u, d) != (t, c)
            and ((u, d) in cols or (u, "*") in cols or (u in tables | {t} and (None, d) in cols))
        ]
    return deps


def fill_plan(spec: DomainSpec) -> list[Fill]:
    """Every ``sql`` fill as an UPDATE, topologically ordered (spec order breaks ties).

    A fill of ``t.c`` runs after the fills of the columns it reads (``fill_dependencies``),
    not its own (which holds a placeholder until then); a cycle is a ``SeedError``.
    """
    fills = _fills(spec)
    deps = fill_dependencies(spec)
    done: list[tuple[str, str]] = []
    finished: set[tuple[str, str]] = set()
    pending = [(t, c) for t, c, _ in fills]
    while pending:
        ready = next((k for k in pending if all(d in finished for d in deps[k])), None)
        if ready is None:
            names = " -> ".join(f"{t}.{c}" for t, c in _cycle(pending, deps))
            raise SeedError(f"sql fills depend on each other in a cycle: {names}")
        done.append(ready)
        finished.add(ready)
        pending.remove(ready)
    by_key = {(t, c): sql for t, c, sql in fills}
    plan = []
    for t, c in done:
        col = spec.entities[t].columns[c]
        sql = by_key[(t, c)]
        expr = f"ROUND(({sql}), {col.scale})" if col.type == "decimal" else f"({sql})"
        tables = frozenset(_fill_reads(spec, t, c, sql)[0])
        plan.append((t, c, f'UPDATE "{t}" SET "{c}" = {expr}', tables))
    return plan


def _cycle(
    pending: list[tuple[str, str]], deps: dict[tuple[str, str], list[tuple[str, str]]]
) -> list[tuple[str, str]]:
    """One cycle among the pending fills, closed (each waits for the next)."""
    path: list[tuple[str, str]] = []
    node = pending[0]
    while node not in path:
        path.append(node)
        node = next(d for d in deps[node] if d in pending)
    return [*path[path.index(node) :], node]


def _needs_stage(spec: DomainSpec, table: str, filled: set[str]) -> bool:
    """Whether one-column-at-a-time UPDATEs could pass through a state a UNIQUE rejects: a
    filled column in a unique key (CHECKs are off while filling, so they do not count)."""
    entity = spec.entities[table]
    groups = [[c] for c, col in entity.columns.items() if col.unique] + [
        list(g) for g in entity.unique
    ]
    groups.append(entity.primary_key)
    return any(set(g) & filled for g in groups)


def _key_index_points(spec: DomainSpec, plan: list[Fill]) -> dict[int, list[str]]:
    """Before which fill to index which table's natural key: once the key's own fills ran,
    just before the first later fill that reads the table (lookups by key, e.g. the dated
    instance of a flight, then seek instead of scanning)."""
    out: dict[int, list[str]] = defaultdict(list)
    for table, entity in spec.entities.items():
        key = entity.natural_key or []
        if len(key) < 2 or key == entity.primary_key or key in entity.unique:
            continue  # a one-column key has its FK / unique index already
        last = max((i for i, f in enumerate(plan) if f[0] == table and f[1] in key), default=-1)
        first = next((i for i in range(last + 1, len(plan)) if table in plan[i][3]), None)
        if first is not None:
            out[first].append(table)
    return out


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


def _batches(spec: DomainSpec, plan: list[Fill]) -> list[list[int]]:
    """Runs of consecutive fills of one table, none reading another of the run: each run is
    one UPDATE setting them all (every UPDATE rewrites every row; fewer is faster)."""
    deps = fill_dependencies(spec)
    out: list[list[int]] = []
    for i, (table, cname, _, _) in enumerate(plan):
        last = out[-1] if out else []
        mine = set(deps.get((table, cname), []))
        if last and plan[last[0]][0] == table and not mine & {plan[j][:2] for j in last}:
            last.append(i)
        else:
            out.append([i])
    return out


def _run_batch(conn: sqlite3.Connection, fills: list[Fill]) -> None:
    """One UPDATE for the fills of one table; a failure is re-run fill by fill to name it."""
    table = fills[0][0]
    head = f'UPDATE "{table}" SET '
    sets = ", ".join(stmt[len(head) :] for _, _, stmt, _ in fills)
    try:
        conn.execute(head + sets)
        return
    except sqlite3.Error as exc:
        first = exc
    for _, cname, stmt, _ in fills:
        try:
            conn.execute(stmt)
        except sqlite3.Error as exc:
            raise SeedError(f"{table}.{cname}: sql fill fails: {exc}") from exc
    raise SeedError(f"{table}.{fills[0][1]}: sql fill fails: {first}") from first


def run_fills(conn: sqlite3.Connection, spec: DomainSpec, plan: list[Fill]) -> None:
    """Apply the fills; a fill that breaks a CHECK / NOT NULL is an error naming its column.

    Tables whose fills could pass through a state a UNIQUE rejects are filled in a TEMP copy
    and written back at once (needs foreign keys off, which ``seed_database`` ensures).
    CHECKs are off while filling and verified afterwards (``verify_checks``); natural keys
    are indexed while later fills read their table.
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
    checks_off = conn.execute("PRAGMA ignore_check_constraints").fetchone()[0]
    conn.execute("PRAGMA ignore_check_constraints = ON")
    index_at = _key_index_points(spec, plan)
    done: list[str] = []
    indexed: list[str] = []  # main tables given a key index (staged copies drop theirs)
    try:
        for t in staged:
            _stage(conn, spec, t)
            done.append(t)
        for batch in _batches(spec, plan):
            for t in (t for i in batch for t in index_at.get(i, [])):
                schema = "temp" if t in done else "main"
                cols = ", ".join(f'"{c}"' for c in spec.entities[t].natural_key)
                conn.execute(f'CREATE INDEX {schema}."_seed_key_{t}" ON "{t}" ({cols})')
                if schema == "main":
                    indexed.append(t)
            _run_batch(conn, [plan[i] for i in batch])
        while done:
            _unstage(conn, spec, done.pop(0))
    finally:
        for t in done:
            conn.execute(f'DROP TABLE IF EXISTS temp."{t}"')
        for t in indexed:
            conn.execute(f'DROP INDEX IF EXISTS main."_seed_key_{t}"')
        conn.execute(f"PRAGMA ignore_check_constraints = {int(checks_off)}")
    verify_checks(conn, spec, filled)
