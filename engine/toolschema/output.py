"""MCP ``outputSchema`` of a tool: the result query's columns, typed from their lineage.

Column names come from SQLite itself (the query prepared against the empty schema with
every bind NULL); types from the spec columns the values come from (``engine.spec.sql``
lineage, ``returns.references`` for nested JSON, a small sqlglot walk for counts, sums and
``json_group_array``). MCP wants an object, so list and scalar results are wrapped as
``{"result": ...}``; every value is nullable.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

import sqlglot
from sqlglot import exp

from engine.db import add_functions
from engine.spec.kinds import column_kind
from engine.spec.metadata import create_sqlite
from engine.spec.models import Column, DomainSpec, Tool
from engine.spec.sql import tool_output_references


class _NullBinds(dict):
    def __missing__(self, key: str) -> None:
        return None


def _column_schema(col: Column | None) -> dict:
    if col is None:
        return {}
    out: dict[str, Any] = {"type": [*column_kind(col).json_types, "null"]}
    if col.type == "enum":
        out["enum"] = [*(col.values or []), None]
    if col.description:
        out["description"] = col.description
    return out


def _tables_in_scope(select: exp.Select) -> dict[str, str]:
    scope: dict[str, str] = {}
    sources = [
        select.args.get("from_") or select.args.get("from"),
        *(select.args.get("joins") or []),
    ]
    for src in sources:
        table = src.this if src is not None else None
        if isinstance(table, exp.Table):
            scope[table.alias_or_name] = table.name
    return scope


def _projection_schema(spec: DomainSpec, proj: exp.Expression, scope: dict[str, str]) -> dict:
    inner = proj.unalias()
    if isinstance(inner, exp.Column):
        tables = [scope[inner.table]] if inner.table in scope else list(scope.values())
        for t in tables:
            entity = spec.entities.get(t)
            if entity is not None and inner.name in entity.columns:
                return _column_schema(entity.columns[inner.name])
        return {}
    if isinstance(inner, exp.Count):
        return {"type": ["integer", "null"]}
    if isinstance(inner, exp.Sum | exp.Avg):
        return {"type": ["number", "null"]}
    text = inner.sql(dialect="sqlite").lower().lstrip("( ")
    text = text.removeprefix("select ").lstrip()
    if text.startswith("json_group_array"):
        return {"type": ["array", "null"]}
    if text.startswith("json_object"):
        return {"type": ["object", "null"]}
    return {}


def _lineage_schemas(spec: DomainSpec, tool: Tool) -> dict[str, dict]:
    """Output column name -> JSON schema: plain columns typed from their lineage (engine.spec.sql
    when present, else a local sqlglot walk), nested JSON from ``returns.references``."""
    assert tool.returns is not None
    out = _own_lineage(spec, tool.returns.query)
    refs = {**tool_output_references(spec, tool), **tool.returns.references}
    for path, ref in sorted(refs.items()):
        col = _ref_column(spec, ref)
        if col is None:
            continue
        m = re.fullmatch(r"(\w+)(\[\])?(?:\.(\w+))?", path)
        if m is None:
            continue
        name, is_list, field = m.groups()
        leaf = _column_schema(col)
        if not is_list and field is None:
            out[name] = leaf
            continue
        node = out.get(name) or {}
        if is_list:
            node = {"type": ["array", "null"], "items": node.get("items", {})}
            if field is None:
                node["items"] = leaf
            else:
                node["items"] = _with_property(node["items"], field, leaf)
        else:
            node = _with_property(node if "properties" in node else {}, field, leaf)
            node["type"] = ["object", "null"]
        out[name] = node
    return out


def _ref_column(spec: DomainSpec, ref: str) -> Column | None:
    if not isinstance(ref, str) or not re.fullmatch(r"\w+\.\w+", ref):
        return None
    table, col = ref.split(".")
    entity = spec.entities.get(table)
    return None if entity is None else entity.columns.get(col)


def _with_property(node: dict, field: str, leaf: dict) -> dict:
    props = {**node.get("properties", {}), field: leaf}
    return {"type": "object", "properties": props}


def _own_lineage(spec: DomainSpec, sql: str) -> dict[str, dict]:
    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except sqlglot.errors.ParseError:
        return {}
    select = tree if isinstance(tree, exp.Select) else tree.find(exp.Select)
    if select is None:
        return {}
    scope = _tables_in_scope(select)
    return {p.alias_or_name: _projection_schema(spec, p, scope) for p in select.expressions}


def output_columns(
    spec: DomainSpec, tool: Tool, conn: sqlite3.Connection | None = None
) -> list[str]:
    """Names of the result query's columns, read from SQLite itself (binds all NULL)."""
    assert tool.returns is not None
    own = conn is None
    if conn is None:
        conn = add_functions(sqlite3.connect(":memory:"))
        create_sqlite(spec, conn)
    try:
        cur = conn.execute(tool.returns.query, _NullBinds())
        return [d[0] for d in cur.description or []]
    finally:
        if own:
            conn.close()


def output_schema(
    spec: DomainSpec, tool: Tool, conn: sqlite3.Connection | None = None
) -> dict | None:
    """MCP ``outputSchema`` of a tool's result (None if it has no result query)."""
    if tool.returns is None:
        return None
    try:
        names = output_columns(spec, tool, conn)
    except sqlite3.Error:
        names = list(_own_lineage(spec, tool.returns.query))
    types = _lineage_schemas(spec, tool)
    props = {n: types.get(n, {}) for n in names}
    for n in tool.returns.json_columns:
        if n in props and not props[n]:
            props[n] = {"type": ["array", "object", "null"]}
    row = {"type": "object", "properties": props, "required": names, "additionalProperties": False}
    if tool.returns.shape == "object":
        return row
    if tool.returns.shape == "list":
        item = {"type": "array", "items": row}
    else:
        item = props[names[0]] if names else {}
    return wrapped(item)


def wrapped(schema: dict) -> dict:
    return {
        "type": "object",
        "properties": {"result": schema},
        "required": ["result"],
        "additionalProperties": False,
    }


def structured_result(spec: DomainSpec, name: str, result: Any) -> Any:
    """A tool result in the shape its ``outputSchema`` describes (MCP ``structuredContent``):
    lists and scalars wrapped as ``{"result": ...}``, objects as they are (None: no row)."""
    tool = spec.tools.get(name)
    if tool is not None and tool.returns is not None and tool.returns.shape == "object":
        return result
    return {"result": result}
