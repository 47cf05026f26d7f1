"""The index advisor: every tool statement's query plan checked at build time.

A tool that filters a table on a column without an index reads the whole table on every
call: free at 1k rows, a cliff at 1M (``lower(email) = ?`` cannot use the unique index on
``email``). For each statement (lets, preconditions, effect conditions and effects, result
query) the advisor asks SQLite for its plan (``EXPLAIN QUERY PLAN`` on the spec's empty
schema: without statistics the planner decides from the schema alone, the way it does in a
freshly built world). Where a table the statement filters on is scanned, it tries the
indexes the filter terms could use, in the order they appear: the column, the function
of it the query compares (``lower(email)``, an expression index) or the column under the
comparison's collation (``COLLATE NOCASE``); it keeps the first one that turns the scan
into a search. Kept indexes are declared on the spec's entities (``Entity.indexes``), so
the schema, the Alembic chain and the world check all include them. A scan no index can
remove (``LIKE '%x%'``, an optional filter ``(:x IS NULL OR col = :x)``) is reported with
the reason. Deterministic: statements in spec order, candidates in text order.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from engine.spec.indexterms import IndexTerm, index_name
from engine.spec.metadata import create_sqlite
from engine.spec.models import DomainSpec
from engine.spec.sql import column_map, parse_one_statement, resolve_column, sources

_CMP = (exp.EQ, exp.In, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Is)
_FUNCS: dict[type, str] = {exp.Lower: "lower", exp.Upper: "upper", exp.Trim: "trim"}


class _NullBinds(dict):
    """Any named parameter binds NULL (a plan does not depend on bound values)."""

    def __missing__(self, key: str) -> None:
        return None


@dataclass
class Scan:
    """A statement that reads a whole table it filters on."""

    tool: str
    where: str  # "preconditions[0]", "returns", ...
    table: str
    fixed_by: str | None = None  # the index entry that turned it into a search
    reason: str | None = None  # why no index can (when not fixed)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class IndexAdvice:
    """What the advisor found and added (``added``: table -> index entries)."""

    scans: list[Scan] = field(default_factory=list)
    added: dict[str, list[str]] = field(default_factory=dict)

    @property
    def unfixed(self) -> list[Scan]:
        return [s for s in self.scans if s.fixed_by is None]

    def to_dict(self) -> dict[str, Any]:
        return {"added": self.added, "scans": [s.to_dict() for s in self.scans]}


def tool_statements(spec: DomainSpec) -> list[tuple[str, str, str]]:
    """(tool, where, sql) of every statement the tools run, in spec order."""
    out: list[tuple[str, str, str]] = []
    for name, tool in spec.tools.items():
        out += [(name, f"let.{k}", sql) for k, sql in tool.let.items()]
        out += [(name, f"preconditions[{i}]", p.check) for i, p in enumerate(tool.preconditions)]
        for i, e in enumerate(tool.effects):
            if e.when:
                out.append((name, f"effects[{i}].when", e.when))
            out.append((name, f"effects[{i}]", e.sql))
        if tool.returns is not None:
            out.append((name, "returns", tool.returns.query))
    return out


def plan(conn: sqlite3.Connection, sql: str) -> list[str]:
    """The detail lines of SQLite's plan for ``sql`` (any parameter bound to NULL)."""
    return [r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, _NullBinds())]


def scanned(details: list[str], aliases: dict[str, str]) -> set[str]:
    """Real tables a plan reads in full: ``SCAN t`` (also through a covering index), or an
    automatic index SQLite builds from the whole table on every run."""
    out = set()
    for d in details:
        if d.startswith("SCAN ") or (d.startswith("SEARCH ") and " AUTOMATIC " in d):
            name = d.split(" ", 2)[1]
            if name in aliases:
                out.add(aliases[name])
    return out


def _aliases(tree: exp.Expression, spec: DomainSpec) -> dict[str, str]:
    out = {}
    for t in tree.find_all(exp.Table):
        if t.name in spec.entities:
            out[t.alias_or_name] = t.name
            out[t.name] = t.name
    return out


def _term(side: exp.Expression, other: exp.Expression, schema: Any) -> tuple[str, IndexTerm] | None:
    """(table, index term) when ``side`` is an indexable form of one column."""
    fn = None
    node = side.unnest()
    if type(node) in _FUNCS and isinstance(node.this, exp.Column):
        fn, node = _FUNCS[type(node)], node.this
    if not isinstance(node, exp.Column):
        return None
    src = resolve_column(node, schema)
    if not isinstance(src, str):
        return None
    coll = None
    for part in (side, other):  # the comparison's collation: either side may name it
        c = part.unnest()
        if isinstance(c, exp.Collate):
            coll = c.expression.name.upper()
    if fn is not None and coll is not None:
        return None
    return src, IndexTerm(node.name, function=fn, collation=coll if coll != "BINARY" else None)


def _optional(node: Any) -> bool:
    """Inside ``(:x IS NULL OR ...)``: a filter that applies only sometimes."""
    cur = node.parent
    while cur is not None and not isinstance(cur, exp.Where | exp.Join | exp.Select):
        if isinstance(cur, exp.Or):
            return True
        cur = cur.parent
    return False


Filters = dict[str, tuple[list[IndexTerm], list[str], list[bool]]]


def filters(tree: exp.Expression, spec: DomainSpec) -> Filters:
    """Per real table: index terms its comparisons could use (text order), reasons for
    the filters no index serves, and ``[True]`` when a term filters (compares with a bound
    value, a constant or an outer query's column), not only joins."""
    schema = column_map(spec)
    out: Filters = {}
    for cmp in tree.find_all(*_CMP, exp.Like):
        if not cmp.find_ancestor(exp.Where, exp.Join):
            continue
        sides = [cmp.this, cmp.expression] if not isinstance(cmp, exp.In) else [cmp.this]
        for i, side in enumerate(sides):
            if side is None:
                continue
            other = sides[1 - i] if len(sides) == 2 else exp.Null()
            got = _term(side, other, schema)
            if got is None:
                continue
            table, term = got
            terms, why, filtered = out.setdefault(table, ([], [], []))
            join = _joins(cmp, other)  # a join term: an index helps when it is the inner loop
            if _optional(cmp):
                why.append(f"optional filter on {term.column} (inside OR)")
            elif isinstance(cmp, exp.Like):
                why.append(f"LIKE on {term.column}")
            elif isinstance(cmp, exp.Is):
                continue
            else:
                if not join and not filtered:
                    filtered.append(True)
                if term not in terms:
                    terms.append(term)
    return out


def _joins(cmp: Any, other: exp.Expression) -> bool:
    """Whether ``other`` reads a column of the comparison's own query (a join partner);
    a column of an outer query (a correlated subquery) filters like a bound value."""
    query = cmp.find_ancestor(exp.Select, exp.Update, exp.Delete)
    if query is None:
        return False
    own = sources(query)
    for col in other.find_all(exp.Column):
        if col.table in own or (not col.table and col.find_ancestor(exp.Select) is query):
            return True
    return False


def _entry(term: IndexTerm) -> str:
    if term.function:
        return f"{term.function}({term.column})"
    return f"{term.column} COLLATE {term.collation}" if term.collation else term.column


def advise(spec: DomainSpec) -> tuple[DomainSpec, IndexAdvice]:
    """``spec`` with the indexes its tools need declared, and what was found."""
    advice = IndexAdvice()
    conn = sqlite3.connect(":memory:")
    try:
        create_sqlite(spec, conn)
        declared = {index_name(t, text) for t, e in spec.entities.items() for text in e.indexes}
        for tool, where, sql in tool_statements(spec):
            try:
                tree = parse_one_statement(sql)
                details = plan(conn, sql)
            except (ValueError, sqlite3.Error):
                continue  # unvalidated SQL: the validator reports it
            aliases = _aliases(tree, spec)
            wanted = filters(tree, spec)
            for table in sorted(scanned(details, aliases) & set(wanted)):
                terms, why, filtered = wanted[table]
                scan = Scan(tool, where, table)
                for term in terms:
                    text = _entry(term)
                    name = index_name(table, text)
                    if name in declared:
                        continue
                    conn.execute(f'CREATE INDEX "{name}" ON "{table}" ({_sql(term)})')
                    if table not in scanned(plan(conn, sql), aliases):
                        declared.add(name)
                        advice.added.setdefault(table, []).append(text)
                        scan.fixed_by = text
                        break
                    conn.execute(f'DROP INDEX "{name}"')
                if scan.fixed_by is None:
                    if not filtered and not why:
                        continue  # the outer loop of a join: the query reads it whole
                    scan.reason = "; ".join(why) or "no filter term an index can serve"
                advice.scans.append(scan)
    finally:
        conn.close()
    if not advice.added:
        return spec, advice
    out = spec.model_copy(deep=True)
    for table, texts in advice.added.items():
        out.entities[table].indexes = [*out.entities[table].indexes, *texts]
    return out, advice


def _sql(term: IndexTerm) -> str:
    col = f'"{term.column}"'
    if term.function:
        return f"{term.function}({col})"
    return f"{col} COLLATE {term.collation}" if term.collation else col
