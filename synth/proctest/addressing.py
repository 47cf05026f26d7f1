"""What a call's arguments point at: the columns each param is compared with in the tool's
SQL (its lineage, when ``references`` does not say), and the rows a call addresses.

A tool that changes a row its call does not address (not one whose key or foreign key holds
a value of the call, nor a parent, child or 1:1 extension of such a row) writes the wrong
row: the oracle's postcondition for effects.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from sqlglot import exp

from engine.db import bytes_to_connection, q
from engine.spec.models import DomainSpec, Tool
from engine.spec.sql import (
    column_map,
    columns_used,
    parse_one_statement,
    resolve_column,
    sources,
    tables_read,
)

Ref = tuple[str, str]  # ("table.column", "cmp" | "like")
_CMP = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like, exp.ILike, exp.In)
_STOP = (exp.Select, exp.Where, exp.And, exp.Or, exp.Subquery, exp.Insert, exp.Update)


# ---- lineage ---------------------------------------------------------------------------------
def bind_lineage(spec: DomainSpec, tool: Tool) -> dict[str, list[Ref]]:
    """Param -> columns its bind is compared with or stored into, read from the tool's SQL."""
    schema = column_map(spec)
    texts = [*tool.let.values(), *(p.check for p in tool.preconditions)]
    texts += [t for e in tool.effects for t in (e.sql, e.when) if t]
    texts += [tool.returns.query] if tool.returns else []
    out: dict[str, list[Ref]] = {}
    for sql in texts:
        try:
            tree = parse_one_statement(sql)
        except ValueError:
            continue
        for ph in tree.find_all(exp.Placeholder):
            if ph.name not in tool.params:
                continue
            for ref in _compared_with(ph, schema) + _inserted_into(ph, tree):
                if ref[0].split(".")[0] in schema:
                    out.setdefault(ph.name, [])
                    if ref not in out[ph.name]:
                        out[ph.name].append(ref)
    return out


def _compared_with(ph: exp.Expression, schema: Any) -> list[Ref]:
    node, parent = ph, ph.parent
    while parent is not None and not isinstance(parent, _CMP):
        if isinstance(parent, _STOP):
            return []
        node, parent = parent, parent.parent
    if parent is None:
        return []
    if isinstance(parent, exp.In):
        other = parent.this if node is not parent.this else None
    else:
        other = parent.left if node is parent.right else parent.right
    if other is None:
        return []
    op = "like" if isinstance(parent, exp.Like | exp.ILike) else "cmp"
    cols = [other] if isinstance(other, exp.Column) else list(other.find_all(exp.Column))
    refs = []
    for col in cols:
        src = resolve_column(col, schema)
        if isinstance(src, str) and col.name in schema.get(src, ()):
            refs.append((f"{src}.{col.name}", op))
    return refs


def _inserted_into(ph: exp.Expression, tree: exp.Expression) -> list[Ref]:
    if not isinstance(tree, exp.Insert) or not isinstance(tree.this, exp.Schema):
        return []
    tup = ph.parent
    if not isinstance(tup, exp.Tuple) or ph not in tup.expressions:
        return []
    cols = tree.this.expressions
    i = tup.expressions.index(ph)
    return [(f"{tree.this.this.name}.{cols[i].name}", "cmp")] if i < len(cols) else []


def read_columns(spec: Any, sqls: list[str]) -> set[tuple[str | None, str]]:
    """(table, column) pairs the statements read; table None when unresolved."""
    schema = column_map(spec)
    out: set[tuple[str | None, str]] = set()
    for sql in sqls:
        try:
            out |= columns_used(parse_one_statement(sql), schema)
        except ValueError:
            continue
    return out


def result_anchor(spec: DomainSpec, tool: Tool) -> str | None:
    """The table whose rows a tool's result query finds: its outermost FROM (else the first
    table it reads). A search built from one of these rows must find at least that row."""
    if tool.returns is None:
        return None
    try:
        tree = parse_one_statement(tool.returns.query)
    except ValueError:
        return None
    select = tree if isinstance(tree, exp.Select) else tree.find(exp.Select)
    real = [s for s in sources(select).values() if isinstance(s, str)] if select else []
    real += sorted(tables_read(tree))
    return next((t for t in real if t in spec.entities), None)


# ---- rows a call addresses ------------------------------------------------------------------
def cascade_tables(spec: Any, written: set[str]) -> set[str]:
    """Tables SQLite changes itself (ON DELETE CASCADE / SET NULL) when ``written`` change."""
    out: set[str] = set()
    for table, ent in spec.entities.items():
        for col in ent.columns.values():
            cascades = col.on_delete in ("cascade", "set null")
            if col.references and cascades and col.references.split(".")[0] in written:
                out.add(table)
    return out


def _hashable_binds(binds: dict[str, Any]) -> set[Any]:
    vals: set[Any] = set()
    for k, v in binds.items():
        if k == "now" or isinstance(v, bool | float) or v is None:
            continue
        if isinstance(v, str) and v.startswith(("[", "{")):
            try:
                items = json.loads(v)
                items = items if isinstance(items, list) else [items]  # objects: their fields
                items += [x for d in items if isinstance(d, dict) for x in d.values()]
                vals |= {x for x in items if isinstance(x, str | int) and not isinstance(x, bool)}
                continue
            except ValueError:
                pass
        if isinstance(v, str | int):
            vals.add(v)
    return vals


def key_columns(spec: Any, table: str) -> list[str]:
    """Columns that identify a row or link it: primary, unique, natural key and foreign keys."""
    ent = spec.entities[table]
    cols = [c for c, col in ent.columns.items() if col.primary_key or col.unique or col.references]
    cols += [c for group in ent.unique for c in group] + list(ent.natural_key or [])
    return list(dict.fromkeys(cols))


def unaddressed(spec: Any, pre: bytes, binds: dict[str, Any], changes: list) -> str | None:
    """The first updated/deleted row not reachable from the call's values, or None.

    A row is addressed when one of its key or foreign-key columns holds a bind value
    (a param, array item, let or generated id), or it is a parent or child of such a row,
    or a 1:1 extension (its primary key is a foreign key) of such a parent.
    """
    if not any(ch.before is not None for ch in changes):
        return None
    conn = bytes_to_connection(pre)
    try:
        return unaddressed_at(spec, conn, binds, changes)
    finally:
        conn.close()


def unaddressed_at(
    spec: Any, conn: sqlite3.Connection, binds: dict[str, Any], changes: list
) -> str | None:
    """``unaddressed`` on a connection holding the state before the call (no copy)."""
    vals = _hashable_binds(binds)
    for ch in changes:
        if ch.before is not None and not _addressed(spec, conn, ch.table, ch.before, vals):
            return f"{ch.table} {json.dumps(ch.key, default=str)} ({ch.kind})"
    return None


def _seed_sql(spec: Any, table: str, vals: set[Any]) -> tuple[str, list[Any]]:
    cols = key_columns(spec, table)
    marks = ", ".join("?" for _ in vals)
    cond = " OR ".join(f"{q(c)} IN ({marks})" for c in cols) or "0"
    return cond, [v for _ in cols for v in vals]


def _addressed(spec: Any, conn: sqlite3.Connection, table: str, row: dict, vals: set[Any]) -> bool:
    if any(row.get(c) in vals for c in key_columns(spec, table)):
        return True
    ent = spec.entities[table]
    for cname, col in ent.columns.items():  # a parent of this row is a seed
        if col.references and row.get(cname) is not None:
            pt, pc = col.references.split(".")
            cond, args = _seed_sql(spec, pt, vals)
            sql = f"SELECT 1 FROM {q(pt)} WHERE {q(pc)} = ? AND ({cond}) LIMIT 1"
            if conn.execute(sql, [row[cname], *args]).fetchone():
                return True
            one_to_one = col.primary_key or col.unique  # an extension: its parent's children count
            if one_to_one and _has_seed_child(spec, conn, pt, {pc: row[cname]}, vals):
                return True
    return _has_seed_child(spec, conn, table, row, vals)


def _has_seed_child(spec: Any, conn: sqlite3.Connection, table: str, row: dict, vals: set) -> bool:
    for ctable, ent in spec.entities.items():
        for cname, col in ent.columns.items():
            if not col.references:
                continue
            pt, pc = col.references.split(".")
            if pt != table or row.get(pc) is None:
                continue
            cond, args = _seed_sql(spec, ctable, vals)
            sql = f"SELECT 1 FROM {q(ctable)} WHERE {q(cname)} = ? AND ({cond}) LIMIT 1"
            if conn.execute(sql, [row[pc], *args]).fetchone():
                return True
    return False
