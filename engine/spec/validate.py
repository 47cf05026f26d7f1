"""Full validation of a domain spec: every error, each with the path of its field.

``engine.spec.models`` checks each model on its own; here are the checks that need the whole
spec (names, keys, foreign keys and their cycles, defaults, tool declarations), then
``engine.spec.validate_sql`` checks every SQL text against the schema. A spec that passes
can be built, seeded and run without a schema or SQL error.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, get_args

import networkx as nx
from pydantic import ValidationError

from engine.errors import SpecError
from engine.spec.fakerhints import hint_problems
from engine.spec.models import (
    DATE_FMT,
    DATETIME_FMT,
    NAME_RE,
    TOOL_NAME_RE,
    Builtin,
    Column,
    DomainSpec,
    Param,
)
from engine.spec.patterns import pattern_is_numeric, pattern_radices
from engine.spec.source import read_spec_data
from engine.spec.textcheck import pattern_problem, template_problem
from engine.spec.validate_sql import Errors, check_sql, jpath

BIND_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}\Z")
_TYPE_GROUP = {"string": "text", "text": "text", "enum": "text"}  # FK-compatible types
_PARAM_COLUMN_TYPES = {
    "string": {"string", "text", "enum", "date", "datetime"},
    "enum": {"string", "text", "enum"},
    "integer": {"integer"},
    "number": {"integer", "decimal"},
    "boolean": {"boolean"},
    "date": {"date"},
    "datetime": {"datetime"},
}


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _pydantic_errors(exc: ValidationError) -> Errors:
    out = []
    for e in exc.errors():
        loc = [p for p in e["loc"] if isinstance(p, int | str)]
        msg = e["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        out.append((jpath(*loc) or "(spec)", msg))
    return out


# ---- values ---------------------------------------------------------------------------
def _time_error(value: Any, fmt: str, what: str) -> str | None:
    if isinstance(value, dt.datetime):  # YAML reads unquoted timestamps as objects; their
        return f"quote the {what}: write it as text like '2024-05-15 15:00:00'"  # JSON has a T
    if isinstance(value, dt.date):
        return None if what == "date" else f"expected a {what} text, got a date"
    if not isinstance(value, str):
        return f"expected a {what} text, got {type(value).__name__}"
    try:
        dt.datetime.strptime(value, fmt)
    except ValueError:
        return f"{value!r} is not a {what} like {dt.datetime(2024, 5, 15, 15).strftime(fmt)!r}"
    return None


def _value_error(kind: str, value: Any, values: list | None = None) -> str | None:
    """Why ``value`` does not fit a column/param type, or None if it does."""
    if kind in ("string", "text", "enum") and not isinstance(value, str):
        return f"expected text, got {type(value).__name__} {value!r}"
    if kind == "enum" and values is not None and value not in values:
        return f"{value!r} is not one of the enum values {values}"
    if kind == "integer" and (isinstance(value, bool) or not isinstance(value, int)):
        return f"expected an integer, got {value!r}"
    if kind in ("decimal", "number") and (
        isinstance(value, bool) or not isinstance(value, int | float)
    ):
        return f"expected a number, got {value!r}"
    if kind == "boolean" and not isinstance(value, bool):
        return f"expected true or false, got {value!r}"
    if kind == "date":
        return _time_error(value, DATE_FMT, "date")
    if kind == "datetime":
        return _time_error(value, DATETIME_FMT, "datetime")
    if kind == "array" and not isinstance(value, list):
        return f"expected a list, got {value!r}"
    return None


# ---- entities -------------------------------------------------------------------------
def _check_column(spec: DomainSpec, table: str, name: str, col: Column, errs: Errors) -> None:
    path = jpath("entities", table, "columns", name)
    if not NAME_RE.match(name):
        errs.append((path, f"column name {name!r} must match {NAME_RE.pattern}"))
    if col.default is not None:
        msg = _value_error(col.type, col.default, col.values)
        if msg:
            errs.append((f"{path}.default", f"bad default: {msg}"))
    for field in ("min_value", "max_value"):
        value = getattr(col, field)
        if value is not None:
            fmt = DATE_FMT if col.type == "date" else DATETIME_FMT
            msg = (
                _time_error(value, fmt, col.type)
                if col.type in ("date", "datetime")
                else f"only for date/datetime columns, not {col.type}"
            )
            if msg:
                errs.append((f"{path}.{field}", msg))
    if col.minimum is not None and col.maximum is not None and col.minimum > col.maximum:
        errs.append((f"{path}.minimum", "minimum is above maximum"))
    if col.faker is not None:
        for field, problem in hint_problems(col.faker.provider, col.faker.args, col.faker.choices):
            errs.append((f"{path}.faker.{field}", problem))
    if col.faker and col.faker.choices and col.type == "enum":
        for i, choice in enumerate(col.faker.choices):
            if choice not in (col.values or []):
                errs.append((f"{path}.faker.choices[{i}]", f"{choice!r} is not an enum value"))
    if col.on_delete and not col.references:
        errs.append((f"{path}.on_delete", "on_delete needs references"))
    if col.on_delete == "set null" and not col.nullable:
        errs.append((f"{path}.on_delete", "'set null' needs a nullable column"))
    if col.references:
        _check_reference(spec, f"{path}.references", col.references, col.type, errs)


def _check_reference(spec: DomainSpec, path: str, ref: str, ctype: str, errs: Errors) -> None:
    rtable, _, rcol = ref.partition(".")
    entity = spec.entities.get(rtable)
    if entity is None:
        errs.append((path, f"references unknown table {rtable}"))
        return
    target = entity.columns.get(rcol)
    if target is None:
        errs.append((path, f"references unknown column {rtable}.{rcol}"))
        return
    unique = target.unique or entity.primary_key == [rcol] or [rcol] in entity.unique
    if not unique:
        errs.append((path, f"references {ref}, which is neither the primary key nor unique"))
    if _TYPE_GROUP.get(ctype, ctype) != _TYPE_GROUP.get(target.type, target.type):
        errs.append((path, f"type {ctype} does not match {ref} of type {target.type}"))


def _check_fk_cycles(spec: DomainSpec, errs: Errors) -> None:
    """NOT NULL foreign keys around a cycle make seeding impossible (no row can go first)."""
    graph = nx.DiGraph()
    for table, entity in spec.entities.items():
        for name, col in entity.columns.items():
            target = (col.references or "").partition(".")[0]
            fresh = not graph.has_edge(table, target)
            if target in spec.entities and target != table and not col.nullable and fresh:
                graph.add_edge(table, target, column=name)
    # one cycle per strongly connected component: enumerating every cycle is exponential
    # (10 tables with NOT NULL foreign keys to each other have millions of them)
    found = []
    for comp in nx.strongly_connected_components(graph):
        if len(comp) < 2:
            continue
        start = min(comp)
        sub = graph.subgraph(comp)
        cycle = [start]
        for _ in range(len(comp)):  # walk the smallest successor until the walk closes
            nxt = min(sub.successors(cycle[-1]))
            if nxt in cycle:
                cycle = cycle[cycle.index(nxt) :]
                break
            cycle.append(nxt)
        i = cycle.index(min(cycle))
        found.append(cycle[i:] + cycle[:i])
    for cycle in sorted(found, key=lambda c: (len(c), c)):
        col = graph.edges[cycle[0], cycle[1 % len(cycle)]]["column"]
        loop = " -> ".join([*cycle, cycle[0]])
        errs.append(
            (
                jpath("entities", cycle[0], "columns", col, "references"),
                f"NOT NULL foreign keys form a cycle {loop}: seeding is impossible; make one nullable",
            )
        )


def _check_entities(spec: DomainSpec, errs: Errors) -> None:
    for table, entity in spec.entities.items():
        base = jpath("entities", table)
        if not NAME_RE.match(table) or table.startswith("sqlite_"):
            errs.append((base, f"table name {table!r} must match {NAME_RE.pattern}, not sqlite_*"))
        if not entity.primary_key:
            errs.append((base, "no primary key: mark a column primary_key: true"))
        for name, col in entity.columns.items():
            _check_column(spec, table, name, col, errs)
        for i, key_col in enumerate(entity.natural_key or []):
            if key_col not in entity.columns:
                errs.append((f"{base}.natural_key[{i}]", f"unknown column {key_col}"))
        for i, group in enumerate(entity.unique):
            for j, unique_col in enumerate(group):
                if unique_col not in entity.columns:
                    errs.append((f"{base}.unique[{i}][{j}]", f"unknown column {unique_col}"))
        _unique_names(f"{base}.checks", [c.name for c in entity.checks], errs)
    _check_fk_cycles(spec, errs)


def _unique_names(path: str, names: list[str], errs: Errors) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if not re.fullmatch(r"\w+", name):
            errs.append((f"{path}[{i}].name", f"name {name!r} must be letters, digits and _"))
        if name in seen:
            errs.append((f"{path}[{i}].name", f"duplicate name {name!r}"))
        seen.add(name)


# ---- tools ----------------------------------------------------------------------------
def _check_param(spec: DomainSpec, path: str, param: Param, errs: Errors) -> None:
    if param.pattern is not None:
        problem = pattern_problem(param.pattern)
        if problem:
            errs.append((f"{path}.pattern", problem))
    if param.default is not None:
        msg = _value_error(param.type, param.default, param.values)
        if msg:
            errs.append((f"{path}.default", f"bad default: {msg}"))
    if param.items is not None:
        _check_param(spec, f"{path}.items", param.items, errs)
    if param.references is None:
        return
    rtable, _, rcol = param.references.partition(".")
    target = spec.entities.get(rtable)
    if target is None or rcol not in target.columns:
        errs.append((f"{path}.references", f"references unknown column {param.references}"))
        return
    col = target.columns[rcol]
    if col.type not in _PARAM_COLUMN_TYPES.get(param.type, {col.type}):
        errs.append(
            (f"{path}.references", f"param type {param.type} does not fit {col.type} column")
        )
    if param.type == "enum" and col.values is not None:
        extra = [v for v in param.values or [] if v not in col.values]
        if extra:
            errs.append((f"{path}.values", f"{extra} are not values of {param.references}"))


def _check_tools(spec: DomainSpec, errs: Errors) -> None:
    builtins = set(get_args(Builtin))
    for name, tool in spec.tools.items():
        base = jpath("tools", name)
        if not TOOL_NAME_RE.match(name):
            errs.append((base, f"tool name {name!r} must match {TOOL_NAME_RE.pattern}"))
        if name in builtins:
            errs.append((base, f"tool name {name!r} clashes with a builtin"))
        for field in ("reads", "writes"):
            if field not in tool.model_fields_set:
                continue  # inferred from the SQL: an unknown table is reported there, once
            for i, table in enumerate(getattr(tool, field)):
                if table not in spec.entities:
                    errs.append((f"{base}.{field}[{i}]", f"unknown table {table}"))
        seen: dict[str, str] = {"now": "the clock"}
        for kind, names in (
            ("params", tool.params),
            ("generate", tool.generate),
            ("let", tool.let),
        ):
            for bind in names:
                if not BIND_RE.match(bind):
                    errs.append((jpath(*base.split("."), kind, bind), "not a valid bind name"))
                if bind in seen:
                    errs.append(
                        (jpath(*base.split("."), kind, bind), f"name clashes with {seen[bind]}")
                    )
                seen[bind] = f"{kind}.{bind}"
        for pname, param in tool.params.items():
            _check_param(spec, jpath("tools", name, "params", pname), param, errs)
        for i, pre in enumerate(tool.preconditions):
            problem = template_problem(pre.error)
            if problem:
                errs.append((f"{base}.preconditions[{i}].error", problem))
        for gname, gen in tool.generate.items():
            gpath = jpath("tools", name, "generate", gname)
            entity = spec.entities.get(gen.table)
            if entity is None:
                errs.append((f"{gpath}.table", f"unknown table {gen.table}"))
            elif gen.column not in entity.columns:
                errs.append((f"{gpath}.column", f"unknown column {gen.table}.{gen.column}"))
            elif entity.columns[gen.column].type == "integer" and not pattern_is_numeric(
                gen.pattern
            ):
                errs.append((f"{gpath}.pattern", "makes text ids but the column is integer"))
            if not pattern_radices(gen.pattern):
                errs.append((f"{gpath}.pattern", "needs '#' or '?' to make more than one id"))


def _check_rules(spec: DomainSpec, errs: Errors) -> None:
    _unique_names("invariants", [i.name for i in spec.invariants], errs)
    _unique_names("policy_rules", [r.name for r in spec.policy_rules], errs)
    for i, inv in enumerate(spec.invariants):
        problem = template_problem(inv.message)
        if problem:
            errs.append((f"invariants[{i}].message", problem))
    for i, rule in enumerate(spec.policy_rules):
        if rule.tool not in spec.tools:
            errs.append((f"policy_rules[{i}].tool", f"unknown tool {rule.tool}"))
    if not TOOL_NAME_RE.match(spec.name):
        errs.append(("name", f"domain name {spec.name!r} must match {TOOL_NAME_RE.pattern}"))


# ---- entry points ---------------------------------------------------------------------
MAX_TABLES, MAX_TOOLS, MAX_COLUMNS, MAX_PARAMS, MAX_INVARIANTS = 200, 1000, 200, 64, 500
MAX_SQL = 20_000  # characters of one SQL text


def _check_size(spec: DomainSpec, errs: Errors) -> None:
    """Bounds that keep a build finite: far above any real domain (the paper's have 5-22
    tables and ~50 tools), far below what makes validation, seeding or testing crawl."""
    for what, n, most in (
        ("entities", len(spec.entities), MAX_TABLES),
        ("tools", len(spec.tools), MAX_TOOLS),
        ("invariants", len(spec.invariants), MAX_INVARIANTS),
    ):
        if n > most:
            errs.append((what, f"{n} {what}; at most {most} in one domain"))
    for table, entity in spec.entities.items():
        if len(entity.columns) > MAX_COLUMNS:
            errs.append((jpath("entities", table, "columns"), f"more than {MAX_COLUMNS} columns"))
    for name, tool in spec.tools.items():
        if len(tool.params) > MAX_PARAMS:
            errs.append((jpath("tools", name, "params"), f"more than {MAX_PARAMS} params"))
        texts = [*tool.let.values(), *(p.check for p in tool.preconditions)]
        texts += [e.sql for e in tool.effects] + ([tool.returns.query] if tool.returns else [])
        if any(len(t) > MAX_SQL for t in texts):
            errs.append((jpath("tools", name), f"an SQL text longer than {MAX_SQL} characters"))


def _validate(data: dict[str, Any] | DomainSpec) -> tuple[DomainSpec | None, Errors]:
    if isinstance(data, DomainSpec):
        spec = data
    else:
        try:
            spec = DomainSpec.model_validate(data)
        except ValidationError as exc:
            return None, _pydantic_errors(exc)
    errs: Errors = []
    _check_size(spec, errs)
    if errs:  # checking a spec of 1,000 tables in depth only wastes time
        return spec, errs
    _check_entities(spec, errs)
    _check_tools(spec, errs)
    _check_rules(spec, errs)
    check_sql(spec, errs)
    unique = list(dict.fromkeys((p, _one_line(m)) for p, m in errs))
    return spec, unique


def validate_spec(data: dict[str, Any] | DomainSpec) -> list[tuple[str, str]]:
    """All errors of a spec as (field path, message); empty means valid."""
    return _validate(data)[1]


def _read(path: Path, source: str) -> dict[str, Any]:
    try:
        return read_spec_data(path)
    except SpecError as exc:  # the same errors, named by the caller's source
        raise SpecError(exc.errors, source) from None


def load_spec(
    src: str | Path | dict[str, Any] | DomainSpec, source: str | None = None
) -> DomainSpec:
    """Load (from a YAML/JSON file, plain data or a model) and fully validate a spec.

    Raises ``SpecError`` whose one-line message names the source and the first errors.
    """
    if isinstance(src, str | Path):
        source = source or str(src)
        src = _read(Path(src), source)
    spec, errs = _validate(src)
    if errs or spec is None:
        name = src.get("name") if isinstance(src, dict) else getattr(src, "name", None)
        raise SpecError(errs, source or f"spec {name or ''}".strip())
    return spec
