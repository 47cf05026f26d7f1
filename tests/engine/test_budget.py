"""Unbounded SQL never hangs: validation rejects what cannot finish on the empty schema, and
a call that runs past its step budget fails as ``timeout`` and is rolled back."""

from __future__ import annotations

import sqlite3

import pytest
from tinyshop import make_world

from engine.budget import BudgetExceeded, StepBudget, bounded
from engine.errors import SpecError
from engine.spec.models import DomainSpec
from engine.spec.validate import load_spec
from engine.world import World

RUNAWAY = (
    "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT max(x) AS n FROM r"
)


def _with_tool(spec_dict: dict, name: str, query: str) -> dict:
    tools = dict(spec_dict["tools"])
    tools[name] = {
        "description": "Count something expensive.",
        "reads": ["customers"],
        "returns": {"query": query, "shape": "scalar"},
    }
    return {**spec_dict, "tools": tools}


def test_validation_rejects_a_query_that_never_finishes(tiny_spec: DomainSpec) -> None:
    bad = _with_tool(tiny_spec.to_dict(), "runaway", RUNAWAY)
    with pytest.raises(SpecError) as info:
        load_spec(bad)
    assert "tools.runaway" in str(info.value) and "does not finish" in str(info.value)


def test_a_data_dependent_runaway_call_times_out_and_changes_nothing(
    tiny_spec: DomainSpec,
) -> None:
    # finishes at once on the empty schema (validation), runs ~forever on real rows
    query = (
        "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r "
        "WHERE x < (SELECT count(*) FROM customers) * 100000000) SELECT max(x) AS n FROM r"
    )
    spec = load_spec(_with_tool(tiny_spec.to_dict(), "cartesian", query))
    world: World = make_world(spec)
    s = world.session()
    before = s.state_hash()
    r = s.call("cartesian", {})
    assert not r.ok and r.error_type == "timeout", r
    assert "budget" in r.message
    assert s.state_hash() == before
    customer = s.conn.execute("SELECT customer_id FROM customers LIMIT 1").fetchone()[0]
    assert s.call("get_customer", {"customer_id": customer}).ok  # the session goes on


def test_bounded_turns_an_interrupt_into_one_line() -> None:
    conn = sqlite3.connect(":memory:")
    with pytest.raises(BudgetExceeded) as info, bounded(conn, 100_000, "fills.orders.total"):
        conn.execute(RUNAWAY).fetchall()
    assert str(info.value).startswith("fills.orders.total: ran past its budget")
    assert conn.execute("SELECT 1").fetchone() == (1,)  # the handler is gone afterwards


def test_an_unarmed_budget_never_interrupts() -> None:
    conn = sqlite3.connect(":memory:")
    budget = StepBudget(conn, 10_000)
    q = "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r WHERE x < 50000) SELECT count(*) FROM r"
    assert conn.execute(q).fetchone() == (50000,)
    budget.start()
    with pytest.raises(sqlite3.OperationalError):
        conn.execute(q).fetchone()
    assert budget.exceeded
