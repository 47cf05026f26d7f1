"""Who owns a row, and how many rows a description selects: the checks that keep a task on
its user's own rows and make every description name exactly one row.

Ownership follows child -> parent foreign keys up to the user entity over every path, so
a row reachable from two users (a shared booking) counts as belonging to both.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from engine.db import q
from synth.tasks.domain import TAG, SchemaInfo


def owners_of(
    conn: sqlite3.Connection,
    info: SchemaInfo,
    table: str,
    col: str,
    value: Any,
    also: list[tuple[str, Any]] | None = None,
) -> set[Any]:
    """Every user a row of ``table`` with ``col`` = ``value`` (and each ``also`` column =
    its value) belongs to, over all its child -> parent paths to the user entity (empty:
    nobody's row, or no such row)."""
    user = info.user_table
    upk = info.pk(user)[0]
    if table == user:
        sql = TAG + f"SELECT {q(upk)} FROM {q(user)} WHERE {q(col)} = ?"
        return {r[0] for r in conn.execute(sql, (value,))}
    extra = "".join(f" AND t0.{q(c)} = ?" for c, _v in also or [])
    binds = (value, *[v for _c, v in also or []])
    out: set[Any] = set()
    for path in info.paths(table, user):
        if not all(s.up for s in path):
            continue
        parts = [f"SELECT DISTINCT t{len(path)}.{q(upk)} FROM {q(table)} t0"]
        for i, st in enumerate(path):
            parts.append(
                f"JOIN {q(st.dst)} t{i + 1} ON t{i + 1}.{q(st.fk.pcol)} = t{i}.{q(st.fk.column)}"
            )
        parts.append(f"WHERE t0.{q(col)} = ?{extra}")
        out |= {r[0] for r in conn.execute(TAG + " ".join(parts), binds)}
    return out


def foreign_args(
    conn: sqlite3.Connection, info: SchemaInfo, tool: str, args: dict[str, Any], user: Any
) -> list[str]:
    """Arguments of a call naming a row (by key) that belongs to a user other than ``user``."""
    t = info.spec.tools[tool]
    out = []
    for name, value in args.items():
        p = t.params.get(name)
        if p is None:
            continue
        ref = p.references or (p.items.references if p.items else None)
        if not ref or not info.is_id_ref(ref):
            continue
        table, _, col = ref.partition(".")
        if table not in info.spec.entities or not info.owned(table):
            continue
        also = [] if info.names_row(ref) else _beside(info, t, table, args)
        for v in value if isinstance(value, list) else [value]:
            own = owners_of(conn, info, table, col, v, also)
            if own and own != {user}:
                out.append(name)
                break
    return out


def _beside(info: SchemaInfo, tool: Any, table: str, args: dict[str, Any]) -> list[tuple[str, Any]]:
    """For a value that names a row only with the call's other args (an item id of the
    order the call names): ``table``'s foreign-key columns and the args they equal."""
    out = []
    for fk in info.parents(table):
        for name, p in tool.params.items():
            if p.references == f"{fk.parent}.{fk.pcol}" and name in args:
                out.append((fk.column, args[name]))
    return out


def count_matching(
    conn: sqlite3.Connection,
    info: SchemaInfo,
    table: str,
    where: list[tuple[str, Any]],
    user: Any = None,
) -> int:
    """How many rows of ``table`` the facts ``where`` select (``col`` or ``fk.col`` of the
    parent ``fk`` names); with ``user``, only among that user's rows."""
    joins, conds, vals = [], [], []
    to_one = True  # every join meets at most one parent row: no DISTINCT needed
    for i, (path, value) in enumerate(where):
        col, _, pcol = path.partition(".")
        if pcol:
            fk = next(f for f in info.parents(table) if f.column == col)
            to_one = to_one and info.names_row(f"{fk.parent}.{fk.pcol}")
            joins.append(f"JOIN {q(fk.parent)} j{i} ON j{i}.{q(fk.pcol)} = t0.{q(col)}")
            conds.append(f"j{i}.{q(pcol)} = ?")
        else:
            conds.append(f"t0.{q(col)} = ?")
        vals.append(value)
    if user is not None and table != info.user_table:
        path = info.up_path(table, info.user_table)
        if path is not None:
            for i, st in enumerate(path):
                to_one = to_one and info.names_row(f"{st.fk.parent}.{st.fk.pcol}")
                a, b = ("t0" if i == 0 else f"u{i}"), f"u{i + 1}"
                joins.append(f"JOIN {q(st.dst)} {b} ON {b}.{q(st.fk.pcol)} = {a}.{q(st.fk.column)}")
            conds.append(f"u{len(path)}.{q(info.pk(info.user_table)[0])} = ?")
            vals.append(user)
    pk = ", ".join(f"t0.{q(c)}" for c in info.pk(table))
    # A DISTINCT over the key makes SQLite walk the whole table in key order; joins that
    # each meet one parent row cannot repeat a row, so the plain count lets it start from
    # the selective side (a product's name, then its variants by index).
    rows = f"SELECT {'' if to_one else 'DISTINCT '}{pk} FROM {q(table)} t0 {' '.join(joins)}"
    sql = f"SELECT COUNT(*) FROM ({rows}" + (" WHERE " + " AND ".join(conds) if conds else "") + ")"
    return int(conn.execute(TAG + sql, vals).fetchone()[0])
