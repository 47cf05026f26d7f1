"""Row-level differences between two database states, and how rows are matched across them.

``diff_states`` compares two whole connections (analysis, synthesizing gold diffs); the
evaluator compares change lists instead, which is O(changes) rather than O(world). Both
address rows by keys built here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from engine.db import q
from engine.reward.match import canonical
from engine.spec.models import DomainSpec, Entity
from engine.spec.task import RowChange


def match_key_columns(entity: Entity) -> list[str]:
    """Columns that identify a row across two runs from the same start state.

    The natural key when declared; else the primary key unless part of it is exempt
    (a generated id differs between runs); else every non-exempt column.
    """
    if entity.natural_key:
        return list(entity.natural_key)
    pk = entity.primary_key
    if pk and all(entity.columns[c].match_policy != "exempt" for c in pk):
        return pk
    cols = [n for n, c in entity.columns.items() if c.match_policy != "exempt"]
    return cols or list(entity.columns)


def row_key(entity: Entity, columns: list[str], row: dict[str, Any]) -> tuple[Any, ...]:
    """Canonical (hashable) key of ``row`` on ``columns``."""
    out = []
    for c in columns:
        col = entity.columns.get(c)
        v = row.get(c)
        if col is None:
            out.append(("str", None if v is None else str(v)))
        elif col.match_policy == "semantic" and v is not None:
            out.append(("text", " ".join(str(v).casefold().split())))
        else:
            out.append(canonical(col, v))
    return tuple(out)


def sort_token(value: Any) -> tuple[int, str, Any]:
    """A total order over mixed SQLite values (None first, numbers, then text)."""
    if value is None:
        return (0, "", 0)
    if isinstance(value, bool | int | float):
        return (1, "", float(value))
    return (2, type(value).__name__, str(value))


def label_key(table: str, key: dict[str, Any]) -> str:
    """``orders[#W0001]`` for a one-column key, ``t[a=1, b='x']`` otherwise."""
    if len(key) == 1:
        return f"{table}[{next(iter(key.values()))}]"
    return f"{table}[" + ", ".join(f"{k}={v!r}" for k, v in key.items()) + "]"


def _fetch(conn: sqlite3.Connection, table: str, cols: list[str]) -> list[tuple[Any, ...]]:
    sql = f"SELECT {', '.join(q(c) for c in cols)} FROM {q(table)}"
    return conn.execute(sql).fetchall()


def diff_table(
    spec: DomainSpec, table: str, conn_a: sqlite3.Connection, conn_b: sqlite3.Connection
) -> list[RowChange]:
    """Changes that turn ``table`` in ``conn_a`` into ``table`` in ``conn_b`` (by primary key;
    a table without one is compared as a multiset of whole rows)."""
    entity = spec.entities[table]
    cols = list(entity.columns)
    pk = entity.primary_key
    idx = [cols.index(c) for c in pk] if pk else list(range(len(cols)))
    rows_a = _fetch(conn_a, table, cols)
    rows_b = _fetch(conn_b, table, cols)
    if rows_a == rows_b:
        return []
    out: list[RowChange] = []

    def change(before: tuple | None, after: tuple | None) -> RowChange:
        ref = before if before is not None else after
        assert ref is not None
        return RowChange(
            table=table,
            key={cols[i]: ref[i] for i in idx},
            before=None if before is None else dict(zip(cols, before, strict=True)),
            after=None if after is None else dict(zip(cols, after, strict=True)),
        )

    if pk:
        map_a = {tuple(r[i] for i in idx): r for r in rows_a}
        map_b = {tuple(r[i] for i in idx): r for r in rows_b}
        for k, ra in map_a.items():
            rb = map_b.get(k)
            if rb is None or rb != ra:
                out.append(change(ra, rb))
        out.extend(change(None, rb) for k, rb in map_b.items() if k not in map_a)
    else:
        remaining: dict[tuple, int] = {}
        for r in rows_b:
            remaining[r] = remaining.get(r, 0) + 1
        for r in rows_a:
            if remaining.get(r, 0) > 0:
                remaining[r] -= 1
            else:
                out.append(change(r, None))
        for r, n in remaining.items():
            out.extend(change(None, r) for _ in range(n))
    return sort_changes(spec, out)


def diff_states(
    spec: DomainSpec,
    conn_a: sqlite3.Connection,
    conn_b: sqlite3.Connection,
    tables: Iterable[str] | None = None,
) -> list[RowChange]:
    """Every row change from state ``a`` to state ``b``: spec table order, then key order."""
    wanted = (
        list(spec.entities) if tables is None else [t for t in spec.entities if t in set(tables)]
    )
    out: list[RowChange] = []
    for table in wanted:
        out.extend(diff_table(spec, table, conn_a, conn_b))
    return out


def sort_changes(spec: DomainSpec, changes: Iterable[RowChange]) -> list[RowChange]:
    """Deterministic order: tables as in the spec, then by key values."""
    order = {t: i for i, t in enumerate(spec.entities)}
    return sorted(
        changes,
        key=lambda ch: (
            order.get(ch.table, len(order)),
            ch.table,
            tuple(sort_token(v) for v in ch.key.values()),
            ch.kind,
        ),
    )
