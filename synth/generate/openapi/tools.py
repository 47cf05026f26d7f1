"""Tool builders: one per operation kind, as spec data (validated later by ``load_spec``).

Every write checks what the document implies before it acts (the parent exists, the item
exists, a parent with sub-resources is not deleted, a state move is not a no-op), so
procedural testing sees anticipated rejections where a real server would answer 4xx.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from synth.generate.openapi.columns import ColumnPlan
from synth.generate.openapi.model import Field, Operation, Resource
from synth.generate.openapi.naming import column_name, humanize, snake

LIST_LIMIT = 100
TOUCH = re.compile(r"^(update|modify|last_modified|updated)(_time|_at|_date)?$|^updated$")
BIRTH = re.compile(r"^(create|creation|created)(_time|_at|_date)?$")


@dataclass
class ArrayPlan:
    """A child table holding one array-of-objects field, rows ordered by ``position``."""

    table: str
    field_name: str  # the output name in get results
    fk: str
    columns: list[ColumnPlan]


@dataclass
class TablePlan:
    name: str
    single: str
    pk: str
    prefix: str
    parent: str  # parent table ("users" for top-level resources)
    parent_pk: str
    fk: str
    resource: Resource
    columns: list[ColumnPlan] = field(default_factory=list)
    arrays: list[ArrayPlan] = field(default_factory=list)
    children: list[TablePlan] = field(default_factory=list)  # sub-resource tables

    @property
    def label(self) -> str:
        return humanize(self.single)

    @property
    def status(self) -> ColumnPlan | None:
        return next((c for c in self.columns if c.status), None)

    @property
    def writable(self) -> list[ColumnPlan]:
        return [c for c in self.columns if c.writable]


def article(noun: str) -> str:
    """The noun with its article: a pet, an event."""
    return ("an " if noun[:1].lower() in "aeio" else "a ") + noun


def _sentences(text: str, limit: int = 240) -> str:
    text = re.sub(r"\s+", " ", re.sub(r"[`*]", "", text)).strip()
    if len(text) <= limit:
        return text
    cut = text[:limit]
    dot = cut.rfind(". ")
    return cut[: dot + 1] if dot > 40 else cut.rstrip() + "..."


def describe(generic: str, op: Operation) -> str:
    doc = _sentences(op.description)
    return f"{generic} {doc}".strip() if doc and doc.lower() not in generic.lower() else generic


def param_for(c: ColumnPlan, required: bool) -> dict[str, Any]:
    col = c.column
    p: dict[str, Any] = {"description": _sentences(col.description, 160) or humanize(c.name)}
    kind = {
        "string": "string",
        "text": "string",
        "integer": "integer",
        "decimal": "number",
        "boolean": "boolean",
        "enum": "enum",
        "date": "date",
        "datetime": "datetime",
    }[col.type]
    p["type"] = kind
    if kind == "enum":
        p["values"] = list(col.values or [])
    if kind in ("integer", "number"):
        for bound in ("minimum", "maximum"):
            v = getattr(c.field, bound)
            if v is not None and abs(v) < 1e12:
                p[bound] = v
    if kind == "string":
        p["max_length"] = col.max_length or 200
        p["min_length"] = max(1, c.field.min_length or 1)
        if c.field.pattern and _usable_pattern(c.field.pattern):
            p["pattern"] = c.field.pattern
    if not required:
        p["required"] = False
    return p


def _usable_pattern(pat: str) -> bool:
    try:
        re.compile(pat)
    except re.error:
        return False
    return len(pat) < 200


def _exists(t: TablePlan, param: str) -> dict[str, str]:
    return {
        "check": f"SELECT 1 FROM {t.name} WHERE {t.pk} = :{param}",
        "error": f"{t.label.capitalize()} {{{param}}} not found.",
    }


def _parent_exists(t: TablePlan, parent_label: str) -> dict[str, str]:
    return {
        "check": f"SELECT 1 FROM {t.parent} WHERE {t.parent_pk} = :{t.fk}",
        "error": f"{parent_label.capitalize()} {{{t.fk}}} not found.",
    }


def _fk_param(t: TablePlan, parent_label: str) -> dict[str, Any]:
    return {
        "type": "string",
        "description": f"Id of the {parent_label} the {t.label} belongs to.",
        "references": f"{t.parent}.{t.parent_pk}",
    }


def _pk_param(t: TablePlan) -> dict[str, Any]:
    return {
        "type": "string",
        "description": f"Id of the {t.label}.",
        "references": f"{t.name}.{t.pk}",
    }


def list_tool(t: TablePlan, op: Operation, parent_label: str) -> dict[str, Any]:
    """Rows of one parent; query parameters that name a column (and enum columns when the
    document offers a free ``filter``) become optional equality filters."""
    params: dict[str, Any] = {t.fk: _fk_param(t, parent_label)}
    names = {f.name for f in op.query}
    cols = {c.name: c for c in t.columns}
    filters = []
    for q in op.query:
        c = cols.get(column_name(q.name))
        if c is not None and c.column.type in ("enum", "boolean", "string", "integer", "date"):
            filters.append(c)
    if "filter" in names or "q" in names:
        filters += [c for c in t.columns if c.column.type == "enum" and c not in filters]
    where = [f"{t.fk} = :{t.fk}"]
    for c in filters[:4]:
        params[c.name] = {
            **param_for(c, False),
            "description": f"Only {humanize(t.name)} with this {humanize(c.name)}.",
        }
        params[c.name].pop("min_length", None)
        where.append(f"(:{c.name} IS NULL OR {c.name} = :{c.name})")
    shown = [t.pk] + [c.name for c in _summary_columns(t)]
    return {
        "description": describe(f"List the {humanize(t.name)} of {article(parent_label)}.", op),
        "params": params,
        "reads": sorted({t.parent, t.name}),
        "preconditions": [_parent_exists(t, parent_label)],
        "returns": {
            "query": f"SELECT {', '.join(shown)} FROM {t.name} WHERE {' AND '.join(where)} "
            f"ORDER BY {t.pk} LIMIT {LIST_LIMIT}",
            "shape": "list",
        },
    }


def _summary_columns(t: TablePlan) -> list[ColumnPlan]:
    ranked = sorted(
        t.columns,
        key=lambda c: (
            not c.status,
            not re.search(r"(name|title|email)", c.name),
            c.column.type == "text",
        ),
    )
    return ranked[:4]


def get_tool(t: TablePlan, op: Operation) -> dict[str, Any]:
    cols = [t.pk, t.fk] + [c.name for c in t.columns]
    select = [f"x.{c}" for c in cols]
    json_cols = []
    for a in t.arrays:
        pairs = ", ".join(f"'{c.name}', a.{c.name}" for c in a.columns)
        select.append(
            f"(SELECT json_group_array(json_object({pairs})) FROM "
            f"(SELECT * FROM {a.table} WHERE {a.fk} = x.{t.pk} ORDER BY position) a) AS {a.field_name}"
        )
        json_cols.append(a.field_name)
    ret: dict[str, Any] = {
        "query": f"SELECT {', '.join(select)} FROM {t.name} x WHERE x.{t.pk} = :{t.pk}"
    }
    if json_cols:
        ret["json_columns"] = json_cols
    return {
        "description": describe(f"Get {article(t.label)} by id.", op),
        "params": {t.pk: _pk_param(t)},
        "reads": sorted({t.name, *[a.table for a in t.arrays]}),
        "preconditions": [_exists(t, t.pk)],
        "returns": ret,
    }


def _returns_row(t: TablePlan, key: str) -> dict[str, Any]:
    shown = [t.pk] + [c.name for c in _summary_columns(t)]
    return {"query": f"SELECT {', '.join(shown)} FROM {t.name} WHERE {t.pk} = :{key}"}


def create_tool(t: TablePlan, op: Operation, parent_label: str, pattern: str) -> dict[str, Any]:
    params: dict[str, Any] = {t.fk: _fk_param(t, parent_label)}
    cols, vals = [t.pk, t.fk], [f":{t.pk}", f":{t.fk}"]
    for c in t.columns:
        if c.writable:
            params[c.name] = param_for(c, not c.column.nullable)
            cols.append(c.name)
            vals.append(f":{c.name}")
        elif c.status and c.column.values:
            cols.append(c.name)
            vals.append(_literal(_initial(c.column.values)))
        elif c.column.type == "datetime" and (BIRTH.match(c.name) or TOUCH.match(c.name)):
            cols.append(c.name)
            vals.append(":now")
    return {
        "description": describe(f"Create {article(t.label)} in {article(parent_label)}.", op),
        "params": params,
        "reads": sorted({t.parent, t.name}),
        "writes": [t.name],
        "generate": {t.pk: {"pattern": pattern, "table": t.name, "column": t.pk}},
        "preconditions": [_parent_exists(t, parent_label)],
        "effects": [f"INSERT INTO {t.name} ({', '.join(cols)}) VALUES ({', '.join(vals)})"],
        "returns": _returns_row(t, t.pk),
    }


def update_tool(t: TablePlan, op: Operation, partial: bool) -> dict[str, Any] | None:
    """PUT replaces every writable field (required ones must be given); PATCH changes only the
    fields given (an empty PATCH is a no-op, as on a real server)."""
    fields = t.writable
    if not fields:
        return None
    params: dict[str, Any] = {t.pk: _pk_param(t)}
    sets = []
    for c in fields:
        params[c.name] = param_for(c, False if partial else not c.column.nullable)
        sets.append(
            f"{c.name} = COALESCE(:{c.name}, {c.name})" if partial else f"{c.name} = :{c.name}"
        )
    sets += [
        f"{c.name} = :now"
        for c in t.columns
        if not c.writable and c.column.type == "datetime" and TOUCH.match(c.name)
    ]
    pre = [_exists(t, t.pk)]
    verb = "Change some fields of" if partial else "Replace the fields of"
    return {
        "description": describe(f"{verb} {article(t.label)}.", op),
        "params": params,
        "reads": [t.name],
        "writes": [t.name],
        "preconditions": pre,
        "effects": [f"UPDATE {t.name} SET {', '.join(sets)} WHERE {t.pk} = :{t.pk}"],
        "returns": _returns_row(t, t.pk),
    }


RESTRICT_WORDS = re.compile(
    r"(must be empty|is empty|has no|have no|without|no \w+ left|non-empty)", re.I
)
FORCE_PARAMS = ("force", "cascade", "recursive", "allow_missing_children", "delete_children")


def _subtree(
    t: TablePlan, key_sql: str, lets: dict[str, str]
) -> list[tuple[TablePlan | ArrayPlan, str]]:
    """(table, WHERE clause) for every row under ``t``'s row, deepest first: the order a
    cascading delete must run in to keep foreign keys valid. The ids of each level with
    rows below it are captured first (``lets``, JSON arrays) so every deleted row holds a
    value of the call: the deletes address their rows, level by level."""
    out: list[tuple[TablePlan | ArrayPlan, str]] = []
    for child in t.children:
        where = f"{child.fk} IN ({key_sql})"
        if child.children or child.arrays:
            name = f"{child.name[:52]}_ids"
            while name in lets:
                name = "x" + name
            lets[name] = f"SELECT json_group_array({child.pk}) FROM {child.name} WHERE {where}"
            out += _subtree(child, f"SELECT value FROM json_each(:{name})", lets)
        out.append((child, where))
    out += [(a, f"{a.fk} IN ({key_sql})") for a in t.arrays]
    return out


def delete_tool(t: TablePlan, op: Operation) -> dict[str, Any]:
    """Delete an item and, as AIP-135 deletes do, what lives under it. A ``force`` query
    parameter makes the cascade opt-in (refused while children exist unless forced); a
    description that asks for an empty item (``an owner who has no pets left``) refuses it."""
    params: dict[str, Any] = {t.pk: _pk_param(t)}
    force = next(
        (q for q in op.query if snake(q.name) in FORCE_PARAMS and q.kind == "boolean"), None
    )
    restrict = force is None and bool(RESTRICT_WORDS.search(op.description))
    if force is not None:
        params["force"] = {
            "type": "boolean",
            "required": False,
            "description": _sentences(force.description, 160) or "Also delete what it contains.",
        }
    pre = [_exists(t, t.pk)]
    for child in t.children if (restrict or force is not None) else []:
        cond = f"NOT EXISTS (SELECT 1 FROM {child.name} WHERE {child.fk} = :{t.pk})"
        hint = "pass force to delete them too" if force is not None else "delete them first"
        pre.append(
            {
                "check": f"SELECT COALESCE(:force, 0) OR {cond}"
                if force is not None
                else f"SELECT {cond}",
                "error": f"{t.label.capitalize()} {{{t.pk}}} still has {humanize(child.name)}; {hint}.",
            }
        )
    key = f"SELECT :{t.pk}"
    lets: dict[str, str] = {}
    below = [] if restrict else _subtree(t, key, lets)
    arrays = [(a, f"{a.fk} IN ({key})") for a in t.arrays] if restrict else []
    effects = [
        f"DELETE FROM {x.table if isinstance(x, ArrayPlan) else x.name} WHERE {w}"
        for x, w in below + arrays
    ]
    effects.append(f"DELETE FROM {t.name} WHERE {t.pk} = :{t.pk}")
    touched = sorted(
        {t.name, *[x.table if isinstance(x, ArrayPlan) else x.name for x, _ in below + arrays]}
    )
    gone = sorted({humanize(x.name) for x, _ in below if isinstance(x, TablePlan)})
    what = f" and its {', '.join(gone)}" if gone else ""
    return {
        "description": describe(f"Delete {article(t.label)}{what}.", op),
        "params": params,
        "reads": sorted({t.name, *[c.name for c in t.children], *touched}),
        "writes": touched,
        "let": lets,
        "preconditions": pre,
        "effects": effects,
        "returns": {"query": f"SELECT :{t.pk} AS {t.pk}, 'deleted' AS result"},
    }


def field_tool(t: TablePlan, op: Operation, cols: list[ColumnPlan]) -> dict[str, Any]:
    """A custom verb whose request sets named fields of the item (``resize(size)``)."""
    params: dict[str, Any] = {t.pk: _pk_param(t)}
    sets = []
    for c in cols:
        params[c.name] = param_for(c, True)
        sets.append(f"{c.name} = :{c.name}")
    sets += [
        f"{c.name} = :now"
        for c in t.columns
        if not c.writable and c.column.type == "datetime" and TOUCH.match(c.name) and c not in cols
    ]
    fields = ", ".join(humanize(c.name) for c in cols)
    return {
        "description": describe(
            f"{humanize(op.verb).capitalize()} {article(t.label)}: sets its {fields}.", op
        ),
        "params": params,
        "reads": [t.name],
        "writes": [t.name],
        "preconditions": [_exists(t, t.pk)],
        "effects": [f"UPDATE {t.name} SET {', '.join(sets)} WHERE {t.pk} = :{t.pk}"],
        "returns": _returns_row(t, t.pk),
    }


def transition_tool(t: TablePlan, op: Operation, target: str) -> dict[str, Any]:
    st = t.status
    assert st is not None
    sets = [f"{st.name} = {_literal(target)}"]
    sets += [
        f"{c.name} = :now"
        for c in t.columns
        if not c.writable and c.column.type == "datetime" and TOUCH.match(c.name)
    ]
    return {
        "description": describe(
            f"{humanize(op.verb).capitalize()} {article(t.label)}: its {humanize(st.name)} becomes {target}.",
            op,
        ),
        "params": {t.pk: _pk_param(t)},
        "reads": [t.name],
        "writes": [t.name],
        "preconditions": [
            _exists(t, t.pk),
            {
                "check": f"SELECT {st.name} IS NOT {_literal(target)}, {st.name} FROM {t.name} WHERE {t.pk} = :{t.pk}",
                "error": f"{t.label.capitalize()} {{{t.pk}}} is already {target}.",
            },
        ],
        "effects": [f"UPDATE {t.name} SET {', '.join(sets)} WHERE {t.pk} = :{t.pk}"],
        "returns": {"query": f"SELECT {t.pk}, {st.name} FROM {t.name} WHERE {t.pk} = :{t.pk}"},
    }


def _literal(v: str) -> str:
    return "'" + v.replace("'", "''") + "'"


def _initial(values: list[str]) -> str:
    for v in values:
        if re.search(r"(ACTIVE|PENDING|CREATED|DRAFT|NEW|OPEN|READY|ENABLED)", v.upper()):
            return v
    return values[0]


def query_field_names(fields: list[Field]) -> list[str]:
    return [f.name for f in fields]
