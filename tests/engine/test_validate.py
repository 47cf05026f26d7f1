"""Spec validation: tiny_shop is clean; each kind of mistake is reported at its field path."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.errors import SpecError
from engine.spec.models import DomainSpec, read_spec_data
from engine.spec.sql import (
    columns_used,
    params_used,
    parse_one_statement,
    result_lineage,
    statement_kind,
    tables_read,
    tables_written,
    tool_output_references,
)
from engine.spec.validate import load_spec, validate_spec

TINY = Path(__file__).resolve().parents[2] / "fixtures" / "domains" / "tiny_shop.yaml"


@pytest.fixture(scope="module")
def tiny_data() -> dict[str, Any]:
    return read_spec_data(TINY)


@pytest.fixture(scope="module")
def tiny(tiny_data: dict[str, Any]) -> DomainSpec:
    return load_spec(copy.deepcopy(tiny_data))


def test_tiny_shop_is_valid(tiny_data: dict[str, Any]) -> None:
    assert validate_spec(copy.deepcopy(tiny_data)) == []
    spec = load_spec(TINY)
    assert spec.name == "tiny_shop"
    assert validate_spec(spec) == []


# ---- one mutation per kind of mistake -------------------------------------------------
def _cols(d: dict, table: str) -> dict:
    return d["entities"][table]["columns"]


def _tool(d: dict, name: str) -> dict:
    return d["tools"][name]


def _set(path: list, value: Any) -> Callable[[dict], None]:
    def apply(d: dict) -> None:
        node = d
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return apply


def _fk_cycle(d: dict) -> None:
    _cols(d, "customers")["last_order"] = {"type": "string", "references": "orders.order_id"}


def _missing_pk(d: dict) -> None:
    _cols(d, "products")["product_id"]["primary_key"] = False


def _policy_unknown_tool(d: dict) -> None:
    d["policy_rules"][0]["tool"] = "cancel_everything"


def _rename_tool(d: dict) -> None:
    d["tools"]["bad tool!"] = d["tools"].pop("get_order")


def _let_attach(d: dict) -> None:
    _tool(d, "cancel_order")["let"]["payment"] = "ATTACH DATABASE 'x.db' AS x"


EFF = ["tools", "cancel_order", "effects"]
PRE = ["tools", "cancel_order", "preconditions"]
CASES: list[tuple[str, Callable[[dict], None], str, str]] = [
    (
        "fk unknown table",
        _set(["entities", "orders", "columns", "customer_id", "references"], "clients.id"),
        "entities.orders.columns.customer_id.references",
        "unknown table clients",
    ),
    (
        "fk unknown column",
        _set(["entities", "orders", "columns", "customer_id", "references"], "customers.cid"),
        "entities.orders.columns.customer_id.references",
        "unknown column customers.cid",
    ),
    (
        "fk type mismatch",
        _set(["entities", "orders", "columns", "customer_id", "type"], "integer"),
        "entities.orders.columns.customer_id.references",
        "does not match",
    ),
    (
        "fk not unique",
        _set(["entities", "orders", "columns", "customer_id", "references"], "customers.name"),
        "entities.orders.columns.customer_id.references",
        "neither the primary key nor unique",
    ),
    ("fk cycle", _fk_cycle, "entities.customers.columns.last_order.references", "cycle"),
    (
        "enum without values",
        _set(["entities", "orders", "columns", "status", "values"], None),
        "entities.orders.columns.status",
        "needs 'values'",
    ),
    (
        "bad default",
        _set(["entities", "orders", "columns", "status", "default"], "lost"),
        "entities.orders.columns.status.default",
        "not one of the enum values",
    ),
    (
        "unknown table in reads",
        _set(["tools", "get_order", "reads"], ["orders", "order_items", "shipments"]),
        "tools.get_order.reads[2]",
        "unknown table shipments",
    ),
    (
        "effect writes undeclared table",
        _set([*EFF, 0], "UPDATE customers SET note = 'x' WHERE customer_id = :order_id"),
        "tools.cancel_order.effects[0].sql",
        "writes table customers, which the tool does not declare",
    ),
    (
        "reads undeclared table",
        _set(["tools", "get_order", "returns", "query"], "SELECT name FROM customers"),
        "tools.get_order.returns.query",
        "reads table customers",
    ),
    (
        "sql does not parse",
        _set([*EFF, 0], "UPDATE orders SET status = WHERE order_id = :order_id"),
        "tools.cancel_order.effects[0].sql",
        "does not parse",
    ),
    (
        "unknown column in tool sql",
        _set([*PRE, 0, "check"], "SELECT 1 FROM orders o WHERE o.order_code = :order_id"),
        "tools.cancel_order.preconditions[0].check",
        "unknown column orders.order_code",
    ),
    (
        "unknown unqualified column (sqlite prepare)",
        _set([*PRE, 0, "check"], "SELECT 1 FROM orders WHERE order_code = :order_id"),
        "tools.cancel_order.preconditions[0].check",
        "no such column: order_code",
    ),
    (
        "unknown function (sqlite prepare)",
        _set([*PRE, 0, "check"], "SELECT frobnicate(order_id) FROM orders"),
        "tools.cancel_order.preconditions[0].check",
        "no such function",
    ),
    (
        "unknown bind",
        _set([*PRE, 0, "check"], "SELECT 1 FROM orders WHERE order_id = :order"),
        "tools.cancel_order.preconditions[0].check",
        "unknown bind :order",
    ),
    (
        "let used before it is defined",
        _set(["tools", "cancel_order", "let", "payment"], "SELECT :refund_amount"),
        "tools.cancel_order.let.payment",
        "defined later",
    ),
    (
        "ddl in effect",
        _set([*EFF, 1], "DROP TABLE products"),
        "tools.cancel_order.effects[1].sql",
        "DDL",
    ),
    ("attach in let", _let_attach, "tools.cancel_order.let.payment", "ATTACH is not allowed"),
    (
        "pragma in precondition",
        _set([*PRE, 1, "check"], "PRAGMA foreign_keys = OFF"),
        "tools.cancel_order.preconditions[1].check",
        "PRAGMA is not allowed",
    ),
    (
        "two statements in one effect",
        _set([*EFF, 0], "UPDATE orders SET status = 'cancelled'; DELETE FROM orders"),
        "tools.cancel_order.effects[0].sql",
        "expected one statement, got 2",
    ),
    (
        "returns with an insert",
        _set(
            ["tools", "cancel_order", "returns", "query"],
            "INSERT INTO refunds (refund_id) VALUES (:refund_id)",
        ),
        "tools.cancel_order.returns.query",
        "must be a SELECT, got INSERT",
    ),
    (
        "effect that is a select",
        _set([*EFF, 2, "sql"], "SELECT 1"),
        "tools.cancel_order.effects[2].sql",
        "must be an INSERT, UPDATE or DELETE",
    ),
    (
        "invariant on unknown table",
        _set(["invariants", 1, "violations"], "SELECT refund_id FROM refund_log"),
        "invariants[1].violations",
        "unknown table refund_log",
    ),
    (
        "invariant message placeholder",
        _set(["invariants", 0, "message"], "Refund {refund} is too big."),
        "invariants[0].message",
        "unknown placeholder {refund}",
    ),
    ("bad tool name", _rename_tool, 'tools["bad tool!"]', "must match"),
    (
        "tool named like a builtin",
        lambda d: d["tools"].__setitem__("calculate", d["tools"].pop("get_order")),
        "tools.calculate",
        "clashes with a builtin",
    ),
    ("missing primary key", _missing_pk, "entities.products", "no primary key"),
    ("policy rule unknown tool", _policy_unknown_tool, "policy_rules[0].tool", "unknown tool"),
    (
        "policy rule unknown bind",
        _set(["policy_rules", 0, "violated"], "SELECT 1 FROM orders WHERE order_id = :oid"),
        "policy_rules[0].violated",
        "unknown bind :oid",
    ),
    (
        "unknown placeholder in error message",
        _set([*PRE, 1, "error"], "Order {order_id} is {state}."),
        "tools.cancel_order.preconditions[1].error",
        "unknown placeholder {state}",
    ),
    (
        "json column not in output",
        _set(["tools", "get_order", "returns", "json_columns"], ["lines"]),
        "tools.get_order.returns.json_columns[0]",
        "not an output column",
    ),
    (
        "param references unknown column",
        _set(["tools", "get_order", "params", "order_id", "references"], "orders.number"),
        "tools.get_order.params.order_id.references",
        "unknown column orders.number",
    ),
    (
        "enum param without values",
        _set(["tools", "cancel_order", "params", "reason", "values"], []),
        "tools.cancel_order.params.reason",
        "needs 'values'",
    ),
    (
        "column check over an unknown column",
        _set(["entities", "products", "columns", "price", "check"], "cost > 0"),
        "entities.products.columns.price.check",
        "unknown column cost",
    ),
    (
        "faker sql that does not prepare",
        _set(["entities", "payments", "columns", "amount", "faker"], {"sql": "SELECT nope()"}),
        "entities.payments.columns.amount.faker.sql",
        "no such function",
    ),
    (
        "non-deterministic clock",
        _set(
            [*EFF, 0], "UPDATE orders SET created_at = datetime('now') WHERE order_id = :order_id"
        ),
        "tools.cancel_order.effects[0].sql",
        "non-deterministic",
    ),
    (
        "generate into unknown column",
        _set(["tools", "cancel_order", "generate", "refund_id", "column"], "rid"),
        "tools.cancel_order.generate.refund_id.column",
        "unknown column refunds.rid",
    ),
    (
        "unknown natural key column",
        _set(["entities", "payments", "natural_key"], ["order_ref"]),
        "entities.payments.natural_key[0]",
        "unknown column order_ref",
    ),
    (
        "bad column name",
        lambda d: _cols(d, "products").__setitem__("Stock Count", {"type": "integer"}),
        'entities.products.columns["Stock Count"]',
        "must match",
    ),
    (
        "pydantic structural error",
        _set(["entities", "products", "columns", "stock", "type"], "float"),
        "entities.products.columns.stock.type",
        "Input should be",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "path", "phrase"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_spec_reports_path(
    tiny_data: dict[str, Any], mutate: Callable[[dict], None], path: str, phrase: str
) -> None:
    data = copy.deepcopy(tiny_data)
    mutate(data)
    errors = validate_spec(data)
    assert any(p == path and phrase in m for p, m in errors), errors
    with pytest.raises(SpecError) as info:
        load_spec(data)
    text = str(info.value)
    assert "\n" not in text
    assert info.value.errors == errors
    if errors[0][0] == path:
        assert f"{path}: " in text and phrase in text


def test_all_errors_are_reported(tiny_data: dict[str, Any]) -> None:
    data = copy.deepcopy(tiny_data)
    _missing_pk(data)
    _policy_unknown_tool(data)
    _let_attach(data)
    paths = {p for p, _ in validate_spec(data)}
    assert {"entities.products", "policy_rules[0].tool", "tools.cancel_order.let.payment"} <= paths


def test_missing_file_is_one_line_spec_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(SpecError) as info:
        load_spec(missing)
    assert "nope.yaml" in str(info.value) and "no such file" in str(info.value)
    assert "\n" not in str(info.value)


def test_broken_yaml_is_one_line_spec_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nentities:\n  a: [1, 2\n  b: {\n")
    with pytest.raises(SpecError) as info:
        load_spec(broken)
    text = str(info.value)
    assert "broken.yaml" in text and "YAML syntax error at line" in text and "\n" not in text


# ---- sqlcheck -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TABLE x (a)",
        "DROP TABLE orders",
        "ALTER TABLE orders ADD COLUMN x",
        "ATTACH DATABASE 'x' AS y",
        "DETACH y",
        "PRAGMA foreign_keys = OFF",
        "VACUUM",
        "BEGIN",
        "COMMIT",
        "ROLLBACK",
        "SAVEPOINT a",
        "SELECT 1; SELECT 2",
        "SELEC 1",
        "",
    ],
)
def test_parse_one_statement_refuses(sql: str) -> None:
    with pytest.raises(ValueError):
        parse_one_statement(sql)


def test_keywords_inside_literals_are_fine() -> None:
    assert statement_kind("SELECT 'attach pragma' AS note") == "select"


def test_statement_facts() -> None:
    sql = (
        "UPDATE products SET stock = stock + (SELECT SUM(quantity) FROM order_items i "
        "WHERE i.order_id = :order_id AND i.product_id = products.product_id) "
        "WHERE product_id IN (SELECT value FROM json_each(:ids))"
    )
    expr = parse_one_statement(sql)
    assert statement_kind(sql) == "update"
    assert tables_written(expr) == {"products"}
    assert tables_read(expr) == {"order_items"}
    assert params_used(sql) == {"order_id", "ids"}
    cte = parse_one_statement("WITH c AS (SELECT order_id FROM orders) SELECT * FROM c")
    assert tables_read(cte) == {"orders"}
    used = columns_used(parse_one_statement("SELECT o.status FROM orders o WHERE o.total > 1"))
    assert used == {("orders", "status"), ("orders", "total")}


def test_result_lineage(tiny: DomainSpec) -> None:
    get_customer = tiny.tools["get_customer"]
    assert get_customer.returns is not None
    lineage = result_lineage(get_customer.returns.query, tiny)
    assert lineage["customer_id"] == "customers.customer_id"
    assert lineage["email"] == "customers.email"
    assert "order_ids" not in lineage  # an aggregate: only returns.references says what it is
    refs = tool_output_references(tiny, get_customer)
    assert refs["order_ids[]"] == "orders.order_id"
    scalar = tool_output_references(tiny, tiny.tools["find_customer_by_email"])
    assert scalar == {"customer_id": "customers.customer_id"}
    assert result_lineage(
        "SELECT x.cid AS who FROM (SELECT c.customer_id AS cid FROM customers c) x", tiny
    ) == {"who": "customers.customer_id"}
    assert result_lineage("SELECT * FROM refunds", tiny)["payment_id"] == "refunds.payment_id"


def test_rowid_is_a_column_of_every_table(tiny_data: dict[str, Any]) -> None:
    """SQLite's rowid / oid / _rowid_ are valid in fills and tool SQL; typos still are not."""
    data = copy.deepcopy(tiny_data)
    note = _cols(data, "customers")["note"]
    note["faker"] = {"sql": "SELECT 'row ' || customers.rowid"}
    _tool(data, "cancel_order")["let"]["position"] = (
        "SELECT o.oid + o._rowid_ + o.ROWID + rowid FROM orders o WHERE o.order_id = :order_id"
    )
    assert validate_spec(data) == []
    _tool(data, "cancel_order")["let"]["position"] = (
        "SELECT o.rowidx FROM orders o WHERE o.order_id = :order_id"
    )
    note["faker"] = {"sql": "SELECT customers.rowidx"}
    errors = validate_spec(data)
    assert ("tools.cancel_order.let.position", "unknown column orders.rowidx") in errors
    assert any(p.endswith("note.faker.sql") and "rowidx" in m for p, m in errors)
