"""Catalog rows from parsed worlds: worlds, tables, columns, tools, tasks, proctest, edges.

Each function returns an Arrow table with a fixed schema, so an empty catalog (no tasks,
no reports) still has the columns the notebooks query.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from engine.analysis.reader import WorldData

S, N, F, B = pa.string(), pa.int64(), pa.float64(), pa.bool_()
LS = pa.list_(pa.string())

SCHEMAS: dict[str, pa.Schema] = {
    "worlds": pa.schema(
        [
            ("world", S),
            ("path", S),
            ("domain", S),
            ("seed", N),
            ("rows_target", N),
            ("now", S),
            ("scaleenv", S),
            ("spec_sha256", S),
            ("tables", N),
            ("total_rows", N),
            ("tools", N),
            ("read_tools", N),
            ("write_tools", N),
            ("builtins", N),
            ("quarantined", N),
            ("invariants", N),
            ("tasks", N),
            ("edges", N),
        ]
    ),
    "tables": pa.schema(
        [("world", S), ("table", S), ("rows", N), ("columns", N), ("key", S), ("foreign_keys", N)]
    ),
    "columns": pa.schema(
        [("world", S), ("table", S), ("column", S), ("type", S), ("references", S)]
    ),
    "tools": pa.schema(
        [
            ("world", S),
            ("tool", S),
            ("kind", S),
            ("description", S),
            ("params", N),
            ("reads", LS),
            ("writes", LS),
            ("quarantined", S),
        ]
    ),
    "tasks": pa.schema(
        [
            ("world", S),
            ("task_id", S),
            ("difficulty", S),
            ("complexity", F),
            ("actions", N),
            ("subgoals", N),
            ("distractors", N),
            ("required_answers", N),
            ("toolset", N),
            ("chain", LS),
            ("instruction", S),
        ]
    ),
    "task_actions": pa.schema([("world", S), ("task_id", S), ("step", N), ("tool", S)]),
    "subgoals": pa.schema([("world", S), ("task_id", S), ("idx", N), ("kind", S), ("tool", S)]),
    "proctest": pa.schema(
        [
            ("world", S),
            ("tool", S),
            ("cases", N),
            ("success", N),
            ("anticipated_rejection", N),
            ("unexpected_failure", N),
            ("incomplete", N),
            ("quarantined", B),
            ("reasons", S),
        ]
    ),
    "edges": pa.schema(
        [
            ("world", S),
            ("source", S),
            ("target", S),
            ("kinds", LS),
            ("reason", S),
            ("origin", S),
        ]
    ),
}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _tools(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    tools = spec.get("tools") or {}
    return tools if isinstance(tools, dict) else {}


def _is_read(tool: dict[str, Any]) -> bool:
    return not tool.get("writes") and not tool.get("effects")


def spec_edges(spec: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(source, target, reason): a tool writes a table another tool reads.

    The fallback when a world has no stored ``graph.json``; the synthesizer's graph also
    has data edges (outputs feeding parameters) and column-level precision.
    """
    tools = _tools(spec)
    edges = []
    for a in sorted(tools):
        written = set(tools[a].get("writes") or [])
        for b in sorted(tools):
            shared = sorted(written & set(tools[b].get("reads") or []))
            if a != b and shared:
                edges.append((a, b, f"{a} writes {', '.join(shared)}, which {b} reads."))
    return edges


def _edges(w: WorldData) -> list[dict[str, Any]]:
    if w.graph is not None:
        return [
            {
                "world": w.name,
                "source": e.get("source"),
                "target": e.get("target"),
                "kinds": list(e.get("kinds") or []),
                "reason": e.get("reason"),
                "origin": "graph.json",
            }
            for e in w.graph.get("edges") or []
        ]
    return [
        {
            "world": w.name,
            "source": a,
            "target": b,
            "kinds": ["state"],
            "reason": why,
            "origin": "spec",
        }
        for a, b, why in spec_edges(w.spec)
    ]


def world_rows(w: WorldData, n_edges: int) -> dict[str, Any]:
    tools = _tools(w.spec)
    m = w.manifest
    return {
        "world": w.name,
        "path": str(w.path),
        "domain": m.get("domain") or w.spec.get("name"),
        "seed": _int(m.get("seed")),
        "rows_target": _int(m.get("rows_target")),
        "now": m.get("now"),
        "scaleenv": m.get("scaleenv"),
        "spec_sha256": m.get("spec_sha256"),
        "tables": len(w.tables),
        "total_rows": sum(t.rows for t in w.tables.values()),
        "tools": len(tools),
        "read_tools": sum(1 for t in tools.values() if _is_read(t)),
        "write_tools": sum(1 for t in tools.values() if not _is_read(t)),
        "builtins": len(w.spec.get("builtins") or []),
        "quarantined": sum(1 for t in tools.values() if t.get("quarantined")),
        "invariants": len(w.spec.get("invariants") or []),
        "tasks": len(w.tasks),
        "edges": n_edges,
    }


def _table_rows(w: WorldData) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    entities = w.spec.get("entities") or {}
    tables, columns = [], []
    for name, raw in w.tables.items():
        spec_cols = (entities.get(name) or {}).get("columns") or {}
        key = [c for c, d in spec_cols.items() if isinstance(d, dict) and d.get("primary_key")]
        refs = {c: d.get("references") for c, d in spec_cols.items() if isinstance(d, dict)}
        tables.append(
            {
                "world": w.name,
                "table": name,
                "rows": raw.rows,
                "columns": len(raw.columns),
                "key": ",".join(key),
                "foreign_keys": sum(1 for r in refs.values() if r),
            }
        )
        for col, declared in zip(raw.columns, raw.declared, strict=True):
            d = spec_cols.get(col)
            columns.append(
                {
                    "world": w.name,
                    "table": name,
                    "column": col,
                    "type": d.get("type") if isinstance(d, dict) else declared.lower(),
                    "references": refs.get(col),
                }
            )
    return tables, columns


def _tool_rows(w: WorldData) -> list[dict[str, Any]]:
    rows = []
    for name, t in sorted(_tools(w.spec).items()):
        rows.append(
            {
                "world": w.name,
                "tool": name,
                "kind": "read" if _is_read(t) else "write",
                "description": t.get("description"),
                "params": len(t.get("params") or {}),
                "reads": list(t.get("reads") or []),
                "writes": list(t.get("writes") or []),
                "quarantined": t.get("quarantined"),
            }
        )
    for name in w.spec.get("builtins") or []:
        rows.append(
            {
                "world": w.name,
                "tool": name,
                "kind": "builtin",
                "params": 0,
                "reads": [],
                "writes": [],
            }
        )
    return rows


def _task_rows(w: WorldData) -> tuple[list[dict[str, Any]], ...]:
    tasks, actions, subgoals = [], [], []
    for t in w.tasks:
        tid = t.get("id")
        gold = t.get("gold_actions") or []
        goals = t.get("subgoals") or []
        tasks.append(
            {
                "world": w.name,
                "task_id": tid,
                "difficulty": t.get("difficulty"),
                "complexity": t.get("complexity"),
                "actions": len(gold),
                "subgoals": len(goals),
                "distractors": t.get("distractors"),
                "required_answers": len(t.get("required_answers") or []),
                "toolset": len(t.get("toolset") or []),
                "chain": list(t.get("chain") or []),
                "instruction": t.get("instruction"),
            }
        )
        actions += [
            {"world": w.name, "task_id": tid, "step": i, "tool": a.get("tool")}
            for i, a in enumerate(gold)
        ]
        subgoals += [
            {
                "world": w.name,
                "task_id": tid,
                "idx": i,
                "kind": g.get("kind"),
                "tool": g.get("tool"),
            }
            for i, g in enumerate(goals)
        ]
    return tasks, actions, subgoals


def _proctest_rows(w: WorldData) -> list[dict[str, Any]]:
    rep = w.proctest or {}
    rows = []
    for name, r in sorted((rep.get("tools") or {}).items()):
        rows.append(
            {
                "world": w.name,
                "tool": name,
                **{
                    k: _int(r.get(k))
                    for k in (
                        "cases",
                        "success",
                        "anticipated_rejection",
                        "unexpected_failure",
                        "incomplete",
                    )
                },
                "quarantined": bool(r.get("quarantined")),
                "reasons": "; ".join(str(x) for x in r.get("reasons") or []) or None,
            }
        )
    return rows


def catalog_tables(worlds: Iterable[WorldData]) -> dict[str, pa.Table]:
    """All catalog tables for ``worlds``, each with its fixed schema."""
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in SCHEMAS}
    for w in worlds:
        edges = _edges(w)
        rows["edges"] += edges
        rows["worlds"].append(world_rows(w, len(edges)))
        tables, columns = _table_rows(w)
        rows["tables"] += tables
        rows["columns"] += columns
        rows["tools"] += _tool_rows(w)
        tasks, actions, subgoals = _task_rows(w)
        rows["tasks"] += tasks
        rows["task_actions"] += actions
        rows["subgoals"] += subgoals
        rows["proctest"] += _proctest_rows(w)
    return {name: pa.Table.from_pylist(rows[name], schema=SCHEMAS[name]) for name in SCHEMAS}
