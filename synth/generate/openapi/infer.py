"""ApiModel -> DomainSpec: resources become tables under a ``users`` table (the person the
agent serves), fields become typed columns, operations become tools; the report explains
every operation and field that did not make it.
"""

from __future__ import annotations

import re
from typing import Any

from engine import DomainSpec, load_spec
from synth.generate.openapi import tools as T
from synth.generate.openapi.columns import plan_columns
from synth.generate.openapi.model import ApiModel, OpenAPIError, Resource
from synth.generate.openapi.naming import (
    RESERVED,
    column_name,
    humanize,
    id_prefix,
    singular,
    snake,
    unique_name,
)
from synth.generate.openapi.report import CompileReport, FieldOutcome, OpOutcome
from synth.generate.openapi.verbs import target_state
from synth.generate.openapi.world import (
    USERS,
    immutable_rule,
    policy_text,
    users_entity,
    users_tools,
)

MAX_ARRAYS = 2
ROWS = {0: 40, 1: 60}
NOW = "2024-05-15 15:00:00"
MAX_OPERATIONS = 150


def _table_name(r: Resource, model: ApiModel, taken: set[str]) -> str:
    """The collection name; on a clash, qualified by the segment above it in the document
    (``organizations.settings`` -> ``organizations_settings``)."""
    base = snake(r.name)
    if base in RESERVED or base == USERS or base in taken:
        segs = [x for x in re.split(r"[./]", r.key) if x and not x.startswith("{")]
        above = segs[-2] if len(segs) > 1 else None
        parent = model.resources.get(r.parent) if r.parent else None
        qual = above or (parent.name if parent else None)
        base = snake(f"{singular(snake(qual))}_{r.name}") if qual else base + "_items"
        if base in RESERVED:
            base += "_items"
    return unique_name(base, taken)


def compile_model(
    model: ApiModel, name: str | None = None, max_operations: int = MAX_OPERATIONS
) -> tuple[DomainSpec, CompileReport]:
    """The domain spec of an API model and the explained report of what was compiled.

    A world holds at most ``max_operations`` operations (a few very large APIs have 500):
    resources are taken shallow first with their ancestors, the rest are reported."""
    report = CompileReport(api=model.name, source=model.source)
    for s in model.skipped:
        report.operations.append(OpOutcome(s.what, s.kind, s.where, reason=s.reason))
    taken: set[str] = {USERS}
    plans: dict[str, T.TablePlan] = {}
    prefixes: set[str] = set()
    order = _parent_first(model)
    kept = _within_cap(model, order, max_operations)
    for key in order:
        r = model.resources[key]
        if not r.operations:
            continue
        if key not in kept:
            for op in r.operations:
                report.operations.append(
                    OpOutcome(
                        op.op_id,
                        op.kind,
                        op.where,
                        reason=f"world size cap: at most {max_operations} operations per world",
                    )
                )
            continue
        tname = _table_name(r, model, taken)
        parent_key = r.parent
        while parent_key is not None and parent_key not in plans:
            parent_key = (
                model.resources[parent_key].parent if parent_key in model.resources else None
            )
        parent = plans[parent_key] if parent_key else None
        single = singular(tname)
        pk = f"{single}_id"
        prefix = _prefix(tname, prefixes)
        fk = f"{parent.single}_id" if parent else "user_id"
        if fk == pk:
            fk = f"parent_{fk}"
        plan = T.TablePlan(
            name=tname,
            single=single,
            pk=pk,
            prefix=prefix,
            parent=parent.name if parent else USERS,
            parent_pk=parent.pk if parent else "user_id",
            fk=fk,
            resource=r,
        )
        arrays = [
            f for f in r.fields if f.kind == "array" and f.items_kind == "object" and f.children
        ][:MAX_ARRAYS]
        cols, dropped = plan_columns(
            [f for f in r.fields if f not in arrays], tname, {pk, fk, "position", "now"}
        )
        plan.columns = cols
        for f, why in dropped:
            report.fields.append(FieldOutcome(tname, f.name, f.where, why))
        for f in arrays:
            a = _array_plan(plan, f, taken, report)
            if a is not None:
                plan.arrays.append(a)
        if parent:
            parent.children.append(plan)
        plans[key] = plan
    if not plans:
        err = OpenAPIError(
            f"{model.source}: no resource has an item schema and an operation to compile"
        )
        err.report = report  # type: ignore[attr-defined] - what was skipped, and why
        raise err
    entities: dict[str, Any] = {USERS: users_entity()}
    tools: dict[str, Any] = users_tools()
    depth: dict[str, int] = {}
    for plan in plans.values():
        depth[plan.name] = 0 if plan.parent == USERS else depth[plan.parent] + 1
        entities[plan.name] = _entity(plan, depth[plan.name])
        for a in plan.arrays:
            entities[a.table] = _array_entity(plan, a)
    rules: list[dict[str, Any]] = []
    for plan in plans.values():
        _tools_for(plan, plans, tools, report, rules)
    report.tables = list(entities)
    spec_name = snake(name or model.name)
    data = {
        "name": spec_name,
        "description": (model.title + ": " + model.description)[:400].strip(": "),
        "now": NOW,
        "policy": policy_text(model, plans),
        "builtins": ["transfer_to_human_agents"],
        "user_entity": USERS,
        "entities": entities,
        "tools": tools,
        "policy_rules": rules,
    }
    return load_spec(data, source=model.source), report


def _within_cap(model: ApiModel, order: list[str], cap: int) -> set[str]:
    """Resources to compile: all if the API is small, else shallow ones first (each with its
    ancestors) while the operation count stays under the cap."""
    total = sum(len(model.resources[k].operations) for k in order)
    if total <= cap:
        return set(order)
    kept: set[str] = set()
    count = 0
    for key in order:
        chain = []
        k: str | None = key
        while k is not None and k in model.resources and k not in kept:
            chain.append(k)
            k = model.resources[k].parent
        extra = sum(len(model.resources[c].operations) for c in chain)
        if count + extra <= cap:
            kept.update(chain)
            count += extra
    return kept


def _parent_first(model: ApiModel) -> list[str]:
    """Resource keys, parents before children (document order otherwise)."""

    def depth(key: str) -> int:
        d, seen = 0, set()
        while key in model.resources and model.resources[key].parent and key not in seen:
            seen.add(key)
            key = model.resources[key].parent  # type: ignore[assignment]
            d += 1
        return d

    keys = list(model.resources)
    return sorted(keys, key=lambda k: (depth(k), keys.index(k)))


def _prefix(table: str, taken: set[str]) -> str:
    """A short id prefix unique in the world: tasklists -> TAS, tasks -> TA2."""
    base = id_prefix(table)
    letters = re.sub(r"[^a-z]", "", table).upper()
    cands = (
        [base] + [base[:2] + ch for ch in letters[3:]] + [base[:2] + str(i) for i in range(2, 10)]
    )
    cands += [f"{base[:1]}{i:02d}" for i in range(10, 100)]
    for c in cands:
        if c not in taken:
            taken.add(c)
            return c
    raise OpenAPIError(f"{table}: no free id prefix")


def _array_plan(plan: T.TablePlan, f, taken: set[str], report: CompileReport) -> T.ArrayPlan | None:
    table = unique_name(snake(f"{plan.single}_{f.name}"), taken)
    fk = plan.pk
    cols, dropped = plan_columns(
        f.children, table, {fk, "position", "now", f"{singular(table)}_id"}
    )
    for c, why in dropped:
        report.fields.append(FieldOutcome(table, c.name, c.where, why))
    if not cols:
        taken.discard(table)
        report.fields.append(
            FieldOutcome(plan.name, f.name, f.where, "array items have no scalar fields")
        )
        return None
    for c in cols:
        c.writable = False
    return T.ArrayPlan(table=table, field_name=column_name(f.name), fk=fk, columns=cols)


def _entity(plan: T.TablePlan, depth: int) -> dict[str, Any]:
    cols: dict[str, Any] = {
        plan.pk: {
            "type": "string",
            "primary_key": True,
            "faker": {"pattern": f"{plan.prefix}-#####"},
            "description": f"Id of the {plan.label}.",
        },
        plan.fk: {
            "type": "string",
            "references": f"{plan.parent}.{plan.parent_pk}",
            "description": f"The {humanize(singular(plan.parent))} it belongs to.",
        },
    }
    for c in plan.columns:
        col = c.column.model_dump(exclude_defaults=True)
        if not c.writable:
            col["nullable"] = True
        cols[c.name] = col
    return {
        "description": (plan.resource.description or f"{humanize(plan.name).capitalize()}.")[:300],
        "rows": ROWS.get(depth, 60),
        "columns": cols,
    }


def _array_entity(plan: T.TablePlan, a: T.ArrayPlan) -> dict[str, Any]:
    cols: dict[str, Any] = {
        f"{singular(a.table)}_id": {"type": "integer", "primary_key": True},
        a.fk: {"type": "string", "references": f"{plan.name}.{plan.pk}", "on_delete": "cascade"},
        "position": {"type": "integer", "minimum": 0, "maximum": 9, "check": "position >= 0"},
    }
    for c in a.columns:
        cols[c.name] = c.column.model_dump(exclude_defaults=True)
    return {
        "description": f"The {humanize(a.field_name)} of a {plan.label}, in order.",
        "rows": 60,
        "unique": [[a.fk, "position"]],
        "columns": cols,
    }


def _tools_for(
    plan: T.TablePlan,
    plans: dict[str, T.TablePlan],
    tools: dict[str, Any],
    report: CompileReport,
    rules: list[dict[str, Any]],
) -> None:
    parent_label = humanize(singular(plan.parent))
    names = set(tools)
    for op in plan.resource.operations:
        tool: dict[str, Any] | None = None
        reason = None
        base = f"{snake(op.verb if op.kind == 'custom' else op.kind)}_{plan.single}"
        if op.kind == "list":
            tool, base = T.list_tool(plan, op, parent_label), f"list_{plan.name}"
        elif op.kind == "get":
            tool = T.get_tool(plan, op)
        elif op.kind == "create":
            tool, base = (
                T.create_tool(plan, op, parent_label, f"{plan.prefix}-#####"),
                f"create_{plan.single}",
            )
        elif op.kind in ("update", "patch"):
            tool = T.update_tool(plan, op, partial=op.kind == "patch")
            reason = None if tool else "the item schema has no writable field"
        elif op.kind == "delete":
            tool = T.delete_tool(plan, op)
        else:
            tool, reason = _custom(plan, op)
        if tool is None:
            report.operations.append(OpOutcome(op.op_id, op.kind, op.where, reason=reason))
            continue
        tname = unique_name(base[:60], names)
        tools[tname] = tool
        if op.kind in ("update", "patch"):
            rule = immutable_rule(plan, tname)
            if rule is not None:
                taken_rules = {r["name"] for r in rules}
                rule["name"] = unique_name(rule["name"][:56], taken_rules)
                rules.append(rule)
        report.operations.append(OpOutcome(op.op_id, op.kind, op.where, tool=tname))


def _custom(plan: T.TablePlan, op) -> tuple[dict[str, Any] | None, str | None]:
    """A state transition when the status enum has the verb's state; else an update of the
    columns the verb's request body names (``setLabels``, ``resize``); else skipped."""
    st = plan.status
    values = list(st.column.values or []) if st is not None else []
    target = target_state(op.verb, values) if st is not None else None
    if target is not None and re.fullmatch(r"[A-Za-z0-9_ .-]+", target):
        return T.transition_tool(plan, op, target), None
    cols = {c.name: c for c in plan.columns}
    hits = []
    for f in op.body:
        c = cols.get(column_name(f.name))
        if c is not None and c not in hits and not c.status:
            hits.append(c)
    if hits:
        return T.field_tool(plan, op, hits), None
    if st is None:
        return None, (
            f"custom verb '{op.verb}': no status enum to move and no request field that is a column"
        )
    return None, (
        f"custom verb '{op.verb}': no value of {st.name} ({', '.join(values[:6])}) matches it "
        "and no request field is a column"
    )
