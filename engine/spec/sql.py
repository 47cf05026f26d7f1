"""SQL analysis of spec SQL with sqlglot (SQLite dialect): one parser for everyone.

Validation, the dependency graph, the test generator and output schemas all need the same
facts about a tool's SQL (kind, tables read and written, binds, columns, result lineage);
computing them here keeps them consistent. Parses are cached by SQL text: the returned
trees are shared, so callers must ``.copy()`` a tree before changing it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

import sqlglot
from sqlglot import exp

if TYPE_CHECKING:
    from engine.spec.models import DomainSpec, Tool

DIALECT = "sqlite"
StatementKind = Literal["select", "insert", "update", "delete"]
Schema = Mapping[str, Collection[str]]  # table -> its column names, in spec order
Source = str | exp.Expression | None  # a spec table, a derived query, or a table function

# Keywords sqlglot may swallow into a generic Command; checked outside literals and comments.
_FORBIDDEN_RE = re.compile(r"\b(ATTACH|DETACH|PRAGMA|VACUUM)\b", re.I)
_LITERALS_RE = re.compile(
    r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|`[^`]*`|\[[^\]]*\]|--[^\n]*|/\*.*?\*/", re.S
)
_JSON_TABLE_COLUMNS = {"key", "value", "type", "atom", "id", "parent", "fullkey", "path"}
# SQLite's names for a row's rowid: a column of every real table (ours are never WITHOUT ROWID)
ROWID_NAMES = frozenset({"rowid", "oid", "_rowid_"})

logging.getLogger("sqlglot").setLevel(logging.ERROR)  # "falling back to Command" chatter


def _one_line(text: str) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    return " ".join(text.split())


def _parse_error(err: Exception) -> str:
    details = getattr(err, "errors", None)
    if details:
        d = details[0]
        return _one_line(f"{d.get('description')} (line {d.get('line')}, col {d.get('col')})")
    return _one_line(str(err)) or type(err).__name__


@lru_cache(maxsize=8192)
def parse_one_statement(sql: str) -> exp.Expression:
    """Parse exactly one SELECT/INSERT/UPDATE/DELETE; raise ValueError for anything else.

    DDL, ATTACH/DETACH, PRAGMA, VACUUM and transaction control are refused: tool SQL runs
    inside the runtime's savepoint and must never escape it or change the schema.
    """
    if not isinstance(sql, str) or not sql.strip():
        raise ValueError("empty SQL")
    hit = _FORBIDDEN_RE.search(_LITERALS_RE.sub(" ", sql))
    if hit:
        raise ValueError(f"{hit.group(1).upper()} is not allowed in spec SQL")
    try:
        statements = [s for s in sqlglot.parse(sql, read=DIALECT) if s is not None]
    except Exception as err:  # sqlglot raises ParseError, TokenError and a few others
        raise ValueError(f"SQL does not parse: {_parse_error(err)}") from None
    if not statements:
        raise ValueError("empty SQL")
    if len(statements) > 1:
        raise ValueError(f"expected one statement, got {len(statements)} (';' separated)")
    stmt: exp.Expression = statements[0]  # type: ignore[assignment]
    if not isinstance(stmt, exp.Query | exp.Insert | exp.Update | exp.Delete):
        word = sql.split()[0].upper()
        word += "; write INSERT OR REPLACE" if word == "REPLACE" else ""
        raise ValueError(
            f"only SELECT/INSERT/UPDATE/DELETE are allowed; DDL, ATTACH, PRAGMA and "
            f"transaction statements are not (got {word})"
        )
    for table in stmt.find_all(exp.Table):
        if table.args.get("db") is not None or table.args.get("catalog") is not None:
            raise ValueError(
                f"{table.sql(dialect=DIALECT)}: name tables without a schema (a tool sees "
                "only the world's tables)"
            )
    for fn in stmt.find_all(exp.Anonymous):
        if str(fn.this).lower().startswith("pragma_"):
            raise ValueError(f"{str(fn.this).lower()}(): PRAGMA functions are not allowed")
    return stmt


def statement_kind(sql: str) -> StatementKind:
    """'select', 'insert', 'update' or 'delete' (raises ValueError like parse_one_statement)."""
    stmt = parse_one_statement(sql)
    if isinstance(stmt, exp.Insert):
        return "insert"
    if isinstance(stmt, exp.Update):
        return "update"
    if isinstance(stmt, exp.Delete):
        return "delete"
    return "select"


# ---- tables ---------------------------------------------------------------------------
def _cte_names(expr: exp.Expression) -> set[str]:
    return {cte.alias_or_name for cte in expr.find_all(exp.CTE)}


def _is_real(table: exp.Table) -> bool:
    return isinstance(table.this, exp.Identifier)


def _target(expr: exp.Expression) -> exp.Table | None:
    if isinstance(expr, exp.Insert | exp.Update | exp.Delete):
        node = expr.this
        if isinstance(node, exp.Schema):
            node = node.this
        return node if isinstance(node, exp.Table) else None
    return None


def tables_written(expr: exp.Expression) -> set[str]:
    """The table an INSERT/UPDATE/DELETE writes (empty for a SELECT)."""
    target = _target(expr)
    return {target.name} if target is not None and _is_real(target) else set()


def tables_read(expr: exp.Expression) -> set[str]:
    """Spec tables read anywhere (subqueries included), without CTEs, table functions and
    the write target itself (an UPDATE's own WHERE reads its target; that is in writes)."""
    target, ctes = _target(expr), _cte_names(expr)
    return {
        t.name
        for t in expr.find_all(exp.Table)
        if _is_real(t) and t is not target and not (t.name in ctes and not t.db)
    }


# ---- binds ----------------------------------------------------------------------------
def params_used(sql: str) -> set[str]:
    """Names of the ``:name`` binds of a statement (sqlglot: ``exp.Placeholder``)."""
    return set(_params_used(sql))


@lru_cache(maxsize=8192)
def _params_used(sql: str) -> frozenset[str]:
    expr = parse_one_statement(sql)
    return frozenset(p.name for p in expr.find_all(exp.Placeholder) if p.name and p.name != "?")


def bad_binds(expr: exp.Expression) -> list[str]:
    """Binds in a style the runtime does not bind (``?``, ``@x``, ``$x``)."""
    out = [p.sql() for p in expr.find_all(exp.Placeholder) if not p.name or p.name == "?"]
    out += [p.sql() for p in expr.find_all(exp.Parameter)]
    out += [c.name for c in expr.find_all(exp.Column) if c.name.startswith("$")]
    return out


# ---- column resolution ----------------------------------------------------------------
def _ctes_visible(node: exp.Expression) -> dict[str, exp.Expression]:
    out: dict[str, exp.Expression] = {}
    cur: exp.Expression | None = node
    while cur is not None:
        with_ = cur.args.get("with_") or cur.args.get("with")
        if isinstance(with_, exp.With):
            for cte in with_.expressions:
                out.setdefault(cte.alias_or_name, cte.this)
        cur = cur.parent  # type: ignore[assignment]
    return out


def _source_of(node: exp.Expression, ctes: dict[str, exp.Expression]) -> tuple[str, Source]:
    if isinstance(node, exp.Table):
        if not _is_real(node):
            fn = node.this
            name = str(fn.this).lower() if isinstance(fn, exp.Anonymous) else fn.key
            return node.alias or name, None
        if node.name in ctes and not node.db:
            return node.alias_or_name, ctes[node.name]
        return node.alias_or_name, node.name
    if isinstance(node, exp.Subquery):
        return node.alias_or_name, node.this
    return node.alias_or_name, None


def sources(query: exp.Expression) -> dict[str, Source]:
    """Alias -> what it names, for the FROM/JOIN (and DML target) of one query node."""
    ctes = _ctes_visible(query)
    nodes: list[exp.Expression] = []
    target = _target(query)
    if target is not None:
        nodes.append(target)
    from_ = query.args.get("from_") or query.args.get("from")
    if isinstance(from_, exp.From):
        nodes.append(from_.this)
    nodes += [j.this for j in query.args.get("joins") or []]
    out: dict[str, Source] = dict(_source_of(n, ctes) for n in nodes)
    if isinstance(query, exp.Insert) and target is not None:
        out["excluded"] = target.name  # ON CONFLICT DO UPDATE SET x = excluded.x
    return out


def _columns_of(src: Source, schema: Schema) -> Collection[str] | None:
    if isinstance(src, str):
        return schema.get(src)
    if src is None:
        return _JSON_TABLE_COLUMNS
    return {n for n in output_names(src) if n}


def _query_ancestors(node: exp.Expression):
    cur = node.parent
    while cur is not None:
        if isinstance(cur, exp.Select | exp.Insert | exp.Update | exp.Delete):
            yield cur
        cur = cur.parent


def resolve_column(col: exp.Column, schema: Schema | None = None) -> Source | bool:
    """What a column reference reads from: a table name, a derived query, None for a table
    function; False when unresolved (unknown alias, ambiguous, or an output alias)."""
    qualifier = col.table
    for query in _query_ancestors(col):
        srcs = sources(query)
        if qualifier:
            if qualifier in srcs:
                return srcs[qualifier]
            continue
        if schema is None:
            real = [s for s in srcs.values() if isinstance(s, str)]
            return real[0] if len(srcs) == 1 and real else False
        hits = [s for s in srcs.values() if col.name in (_columns_of(s, schema) or set())]
        if len(hits) == 1:
            return hits[0]
        if hits:
            return False  # ambiguous: SQLite says so when preparing
        if isinstance(query, exp.Select) and col.name in {e.alias for e in query.expressions}:
            return False  # ORDER BY / HAVING naming an output alias
    return False


def is_rowid(table: str, column: str, schema: Schema) -> bool:
    """Whether ``table.column`` is SQLite's rowid pseudo-column (not shadowed by a real one)."""
    real = {c.lower() for c in schema.get(table, ())}
    return column.lower() in ROWID_NAMES and column.lower() not in real


def columns_used(expr: exp.Expression, schema: Schema | None = None) -> set[tuple[str | None, str]]:
    """(table, column) pairs the statement names; table None when it cannot be resolved.

    Aliases (``FROM orders o``) resolve to their table; with a schema, unqualified columns
    resolve to the one table in scope that has them (inner scopes first, like SQLite).
    Columns of derived tables and table functions are left out: they are not spec columns.
    """
    out: set[tuple[str | None, str]] = set()
    for col in expr.find_all(exp.Column):
        if isinstance(col.this, exp.Star) or col.name.startswith("$"):
            continue
        src = resolve_column(col, schema)
        if isinstance(src, str):
            out.add((src, col.name))
        elif src is False:
            out.add((None, col.name))
    target = _target(expr)
    if isinstance(expr, exp.Insert) and isinstance(expr.this, exp.Schema) and target is not None:
        out |= {
            (target.name, i.name) for i in expr.this.expressions if isinstance(i, exp.Identifier)
        }
    return out


# ---- outputs and lineage --------------------------------------------------------------
def _leftmost_select(expr: exp.Expression) -> exp.Select | None:
    while isinstance(expr, exp.SetOperation | exp.Subquery):
        expr = expr.this
    return expr if isinstance(expr, exp.Select) else None


def output_names(expr: exp.Expression) -> list[str | None]:
    """Output column names a SELECT shows plainly (alias or column name), None for
    unnamed expressions; ``*`` is not expanded here (see result_lineage)."""
    select = _leftmost_select(expr)
    if select is None:
        return []
    out: list[str | None] = []
    for p in select.expressions:
        if isinstance(p, exp.Alias):
            out.append(p.alias)
        elif isinstance(p, exp.Column) and not isinstance(p.this, exp.Star):
            out.append(p.name)
        else:
            out.append(None)
    return out


def _lineage_of(node: exp.Expression, schema: Schema, depth: int = 0) -> str | None:
    if depth > 8:
        return None
    if isinstance(node, exp.Paren):
        return _lineage_of(node.this, schema, depth + 1)
    if isinstance(node, exp.Subquery):
        inner = _leftmost_select(node.this)
        if inner is not None and len(inner.expressions) == 1:
            proj = inner.expressions[0]
            return _lineage_of(
                proj.this if isinstance(proj, exp.Alias) else proj, schema, depth + 1
            )
        return None
    if not isinstance(node, exp.Column):
        return None
    src = resolve_column(node, schema)
    if isinstance(src, str):
        return f"{src}.{node.name}" if node.name in schema.get(src, ()) else None
    if isinstance(src, exp.Expression):
        return _query_lineage(src, schema, depth + 1).get(node.name)
    return None


def _query_lineage(expr: exp.Expression, schema: Schema, depth: int = 0) -> dict[str, str]:
    select = _leftmost_select(expr)
    out: dict[str, str] = {}
    if select is None:
        return out
    srcs = sources(select)
    for p in select.expressions:
        star_of = None
        if isinstance(p, exp.Star):
            star_of = list(srcs.values())
        elif isinstance(p, exp.Column) and isinstance(p.this, exp.Star):
            star_of = [srcs.get(p.table)]
        if star_of is not None:
            for src in star_of:
                if isinstance(src, str):
                    out.update({c: f"{src}.{c}" for c in schema.get(src, ())})
                elif isinstance(src, exp.Expression):
                    out.update(_query_lineage(src, schema, depth + 1))
            continue
        name = (
            p.alias if isinstance(p, exp.Alias) else p.name if isinstance(p, exp.Column) else None
        )
        ref = _lineage_of(p.this if isinstance(p, exp.Alias) else p, schema, depth)
        if name:
            out.pop(name, None)
            if ref:
                out[name] = ref
    return out


def column_map(spec: DomainSpec) -> Schema:
    """Table -> column names of a spec (the schema the resolvers need)."""
    return {t: list(e.columns) for t, e in spec.entities.items()}


@lru_cache(maxsize=4096)
def _lineage_cached(sql: str, schema_key: tuple) -> tuple[tuple[str, str], ...]:
    schema = dict(schema_key)
    return tuple(_query_lineage(parse_one_statement(sql), schema).items())


def result_lineage(sql: str, spec: DomainSpec) -> dict[str, str]:
    """Output column -> "table.column" for the plain columns of a SELECT.

    A projection counts when it is a spec column (through aliases, derived tables, CTEs,
    ``*`` and single-column scalar subqueries); computed values are left out.
    """
    key = tuple((t, tuple(e.columns)) for t, e in spec.entities.items())
    try:
        return dict(_lineage_cached(sql, key))
    except ValueError:
        return {}


def tool_output_references(spec: DomainSpec, tool: Tool) -> dict[str, str]:
    """Lineage of a tool's result fields: derived from the query, then ``returns.references``.

    Keys are field names of one result row (for ``list``, of each element); for a
    ``scalar`` result only its first column is kept, since that is the whole result.
    Explicit references (e.g. ``"items[].item_id"``) override derived ones.
    """
    if tool.returns is None:
        return {}
    derived = result_lineage(tool.returns.query, spec)
    if tool.returns.shape == "scalar":
        try:
            names = output_names(parse_one_statement(tool.returns.query))
        except ValueError:
            names = []
        first = names[0] if names else None
        derived = {first: derived[first]} if first in derived else {}
    return {**derived, **tool.returns.references}
