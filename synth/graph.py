"""The tool dependency graph: which tool can usefully run before which, derived from the spec.

Task sampling walks this graph, so it must come from what the spec declares, never from
tool names. An edge A -> B exists for two reasons (both may hold, listed in ``kinds``):

* data: a result field of A has the lineage of a param of B (``references`` on params and
  result columns, equal after following foreign keys to their root column), so A's output
  can be typed into B;
* state: A writes a column that B's SQL reads (preconditions, lets, effect conditions,
  effects, result query), or A inserts/deletes rows of a table B reads; running A first
  changes what B sees or whether B is allowed.

SQL facts come from ``engine.spec.sql``; nodes and edges are added in sorted order so two
builds of one spec give byte-identical JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
from sqlglot import exp

from engine.errors import ScaleEnvError
from engine.spec.models import DomainSpec, Tool
from engine.spec.sql import (
    column_map,
    parse_one_statement,
    resolve_column,
    sources,
    tables_read,
    tables_written,
    tool_output_references,
)
from engine.spec.validate import load_spec
from engine.world import World

GRAPH_FILE = "graph.json"
# Where B uses a column, strongest first: the reason names the strongest use.
_ROLES = ("precondition", "when", "let", "effect", "result")
_ROLE_TEXT = {
    "precondition": "a precondition of {b} tests",
    "when": "an effect condition of {b} tests",
    "let": "{b} reads in a let value",
    "effect": "an effect of {b} reads",
    "result": "{b} reads in its result",
}


@dataclass
class _Facts:
    """What one tool's SQL reads and writes, at table and column level."""

    reads: set[str] = field(default_factory=set)  # tables
    writes: set[str] = field(default_factory=set)  # tables
    read_cols: dict[str, str] = field(default_factory=dict)  # "t.c" -> strongest role
    write_cols: set[str] = field(default_factory=set)  # "t.c"
    row_tables: set[str] = field(default_factory=set)  # tables it inserts into / deletes from


def _set_targets(expr: exp.Expression) -> list[exp.Column]:
    """Left-hand columns of UPDATE ... SET and ON CONFLICT DO UPDATE SET: writes, not reads."""
    out: list[exp.Column] = []
    for node in expr.find_all(exp.Update, exp.OnConflict):
        for eq in node.expressions or []:
            if isinstance(eq, exp.EQ) and isinstance(eq.this, exp.Column):
                out.append(eq.this)
    return out


def _read_columns(expr: exp.Expression, schema: dict[str, list[str]]) -> set[str]:
    """Spec columns a statement reads ("t.c"); unresolved names count for every table of the
    statement that has them, and ``*`` projections read every column of their tables."""
    skip = {id(c) for c in _set_targets(expr)}
    here = tables_read(expr) | tables_written(expr)
    out: set[str] = set()
    for col in expr.find_all(exp.Column):
        if id(col) in skip or isinstance(col.this, exp.Star) or col.name.startswith("$"):
            continue
        src = resolve_column(col, schema)
        if isinstance(src, str) and col.name in schema.get(src, ()):
            out.add(f"{src}.{col.name}")
        elif src is False:
            out |= {f"{t}.{col.name}" for t in here if col.name in schema.get(t, ())}
    for select in expr.find_all(exp.Select):
        srcs = sources(select)
        for p in select.expressions:
            if isinstance(p, exp.Star):
                tabs = [s for s in srcs.values() if isinstance(s, str)]
            elif isinstance(p, exp.Column) and isinstance(p.this, exp.Star):
                tabs = [s for s in [srcs.get(p.table)] if isinstance(s, str)]
            else:
                continue
            out |= {f"{t}.{c}" for t in tabs for c in schema.get(t, ())}
    return out


def _tool_facts(name: str, tool: Tool, schema: dict[str, list[str]]) -> _Facts:
    facts = _Facts(reads=set(tool.reads), writes=set(tool.writes))
    pieces: list[tuple[str, str]] = [(q, "let") for q in tool.let.values()]
    pieces += [(p.check, "precondition") for p in tool.preconditions]
    pieces += [(e.when, "when") for e in tool.effects if e.when]
    pieces += [(e.sql, "effect") for e in tool.effects]
    if tool.returns is not None:
        pieces.append((tool.returns.query, "result"))
    for sql, role in pieces:
        try:
            expr = parse_one_statement(sql)
        except ValueError as exc:
            raise ScaleEnvError(f"tools.{name}: {exc}") from None
        facts.reads |= tables_read(expr)
        for ref in _read_columns(expr, schema):
            old = facts.read_cols.get(ref)
            if old is None or _ROLES.index(role) < _ROLES.index(old):
                facts.read_cols[ref] = role
        for table in tables_written(expr):
            facts.writes.add(table)
            if isinstance(expr, exp.Insert | exp.Delete):  # rows appear or vanish: every column
                facts.row_tables.add(table)
                facts.write_cols |= {f"{table}.{c}" for c in schema.get(table, ())}
            cols = [c.name for c in _set_targets(expr)]
            facts.write_cols |= {f"{table}.{c}" for c in cols if c in schema.get(table, ())}
    return facts


def _param_refs(tool: Tool) -> dict[str, str]:
    """Param -> the column its values come from (an array's items' reference)."""
    out: dict[str, str] = {}
    for pname, p in sorted(tool.params.items()):
        ref = p.references or (p.items.references if p.items is not None else None)
        if ref:
            out[pname] = ref
    return out


def _fk_root(spec: DomainSpec, ref: str) -> str:
    """Follow foreign keys to the column that owns the values (orders.customer_id ->
    customers.customer_id); cycles and unknown columns stop the walk."""
    seen = {ref}
    while True:
        table, _, col = ref.partition(".")
        entity = spec.entities.get(table)
        target = entity.columns[col].references if entity and col in entity.columns else None
        if target is None or target in seen:
            return ref
        seen.add(target)
        ref = target


def _data_feeds(spec: DomainSpec, a: dict[str, Any], b: dict[str, Any]) -> list[list[str]]:
    pairs = []
    for field_, out_ref in a["outputs"].items():
        for param, in_ref in b["param_refs"].items():
            if out_ref == in_ref or _fk_root(spec, out_ref) == _fk_root(spec, in_ref):
                pairs.append([field_, param])
    return sorted(pairs)


def _reason(
    a: str, b: str, na: dict, nb: dict, roles: dict[str, str], feeds: list, cols: list, rows: list
) -> str:
    """One sentence: which field feeds which param, which written column B uses and how."""
    parts = []
    if feeds:
        bits = []
        for f, p in feeds:
            out_ref, in_ref = na["outputs"][f], nb["param_refs"][p]
            via = "" if out_ref == in_ref else f" ({out_ref}, linked to {in_ref} by foreign key)"
            bits.append(f"{f}{via} which feeds {b}.{p}")
        parts.append(f"{a} returns " + ", and ".join(bits))
    by_role: dict[str, list[str]] = {}
    for c in cols:
        by_role.setdefault(roles[c], []).append(c)
    for role in _ROLES:
        if role in by_role:
            what = _ROLE_TEXT[role].format(b=b)
            parts.append(f"{a} writes {', '.join(by_role[role])}, which {what}")
    if rows:
        parts.append(f"{a} adds or deletes rows of {', '.join(rows)}, which {b} reads")
    return "; ".join(parts) + "."


def build_graph(spec: DomainSpec) -> nx.DiGraph:
    """The dependency graph over the spec's non-quarantined tools (builtins excluded)."""
    schema = column_map(spec)
    tools = dict(sorted(spec.active_tools().items()))
    g = nx.DiGraph(domain=spec.name, spec_sha256=spec.digest())
    facts: dict[str, _Facts] = {}
    attrs: dict[str, dict[str, Any]] = {}
    for name, tool in tools.items():
        f = facts[name] = _tool_facts(name, tool, schema)
        attrs[name] = {
            "read_only": tool.read_only,
            "reads": sorted(f.reads),
            "writes": sorted(f.writes),
            "params": sorted(tool.params),
            "required": sorted(p for p, v in tool.params.items() if v.required),
            "outputs": dict(sorted(tool_output_references(spec, tool).items())),
            "param_refs": _param_refs(tool),
            "columns_read": sorted(f.read_cols),
            "columns_written": sorted(f.write_cols),
        }
        g.add_node(name, **attrs[name])
    for a in tools:
        for b in tools:
            if a == b:
                continue
            feeds = _data_feeds(spec, attrs[a], attrs[b])
            fa, fb = facts[a], facts[b]
            cols = sorted(fa.write_cols & set(fb.read_cols))
            rows = sorted((fa.row_tables & fb.reads) - {c.split(".")[0] for c in cols})
            if not feeds and not cols and not rows:
                continue
            kinds = (["data"] if feeds else []) + (["state"] if cols or rows else [])
            tables = sorted({c.split(".")[0] for c in cols} | set(rows))
            g.add_edge(
                a,
                b,
                kinds=kinds,
                feeds=feeds,
                tables=tables,
                columns=cols,
                reason=_reason(a, b, attrs[a], attrs[b], fb.read_cols, feeds, cols, rows),
            )
    return g


# ---- serialisation ------------------------------------------------------------------------
def graph_to_json(g: nx.DiGraph) -> str:
    """Node-link JSON with sorted keys: the ``graph.json`` of a world."""
    data = nx.node_link_data(g, edges="edges")
    return json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def graph_from_data(data: dict[str, Any]) -> nx.DiGraph:
    """A graph from parsed node-link data (what ``World.report`` returns)."""
    return nx.node_link_graph(data, directed=True, multigraph=False, edges="edges")


def graph_from_json(text: str) -> nx.DiGraph:
    return graph_from_data(json.loads(text))


def _scalar(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, list | dict) else value


def write_graphml(g: nx.DiGraph, path: str | Path) -> Path:
    """GraphML for other tools (Gephi, yEd); list and dict attributes are JSON text."""
    h = nx.DiGraph(**{k: _scalar(v) for k, v in g.graph.items()})
    for n, d in g.nodes(data=True):
        h.add_node(n, **{k: _scalar(v) for k, v in d.items()})
    for u, v, d in g.edges(data=True):
        h.add_edge(u, v, **{k: _scalar(x) for k, x in d.items()})
    p = Path(path)
    nx.write_graphml(h, p)
    return p


def load_world_graph(world: World) -> nx.DiGraph:
    """The world's stored ``graph.json``, else (or when stale) one built from its spec."""
    data = world.report(GRAPH_FILE)
    if data is not None:
        g = graph_from_data(data)
        if g.graph.get("spec_sha256") in (None, world.spec.digest()):
            return g
    return build_graph(world.spec)


def graph_for_path(path: str | Path) -> nx.DiGraph:
    """The graph of a world directory or of a spec file (.yaml/.yml/.json)."""
    p = Path(path)
    if p.is_dir():
        return load_world_graph(World.load(p))
    if p.suffix in (".yaml", ".yml", ".json"):
        return build_graph(load_spec(p))
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such world directory or spec file")
    raise ScaleEnvError(f"{p}: expected a world directory or a .yaml/.json spec")


# ---- statistics and drawing ---------------------------------------------------------------
def _data_subgraph(g: nx.DiGraph) -> nx.DiGraph:
    h = nx.DiGraph()
    h.add_nodes_from(g.nodes)
    h.add_edges_from((u, v) for u, v, d in g.edges(data=True) if "data" in d["kinds"])
    return h


def longest_data_path(g: nx.DiGraph) -> list[str]:
    """The longest chain of data hand-offs. Data edges form cycles (a tool that returns an
    order id and one that takes it, both ways), so the path is taken on the condensation:
    each set of mutually reachable tools counts as one step, named by its first tool."""
    h = _data_subgraph(g)
    if h.number_of_nodes() == 0:
        return []
    c = nx.condensation(h)
    path = nx.dag_longest_path(c)
    return [min(c.nodes[i]["members"]) for i in path]


def graph_stats(g: nx.DiGraph) -> dict[str, Any]:
    """Counts that tell whether task sampling can reach every tool.

    ``longest_path`` is in edges along :func:`longest_data_path` (cycles collapsed);
    ``data_diameter`` is the longest shortest data path between two tools, which stays
    informative when most tools sit in one cycle. ``sources`` are tools no data edge enters
    (their params come from the user); ``isolated`` tools have no edge at all.
    """
    h = _data_subgraph(g)
    comps = list(nx.weakly_connected_components(g)) if len(g) else []
    path = longest_data_path(g)
    data_edges = sum(1 for *_, d in g.edges(data=True) if "data" in d["kinds"])
    state_edges = sum(1 for *_, d in g.edges(data=True) if "state" in d["kinds"])
    isolated = sorted(nx.isolates(g))
    return {
        "nodes": g.number_of_nodes(),
        "edges": g.number_of_edges(),
        "data_edges": data_edges,
        "state_edges": state_edges,
        "density": round(nx.density(g), 4) if len(g) > 1 else 0.0,
        "components": len(comps),
        "largest_component": max((len(c) for c in comps), default=0),
        "longest_path": max(len(path) - 1, 0),
        "longest_path_tools": path,
        "data_diameter": max(
            (max(nx.single_source_shortest_path_length(h, n).values()) for n in h), default=0
        ),
        "read_tools": sum(1 for _, d in g.nodes(data=True) if d["read_only"]),
        "write_tools": sum(1 for _, d in g.nodes(data=True) if not d["read_only"]),
        "sources": sorted(n for n in h if h.in_degree(n) == 0),
        "isolated": isolated,
        "isolated_write_tools": [n for n in isolated if not g.nodes[n]["read_only"]],
    }


def draw_png(g: nx.DiGraph, path: str | Path) -> Path:
    """A picture of the graph: write tools red, read tools blue; data edges solid, state-only
    edges dashed. Needs matplotlib (the ``plot`` extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ScaleEnvError(
            "drawing needs matplotlib: pip install 'scaleenv[plot]' (or pip install matplotlib)"
        ) from None
    pos = nx.spring_layout(g, seed=0, k=1.5 / max(len(g), 1) ** 0.5) if len(g) else {}
    size = max(6.0, len(g) ** 0.5 * 2.5)
    fig, ax = plt.subplots(figsize=(size, size))
    colors = ["#4c72b0" if g.nodes[n]["read_only"] else "#c44e52" for n in g]
    nx.draw_networkx_nodes(g, pos, ax=ax, node_color=colors, node_size=500, alpha=0.85)
    nx.draw_networkx_labels(g, pos, ax=ax, font_size=8)
    data = [(u, v) for u, v, d in g.edges(data=True) if "data" in d["kinds"]]
    state = [(u, v) for u, v, d in g.edges(data=True) if "data" not in d["kinds"]]
    nx.draw_networkx_edges(g, pos, ax=ax, edgelist=data, edge_color="#333333", arrows=True)
    nx.draw_networkx_edges(g, pos, ax=ax, edgelist=state, style="dashed", edge_color="#999999")
    ax.set_title(f"{g.graph.get('domain', '')}: {len(g)} tools, {g.number_of_edges()} edges")
    ax.margins(0.15)
    ax.axis("off")
    p = Path(path)
    fig.savefig(p, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return p
