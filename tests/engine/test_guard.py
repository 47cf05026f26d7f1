"""Least privilege: tool SQL touches only declared tables and never runs DDL, ATTACH, PRAGMA.

The tools here are built directly (no SQL validation), as if a bad spec got past it.
"""

from __future__ import annotations

import sqlite3

import pytest
from tinyshop import make_world, spec_with

from engine.runtime.guard import INVARIANT, TOOL, Guard, Permissions, fk_key_columns
from engine.spec.models import DomainSpec
from engine.world import World


def _world(spec: DomainSpec) -> World:
    return World.from_parts(spec, make_world(spec).base_bytes)


def _reader(query: str, reads: list[str]) -> dict:
    return {"description": "x", "reads": reads, "returns": {"query": query, "shape": "list"}}


def _writer(effects: list[str], writes: list[str], reads: list[str] | None = None) -> dict:
    return {"description": "x", "reads": reads or [], "writes": writes, "effects": effects}


EVIL = {
    "read_undeclared": (
        _reader("SELECT email FROM customers", ["orders"]),
        "read table 'customers'",
    ),
    "read_via_subquery": (
        _reader("SELECT order_id, (SELECT email FROM customers LIMIT 1) FROM orders", ["orders"]),
        "read table 'customers'",
    ),
    "read_schema": (
        _reader("SELECT sql FROM sqlite_master", ["orders"]),
        "read table 'sqlite_master'",
    ),
    "read_changelog": (
        _reader("SELECT * FROM _scaleenv_undo_orders", ["orders"]),
        "_scaleenv_undo_orders",
    ),
    "write_undeclared": (
        _writer(["UPDATE customers SET note = 'x'"], ["orders"]),
        "update table 'customers'",
    ),
    "insert_undeclared": (
        _writer(
            ["INSERT INTO refunds VALUES ('R1', 'PAY00001', 1, :now)"], ["orders"], ["payments"]
        ),
        "insert into table 'refunds'",
    ),
    "drop_table": (_writer(["DROP TABLE orders"], ["orders"]), "schema"),
    "drop_changelog": (_writer(["DROP TRIGGER _scaleenv_orders_u"], ["orders"]), "DROP TRIGGER"),
    "create_table": (_writer(["CREATE TABLE evil (a)"], ["orders"]), "schema"),
    "create_temp_table": (_writer(["CREATE TEMP TABLE evil (a)"], ["orders"]), "schema"),
    "create_trigger": (
        _writer(
            ["CREATE TEMP TRIGGER t AFTER UPDATE ON orders BEGIN DELETE FROM customers; END"],
            ["orders"],
        ),
        "TRIGGER",
    ),
    "alter": (_writer(["ALTER TABLE orders ADD COLUMN x"], ["orders"]), "ALTER TABLE"),
    "attach": (_writer(["ATTACH DATABASE ':memory:' AS evil"], ["orders"]), "ATTACH"),
    "detach": (_writer(["DETACH DATABASE world"], ["orders"]), "DETACH"),
    "pragma_write": (_writer(["PRAGMA foreign_keys = OFF"], ["orders"]), "PRAGMA"),
    "pragma_read": (_reader("PRAGMA table_info(orders)", ["orders"]), "PRAGMA"),
    "escape_savepoint": (
        _writer(["RELEASE scaleenv_call", "UPDATE orders SET total = 5"], ["orders"]),
        "SAVEPOINT",
    ),
    "commit": (_writer(["COMMIT", "UPDATE orders SET total = 5"], ["orders"]), "transaction"),
    "load_extension": (_reader("SELECT load_extension('x')", ["orders"]), "load_extension"),
    "write_in_precondition": (
        {
            **_writer(["UPDATE orders SET total = 1"], ["orders"]),
            "preconditions": [{"check": "DELETE FROM customers RETURNING 1", "error": "no"}],
        },
        "delete from table 'customers'",
    ),
    "write_in_result": (
        {
            **_writer(["UPDATE orders SET total = 1"], ["orders"]),
            "returns": {"query": "DELETE FROM orders RETURNING 1"},
        },
        "delete from table 'orders'",
    ),
}


@pytest.mark.parametrize("name", list(EVIL))
def test_authorizer_refuses_and_nothing_changes(tiny_spec: DomainSpec, name: str) -> None:
    tool, phrase = EVIL[name]
    s = _world(spec_with(tiny_spec, **{name: tool})).session()
    before, digest = s.snapshot(), s.state_hash()
    r = s.call(name, {})
    assert not r.ok and r.error_type == "internal", r
    assert phrase in r.message, r.message
    assert s.snapshot() == before and s.state_hash() == digest
    assert s.conn.execute("SELECT COUNT(*) FROM orders").fetchone() == (4,)
    assert not s.conn.in_transaction
    # the refusal sticks: the statement cache never hands out an authorized copy
    assert s.call(name, {}).error_type == "internal"


def test_declared_access_works_including_fk_checks(tiny_spec: DomainSpec) -> None:
    spec = spec_with(
        tiny_spec,
        add_item={  # the FK check reads orders/products keys although only order_items is declared
            **_writer(
                ["INSERT INTO order_items VALUES (99, '#W0004', 'P003', 1, 40)"], ["order_items"]
            ),
        },
        json_reader=_reader("SELECT o.order_id FROM orders o, json_each('[1]') j", ["orders"]),
    )
    s = _world(spec).session()
    assert s.call("add_item", {}).ok
    assert s.call("json_reader", {}).result == [
        {"order_id": o} for o in ("#W0001", "#W0002", "#W0003", "#W0004")
    ]
    assert s.conn.execute("SELECT order_id FROM order_items WHERE item_id = 99").fetchone() == (
        "#W0004",
    )


def test_invariants_may_not_write(tiny_spec: DomainSpec) -> None:
    spec = tiny_spec.model_copy(deep=True)
    spec.invariants[0].violations = "DELETE FROM refunds RETURNING refund_id"
    s = _world(spec).session()
    before = s.snapshot()
    r = s.call("cancel_order", {"order_id": "#W0001", "reason": "no longer needed"})
    assert (
        r.error_type == "internal"
        and "an invariant may not delete from table 'refunds'" in r.message
    )
    assert s.snapshot() == before


def test_guard_modes_on_a_plain_connection() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE a (x)")
    conn.execute("CREATE TABLE b (y)")
    guard = Guard()
    guard.install(conn)
    guard.tool(Permissions("t", frozenset({"a"})))
    assert conn.execute("/*1*/ SELECT x FROM a").fetchall() == []
    with pytest.raises(sqlite3.DatabaseError, match="prohibited"):
        conn.execute("/*2*/ SELECT y FROM b")
    assert guard.denied == "tool 't' may not read table 'b' (not declared in its reads/writes)"
    with pytest.raises(sqlite3.DatabaseError):
        conn.execute("/*3*/ INSERT INTO a VALUES (1)")
    guard.mode = INVARIANT
    assert conn.execute("/*4*/ SELECT y FROM b").fetchall() == []
    with pytest.raises(sqlite3.DatabaseError):
        conn.execute("/*5*/ DELETE FROM a")
    guard.internal()
    conn.execute("/*6*/ CREATE TABLE c (z)")
    assert guard.mode != TOOL


def test_fk_key_columns_cover_parents_and_children(tiny_spec: DomainSpec) -> None:
    keys = fk_key_columns(tiny_spec, {"refunds"})
    assert ("payments", "payment_id") in keys and ("refunds", "payment_id") in keys
    keys = fk_key_columns(tiny_spec, {"orders"})
    assert {
        ("customers", "customer_id"),
        ("order_items", "order_id"),
        ("payments", "order_id"),
    } <= keys
    assert not any(t == "customers" and c != "customer_id" for t, c in keys)
