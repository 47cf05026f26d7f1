"""The tool dependency graph: data and state edges derived from the spec, stats, export."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import networkx as nx
import pytest
from typer.testing import CliRunner

from engine.spec.validate import load_spec
from synth.cli import app
from synth.graph import (
    build_graph,
    draw_png,
    graph_for_path,
    graph_from_json,
    graph_stats,
    graph_to_json,
    load_world_graph,
    write_graphml,
)

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "fixtures" / "domains" / "tiny_shop.yaml"


@pytest.fixture(scope="module")
def spec():
    return load_spec(TINY)


@pytest.fixture(scope="module")
def g(spec) -> nx.DiGraph:
    return build_graph(spec)


def _edge(g: nx.DiGraph, a: str, b: str) -> dict:
    assert g.has_edge(a, b), f"no edge {a} -> {b}"
    return g.edges[a, b]


# ---- tiny_shop edges ----------------------------------------------------------------------
def test_nodes_are_the_active_tools_without_builtins(spec, g) -> None:
    assert sorted(g.nodes) == sorted(spec.tools)
    assert "calculate" not in g and "transfer_to_human_agents" not in g
    node = g.nodes["remove_items"]
    assert node["read_only"] is False
    assert node["params"] == ["item_ids", "order_id"] and node["required"] == [
        "item_ids",
        "order_id",
    ]
    assert node["param_refs"] == {"item_ids": "order_items.item_id", "order_id": "orders.order_id"}
    assert node["writes"] == ["order_items", "orders", "payments"]
    assert g.nodes["get_order"]["outputs"]["items[].item_id"] == "order_items.item_id"
    assert g.nodes["search_products"]["required"] == ["query"]


def test_email_lookup_feeds_customer_id(g) -> None:
    e = _edge(g, "find_customer_by_email", "get_customer")
    assert e["kinds"] == ["data"]
    assert e["feeds"] == [["customer_id", "customer_id"]]


def test_order_ids_array_feeds_order_id(g) -> None:
    e = _edge(g, "get_customer", "get_order")
    assert "data" in e["kinds"]
    assert ["order_ids[]", "order_id"] in e["feeds"]


def test_item_lineage_feeds_item_ids(g) -> None:
    e = _edge(g, "get_order", "remove_items")
    assert ["items[].item_id", "item_ids"] in e["feeds"]
    assert "items[].item_id which feeds remove_items.item_ids" in e["reason"]


def test_foreign_key_lineage_feeds_the_referenced_param(g) -> None:
    # get_order returns orders.customer_id, a foreign key to customers.customer_id
    e = _edge(g, "get_order", "get_customer")
    assert e["feeds"] == [["customer_id", "customer_id"]]
    assert "foreign key" in e["reason"]


def test_cancel_then_get_order_is_a_state_edge_on_status(g) -> None:
    e = _edge(g, "cancel_order", "get_order")
    assert "state" in e["kinds"]
    assert e["tables"] == ["orders"] and e["columns"] == ["orders.status"]


def test_cancel_then_remove_items_tests_status_in_a_precondition(g) -> None:
    e = _edge(g, "cancel_order", "remove_items")
    assert "state" in e["kinds"] and "orders.status" in e["columns"]
    assert (
        "cancel_order writes orders.status, which a precondition of remove_items tests"
        in (e["reason"])
    )


def test_stock_write_reaches_the_product_search(g) -> None:
    e = _edge(g, "cancel_order", "search_products")
    assert e["kinds"] == ["state"] and e["feeds"] == []
    assert e["columns"] == ["products.stock"] and e["tables"] == ["products"]


def test_unread_column_write_makes_no_state_edge(g) -> None:
    # add_customer_note writes customers.note, which get_customer does not read
    e = _edge(g, "add_customer_note", "get_customer")
    assert e["kinds"] == ["data"]


def test_read_only_tools_never_originate_state_edges(g) -> None:
    state = [(u, v) for u, v, d in g.edges(data=True) if "state" in d["kinds"]]
    assert state
    assert all(not g.nodes[u]["read_only"] for u, _ in state)


def test_no_self_loops_and_every_edge_explained(g) -> None:
    assert nx.number_of_selfloops(g) == 0
    for _, _, d in g.edges(data=True):
        assert d["kinds"] and set(d["kinds"]) <= {"data", "state"}
        assert bool(d["feeds"]) == ("data" in d["kinds"])
        assert bool(d["tables"]) == ("state" in d["kinds"])
        assert d["reason"].endswith(".") and "\n" not in d["reason"]


def test_quarantined_tools_are_excluded(spec) -> None:
    copy = spec.model_copy(deep=True)
    copy.tools["remove_items"].quarantined = "crashes on empty orders"
    g2 = build_graph(copy)
    assert "remove_items" not in g2
    assert len(g2) == len(spec.tools) - 1
    assert "remove_items" in spec.active_tools()  # the original is untouched


# ---- serialisation ------------------------------------------------------------------------
def test_json_round_trip(g) -> None:
    back = graph_from_json(graph_to_json(g))
    assert list(back.nodes(data=True)) == list(g.nodes(data=True))
    assert list(back.edges(data=True)) == list(g.edges(data=True))
    assert back.graph == g.graph
    assert graph_to_json(back) == graph_to_json(g)


def test_builds_are_deterministic(spec) -> None:
    assert graph_to_json(build_graph(spec)) == graph_to_json(build_graph(spec))
    data = json.loads(graph_to_json(build_graph(spec)))
    assert "edges" in data and "links" not in data


def test_graphml_parses_back(g, tmp_path: Path) -> None:
    path = write_graphml(g, tmp_path / "g.graphml")
    back = nx.read_graphml(path)
    assert sorted(back.nodes) == sorted(g.nodes)
    assert back.number_of_edges() == g.number_of_edges()
    e = back.edges["get_order", "remove_items"]
    assert json.loads(e["feeds"]) == g.edges["get_order", "remove_items"]["feeds"]


class _FakeWorld:
    def __init__(self, spec, files: dict[str, bytes]) -> None:
        self.spec, self.files = spec, files

    def report(self, name: str):
        data = self.files.get(name)
        return None if data is None else json.loads(data)


def test_load_world_graph_prefers_the_stored_graph(spec, g) -> None:
    stored = g.copy()
    stored.edges["get_order", "remove_items"]["reason"] = "stored."
    world = _FakeWorld(spec, {"graph.json": graph_to_json(stored).encode()})
    assert load_world_graph(world).edges["get_order", "remove_items"]["reason"] == "stored."
    assert graph_to_json(load_world_graph(_FakeWorld(spec, {}))) == graph_to_json(g)
    stale = g.copy()
    stale.graph["spec_sha256"] = "0" * 64  # built from another spec: rebuilt
    world = _FakeWorld(spec, {"graph.json": graph_to_json(stale).encode()})
    assert graph_to_json(load_world_graph(world)) == graph_to_json(g)


# ---- stats --------------------------------------------------------------------------------
HAND = {
    "name": "hand",
    "entities": {
        "users": {
            "columns": {
                "user_id": {"type": "string", "primary_key": True},
                "email": {"type": "string", "unique": True},
                "status": {"type": "enum", "values": ["active", "closed"]},
            }
        },
        "notes": {
            "columns": {
                "note_id": {"type": "integer", "primary_key": True},
                "user_id": {"type": "string", "references": "users.user_id"},
                "body": {"type": "text"},
            }
        },
    },
    "tools": {
        "find_user": {
            "description": "Find a user id by email.",
            "params": {"email": {"type": "string", "references": "users.email"}},
            "reads": ["users"],
            "returns": {
                "query": "SELECT user_id FROM users WHERE email = :email",
                "shape": "scalar",
            },
        },
        "get_user": {
            "description": "Get a user.",
            "params": {"user_id": {"type": "string", "references": "users.user_id"}},
            "reads": ["users"],
            "returns": {"query": "SELECT user_id, status FROM users WHERE user_id = :user_id"},
        },
        "close_user": {
            "description": "Close an active account.",
            "params": {"user_id": {"type": "string", "references": "users.user_id"}},
            "reads": ["users"],
            "writes": ["users"],
            "preconditions": [
                {
                    "check": "SELECT status = 'active' FROM users WHERE user_id = :user_id",
                    "error": "User {user_id} is not active.",
                }
            ],
            "effects": ["UPDATE users SET status = 'closed' WHERE user_id = :user_id"],
        },
        "count_notes": {
            "description": "How many notes exist.",
            "reads": ["notes"],
            "returns": {"query": "SELECT COUNT(*) AS n FROM notes", "shape": "scalar"},
        },
    },
}


def test_stats_of_a_hand_made_spec() -> None:
    g = build_graph(load_spec(HAND))
    assert sorted(g.edges) == [
        ("close_user", "get_user"),
        ("find_user", "close_user"),
        ("find_user", "get_user"),
        ("get_user", "close_user"),
    ]
    assert g.edges["close_user", "get_user"]["kinds"] == ["state"]
    assert g.edges["close_user", "get_user"]["columns"] == ["users.status"]
    stats = graph_stats(g)
    assert stats == {
        "nodes": 4,
        "edges": 4,
        "data_edges": 3,
        "state_edges": 1,
        "density": round(4 / 12, 4),
        "components": 2,
        "largest_component": 3,
        "longest_path": 2,
        "longest_path_tools": ["find_user", "get_user", "close_user"],
        "data_diameter": 1,  # find_user -> close_user is direct
        "read_tools": 3,
        "write_tools": 1,
        "sources": ["count_notes", "find_user"],
        "isolated": ["count_notes"],
        "isolated_write_tools": [],
    }


def test_stats_of_tiny_shop(g) -> None:
    stats = graph_stats(g)
    assert stats["nodes"] == 7 and stats["edges"] == g.number_of_edges()
    assert stats["read_tools"] == 4 and stats["write_tools"] == 3
    assert stats["components"] == 1 and stats["isolated"] == []
    assert stats["data_edges"] + stats["state_edges"] >= stats["edges"]


# ---- drawing and CLI ----------------------------------------------------------------------
@pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None,
    reason="matplotlib not installed (optional extra: pip install 'scaleenv[plot]')",
)
def test_draw_png(g, tmp_path: Path) -> None:
    path = draw_png(g, tmp_path / "g.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


runner = CliRunner()


def test_cli_graph_show(g, tmp_path: Path) -> None:
    res = runner.invoke(app, ["graph", "show", str(TINY), "--graphml", str(tmp_path / "g.xml")])
    assert res.exit_code == 0, res.output
    stats = graph_stats(g)
    assert re.search(rf"\bnodes\s*│\s*{stats['nodes']}\b", res.output)
    assert re.search(rf"\bedges\s*│\s*{stats['edges']}\b", res.output)
    assert nx.read_graphml(tmp_path / "g.xml").number_of_nodes() == stats["nodes"]


def test_cli_graph_show_all_and_errors(tmp_path: Path) -> None:
    res = runner.invoke(app, ["graph", "show", str(TINY), "--all"])
    assert res.exit_code == 0 and "more edges" not in res.output
    bad = tmp_path / "notes.txt"
    bad.write_text("x")
    res = runner.invoke(app, ["graph", "show", str(bad)])
    assert res.exit_code == 1 and "Traceback" not in res.output
    res = runner.invoke(app, ["graph", "show", str(tmp_path / "missing.yaml")])
    assert res.exit_code == 1


def test_graph_for_path_reads_a_spec_file() -> None:
    assert sorted(graph_for_path(TINY).nodes) == sorted(load_spec(TINY).tools)
