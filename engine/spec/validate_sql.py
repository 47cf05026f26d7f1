"""Checks of every SQL text in a spec: statically with sqlglot, then prepared by SQLite.

sqlglot finds the errors it can name well (statement kind, binds, undeclared tables,
unknown columns of known tables); preparing ``EXPLAIN <sql>`` against the spec's empty
schema catches what sqlglot lets through (unknown functions, ambiguous columns, typos
in clauses). Each error carries the path of the field that holds the SQL.
"""

from __future__ import annotations

import re
import sqlite3
import string
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

from sqlglot import exp

from engine.db import add_functions
from engine.spec.clock import nondeterminism
from engine.spec.metadata import create_sqlite, sqlite_ddl
from engine.spec.models import DomainSpec, Tool
from engine.spec.scope import link, scope_columns, scoped_violations_sql
from engine.spec.sql import (
    StatementKind,
    bad_binds,
    column_map,
    columns_used,
    is_rowid,
    output_names,
    params_used,
    parse_one_statement,
    resolve_column,
    result_lineage,
    statement_kind,
    tables_read,
    tables_written,
)

Errors = list[tuple[str, str]]
SELECT: tuple[StatementKind, ...] = ("select",)
WRITE: tuple[StatementKind, ...] = ("insert", "update", "delete")
_MAX_VM_STEPS = 200_000  # a runaway query (recursive CTE) on the empty schema is cut off


def jpath(*parts: str | int) -> str:
    """A field path: ``tools.cancel_order.effects[1].sql``; odd keys as ``["a b"]``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"\w+", part):
            out += f".{part}" if out else part
        else:
            out += f'["{part}"]'
    return out


def placeholders(text: str) -> list[str]:
    """The ``{name}`` fields of a message (base names); raises ValueError if malformed."""
    names = []
    for _, field, _, _ in string.Formatter().parse(text):
        if field is None:
            continue
        base = re.split(r"[.\[]", field, maxsplit=1)[0]
        if not base or base.isdigit():
            raise ValueError(f"positional placeholder {{{field}}}; name a value")
        names.append(base)
    return names


class SqlChecker:
    """Holds an in-memory SQLite database with the spec's empty schema, no CHECKs."""

    def __init__(self, spec: DomainSpec, errors: Errors) -> None:
        self.spec, self.errors = spec, errors
        self.schema = column_map(spec)
        self.conn = add_functions(sqlite3.connect(":memory:", isolation_level=None))
        self._build()

    def _build(self) -> None:
        bare = self.spec.model_copy(deep=True)
        for entity in bare.entities.values():
            entity.checks = []
            for col in entity.columns.values():
                col.check, col.default = None, None
                if col.references and not self._ref_ok(col.references):
                    col.references, col.on_delete = None, None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # FK cycles: SQLAlchemy warns, SQLite is fine
                ddl = sqlite_ddl(bare)
        except Exception as err:
            self.errors.append(("entities", f"schema does not build: {err}"))
            return
        for stmt in ddl:
            try:
                self.conn.execute(stmt)
            except sqlite3.Error as err:
                table = re.search(r'(?:TABLE|ON)\s+"?(\w+)', stmt)
                where = jpath("entities", table.group(1)) if table else "entities"
                self.errors.append((where, f"SQLite refuses the table: {err}"))

    def _ref_ok(self, ref: str) -> bool:
        table, _, col = ref.partition(".")
        return col in self.schema.get(table, ())

    def close(self) -> None:
        self.conn.close()

    # ---- one statement ---------------------------------------------------------------
    def check(
        self,
        path: str,
        sql: str,
        kinds: tuple[StatementKind, ...],
        binds: Iterable[str],
        readable: set[str] | None = None,
        writable: set[str] | None = None,
        later: Iterable[str] = (),
        prepare: bool = True,
    ) -> list[str] | None:
        """Check one statement; return its output column names (SELECT) if it prepared,
        None after an error (``[]`` when names are unknown or ``prepare`` is False)."""
        n_before = len(self.errors)
        err = self.errors.append
        try:
            stmt = parse_one_statement(sql)
            kind = statement_kind(sql)
        except ValueError as exc:
            err((path, str(exc)))
            return None
        if kind not in kinds:
            want = "a SELECT" if kinds == SELECT else "an INSERT, UPDATE or DELETE"
            err((path, f"must be {want}, got {kind.upper()}"))
            return None
        binds, later = set(binds), set(later)
        for bad in bad_binds(stmt):
            err((path, f"bind {bad} is not supported; use :name binds"))
        for name in sorted(params_used(sql) - binds):
            hint = " (a let defined later)" if name in later else ""
            err((path, f"unknown bind :{name}{hint}; known: {', '.join(sorted(binds)) or 'none'}"))
        read, written = tables_read(stmt), tables_written(stmt)
        for table in sorted((read | written) - set(self.schema)):
            err((path, f"unknown table {table}"))
        if readable is not None:
            for table in sorted((read & set(self.schema)) - readable - (writable or set())):
                err((path, f"reads table {table}, which the tool does not declare in reads"))
        if writable is not None:
            for table in sorted((written & set(self.schema)) - writable):
                err((path, f"writes table {table}, which the tool does not declare in writes"))
        for qual, col in sorted(columns_used(stmt, self.schema), key=str):
            if qual is not None and qual in self.schema and col not in self.schema[qual]:
                if is_rowid(qual, col, self.schema):
                    continue  # SQLite's rowid / oid / _rowid_: valid for every table
                err((path, f"unknown column {qual}.{col}"))
        for call in nondeterminism(stmt):
            err((path, f"non-deterministic {call}: use :now and deterministic SQL"))
        if len(self.errors) > n_before:
            return None
        if not prepare:
            return []
        return self.prepare(path, sql, params_used(sql), run=kind == "select")

    def prepare(self, path: str, sql: str, binds: Iterable[str], run: bool) -> list[str] | None:
        """EXPLAIN the statement with NULL binds; for a SELECT also run it (empty tables)
        to learn the output column names exactly as the runtime will see them."""
        values = dict.fromkeys(binds)
        try:
            self.conn.execute("EXPLAIN " + sql, values).fetchall()
        except (sqlite3.Error, sqlite3.Warning) as exc:
            self.errors.append((path, f"SQLite cannot prepare it: {exc}"))
            return None
        if not run:
            return []
        steps = [0]

        def stop() -> int:
            steps[0] += 1
            return 1 if steps[0] > _MAX_VM_STEPS // 1000 else 0

        self.conn.set_progress_handler(stop, 1000)
        try:
            cur = self.conn.execute(sql, values)
            names = [d[0] for d in cur.description or []]
            cur.fetchall()  # run it to the end: a runaway query shows here
            return names
        except sqlite3.Error:
            if steps[0] > _MAX_VM_STEPS // 1000:
                self.errors.append(
                    (path, "does not finish even on the empty database: unbounded recursion?")
                )
                return None
            return []  # fails only with NULL inputs: prepared fine, names unknown
        finally:
            self.conn.set_progress_handler(None, 0)

    def check_expression(self, path: str, table: str, expression: str) -> None:
        """A CHECK expression: one boolean over the table's own columns, no subqueries."""
        wrapper = f'SELECT 1 FROM "{table}" WHERE ({expression})'
        try:
            stmt = parse_one_statement(wrapper)
        except ValueError as exc:
            self.errors.append((path, str(exc)))
            return
        clauses = [k for k in ("group", "having", "order", "limit", "joins") if stmt.args.get(k)]
        n_before = len(self.errors)
        if clauses or len(list(stmt.find_all(exp.Select))) > 1:
            self.errors.append((path, "a check is one expression over the row, no subqueries"))
        if list(stmt.find_all(exp.Placeholder, exp.Parameter)):
            self.errors.append((path, "a check cannot use binds"))
        cols = self.schema.get(table, ())
        for qual, col in sorted(columns_used(stmt, self.schema), key=str):
            if qual not in (None, table) or col not in cols:
                self.errors.append((path, f"unknown column {col} (a check sees only {table})"))
        for call in nondeterminism(stmt):
            self.errors.append((path, f"non-deterministic {call} in a check"))
        if len(self.errors) == n_before and table in self.schema:
            self.prepare(path, wrapper, (), run=False)

    def check_faker_sql(self, path: str, table: str, column: str, sql: str) -> None:
        """A seeding query: a SELECT that may read the row being filled as ``table.col``."""
        if self.check(path, sql, SELECT, (), prepare=False) is not None:
            self.prepare(path, f'UPDATE "{table}" SET "{column}" = ({sql})', (), run=False)

    # ---- the whole spec --------------------------------------------------------------
    def check_tool(self, name: str, tool: Tool) -> None:
        base = ("tools", name)
        readable, writable = set(tool.reads) | set(tool.writes), set(tool.writes)
        fixed = set(tool.params) | set(tool.generate) | {"now"}
        lets = list(tool.let)
        for i, (let_name, sql) in enumerate(tool.let.items()):
            binds = fixed | set(lets[:i])
            self.check(jpath(*base, "let", let_name), sql, SELECT, binds, readable, None, lets[i:])
        binds = fixed | set(lets)
        for i, pre in enumerate(tool.preconditions):
            path = jpath(*base, "preconditions", i)
            cols = self.check(f"{path}.check", pre.check, SELECT, binds, readable)
            self.check_message(f"{path}.error", pre.error, binds - {"now"}, cols)
        written: set[str] = set()
        for i, eff in enumerate(tool.effects):
            path = jpath(*base, "effects", i)
            self.check(f"{path}.sql", eff.sql, WRITE, binds, readable, writable)
            if eff.when is not None:
                self.check(f"{path}.when", eff.when, SELECT, binds, readable)
            try:
                written |= tables_written(parse_one_statement(eff.sql))
            except ValueError:
                written |= writable  # already reported; do not add noise
        for i, table in enumerate(tool.writes):
            if table in self.schema and table not in written:
                self.errors.append((jpath(*base, "writes", i), f"no effect writes {table}"))
        if tool.returns is not None:
            self.check_returns(base, tool, binds, readable)

    def check_returns(
        self, base: tuple[str, str], tool: Tool, binds: set[str], readable: set[str]
    ) -> None:
        ret = tool.returns
        assert ret is not None
        path = jpath(*base, "returns")
        cols = self.check(f"{path}.query", ret.query, SELECT, binds, readable)
        if cols:
            for i, col in enumerate(ret.json_columns):
                if col not in cols:
                    self.errors.append(
                        (f"{path}.json_columns[{i}]", f"{col} is not an output column")
                    )
        for key, ref in ret.references.items():
            kpath = jpath(*base, "returns", "references", key)
            field = re.split(r"[.\[]", key, maxsplit=1)[0]
            if cols and field not in cols:
                self.errors.append((kpath, f"{field} is not an output column of the query"))
            if not re.fullmatch(r"\w+\.\w+", ref) or not self._ref_ok(ref):
                self.errors.append((kpath, f"references unknown column {ref}"))

    def check_message(self, path: str, text: str, known: set[str], cols: list[str] | None) -> None:
        if cols is None or not text:
            return  # the query did not prepare: its output is unknown, already reported
        try:
            names = placeholders(text)
        except ValueError as exc:
            self.errors.append((path, f"malformed message: {exc}"))
            return
        for name in names:
            if name not in known and name not in cols:
                self.errors.append(
                    (
                        path,
                        f"unknown placeholder {{{name}}}; known: {', '.join(sorted(known | set(cols)))}",
                    )
                )

    def check_scope(self, index: int, cols: list[str] | None) -> None:
        """``invariants[i].scope`` (engine.runtime.invariants): tables the query reads, with their
        columns or links; the key (first output column) plainly named; no LIMIT. ``cols``:
        the output names SQLite gave the query (None: it did not prepare, already reported)."""
        inv, base = self.spec.invariants[index], jpath("invariants", index, "scope")
        try:
            expr = parse_one_statement(inv.violations)
        except ValueError:
            return  # reported with the violations field
        if inv.scope is not None and not inv.scope:
            self.errors.append((base, "empty scope: name the tables whose changes matter"))
        scope, read, bad = scope_columns(inv), tables_read(expr), []
        for table, entries in scope.items():
            entity = self.spec.entities.get(table)
            if entity is None:
                bad.append((table, f"unknown table {table}"))
                continue
            if table not in read:
                bad.append((table, f"the violations query does not read {table}"))
            if not entries:
                bad.append((table, "name at least one column"))
            for e in entries:
                via = link(self.spec, table, e) if "." in e else None
                if "." not in e and e not in entity.columns:
                    bad.append((table, f"unknown column {table}.{e}"))
                elif "." in e and via is None:
                    bad.append(
                        (table, f"{e}: not other.fk referencing {table}, nor other.col=column")
                    )
                elif via is not None and not any("." not in k for k in scope.get(via[0], ())):
                    bad.append((table, f"{e} needs {via[0]} in the scope, by its key column"))
        self.errors += [(jpath("invariants", index, "scope", t), m) for t, m in bad]
        if not scope or bad or cols is None:
            return
        first = (output_names(expr) or [None])[0]
        source = result_lineage(inv.violations, self.spec).get(first or "") or ""
        table, _, col = source.partition(".")
        if not first:
            self.errors.append((base, "the key is the first output column: name it plainly"))
        elif cols and cols[0] != first:
            self.errors.append((base, f"SQLite names the key {cols[0]!r}; alias it AS {first}"))
        elif expr.args.get("limit") or expr.args.get("offset"):
            self.errors.append((base, "a scoped query cannot use LIMIT/OFFSET"))
        elif table in scope and col not in scope[table]:
            msg = f"the key {first} is {source}, so {table} is scoped by {col}"
            self.errors.append((jpath("invariants", index, "scope", table), msg))
        elif stray := _unlinked_scope(expr, scope, source, column_map(self.spec)):
            t, c = stray
            msg = f"{t}.{c} is never compared with the key {first} ({source}) in the query"
            self.errors.append((jpath("invariants", index, "scope", t), msg))
        else:
            sql = scoped_violations_sql(index, inv.violations, first, ":_k0", 1)
            self.prepare(base, sql, {"now", "_k0"}, run=False)

    def check_all(self) -> None:
        spec = self.spec
        for tname, entity in spec.entities.items():
            for cname, col in entity.columns.items():
                cpath = jpath("entities", tname, "columns", cname)
                if col.check:
                    self.check_expression(f"{cpath}.check", tname, col.check)
                if col.faker is not None and col.faker.sql:
                    self.check_faker_sql(f"{cpath}.faker.sql", tname, cname, col.faker.sql)
            for i, chk in enumerate(entity.checks):
                self.check_expression(
                    jpath("entities", tname, "checks", i, "check"), tname, chk.check
                )
        for i, inv in enumerate(spec.invariants):
            path = jpath("invariants", i)
            cols = self.check(f"{path}.violations", inv.violations, SELECT, {"now"})
            self.check_message(f"{path}.message", inv.message, set(), cols)
            self.check_scope(i, cols)
        for name, tool in spec.tools.items():
            self.check_tool(name, tool)
        for i, rule in enumerate(spec.policy_rules):
            rule_tool = spec.tools.get(rule.tool)
            if rule_tool is None:
                continue  # reported with the rule's tool field
            t = rule_tool
            binds = set(t.params) | set(t.let) | set(t.generate) | {"now"}
            self.check(jpath("policy_rules", i, "violated"), rule.violated, SELECT, binds)


def check_sql(spec: DomainSpec, errors: Errors) -> None:
    """Append every SQL error of ``spec``; then, if all is clean, build the full schema."""
    checker = SqlChecker(spec, errors)
    try:
        checker.check_all()
    finally:
        checker.close()
    if errors:
        return
    conn = add_functions(sqlite3.connect(":memory:", isolation_level=None))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            create_sqlite(spec, conn)
    except Exception as exc:
        errors.append(("entities", f"the schema does not build in SQLite: {exc}"))
    finally:
        conn.close()


def _unlinked_scope(
    expr: exp.Expression, scope: dict[str, tuple[str, ...]], source: str, schema: Mapping[str, Any]
) -> tuple[str, str] | None:
    """A scope column (of a table other than the key's) that no chain of ``a = b``
    comparisons in the query ties to the key's column: a change there cannot be mapped to
    the violation it affects, so scoped checks would miss it. None when all are tied (or
    the query's comparisons cannot all be resolved: then nothing is claimed)."""
    if "." not in source:
        return None
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for eq in expr.find_all(exp.EQ):
        a, b = eq.this, eq.expression
        if not (isinstance(a, exp.Column) and isinstance(b, exp.Column)):
            continue
        ta, tb = resolve_column(a, schema), resolve_column(b, schema)
        if not (isinstance(ta, str) and isinstance(tb, str)):
            return None
        parent[find(f"{ta}.{a.name}")] = find(f"{tb}.{b.name}")
    key = find(source)
    for table, entries in sorted(scope.items()):
        for e in entries:
            if "." not in e and f"{table}.{e}" != source and find(f"{table}.{e}") != key:
                return table, e
    return None
