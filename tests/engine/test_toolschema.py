"""Tool schemas: OpenAI strict rules, valid MCP JSON Schemas, args and results that validate."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

import engine.world as world_mod
from engine.spec.metadata import create_sqlite
from engine.spec.models import DomainSpec, Param, read_spec_data
from engine.toolschema.tools import (
    STRICT_KEYWORDS,
    args_json_schema,
    mcp_tools,
    openai_tools,
    param_json_schema,
    structured_result,
    tool_annotations,
)

ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@pytest.fixture(scope="module")
def spec() -> DomainSpec:
    return DomainSpec.model_validate(read_spec_data(ROOT / "fixtures/domains/tiny_shop.yaml"))


def all_names(spec: DomainSpec) -> list[str]:
    return [*spec.tools, *spec.builtins]


def check_strict(schema: dict[str, Any], path: str = "$") -> None:
    """OpenAI strict mode, recursively: closed objects, all properties required, known keywords."""
    assert set(schema) <= STRICT_KEYWORDS, f"{path}: {set(schema) - STRICT_KEYWORDS}"
    types = schema.get("type")
    types = types if isinstance(types, list) else [types]
    if "object" in types:
        assert schema.get("additionalProperties") is False, path
        assert sorted(schema.get("required", [])) == sorted(schema.get("properties", {})), path
        for name, sub in schema.get("properties", {}).items():
            check_strict(sub, f"{path}.{name}")
    if "array" in types:
        check_strict(schema["items"], f"{path}[]")
    for i, sub in enumerate(schema.get("anyOf", [])):
        check_strict(sub, f"{path}|{i}")


def test_openai_tools_are_strict(spec: DomainSpec) -> None:
    tools = openai_tools(spec, all_names(spec))
    assert [t["function"]["name"] for t in tools] == all_names(spec)
    for t in tools:
        fn = t["function"]
        assert t["type"] == "function" and fn["strict"] is True
        assert NAME.fullmatch(fn["name"]) and fn["description"]
        params = fn["parameters"]
        assert params["type"] == "object"
        check_strict(params)
        json.dumps(t)  # plain JSON
        Draft202012Validator.check_schema(params)
    # optional params are nullable, their constraints survive in words
    search = next(t for t in tools if t["function"]["name"] == "search_products")
    props = search["function"]["parameters"]["properties"]
    assert props["max_price"]["type"] == ["number", "null"]
    assert "minimum 0" in props["max_price"]["description"]
    assert "1-100 characters" in props["query"]["description"]


def test_default_names_are_active_tools_and_builtins(spec: DomainSpec) -> None:
    names = [t["function"]["name"] for t in openai_tools(spec)]
    assert names == [*spec.active_tools(), *spec.builtins]
    with pytest.raises(KeyError):
        openai_tools(spec, ["no_such_tool"])


def test_mcp_schemas_are_valid_json_schema(spec: DomainSpec) -> None:
    tools = mcp_tools(spec, all_names(spec))
    assert [t["name"] for t in tools] == all_names(spec)
    for t in tools:
        Draft202012Validator.check_schema(t["inputSchema"])
        assert t["inputSchema"]["type"] == "object"
        out = t["outputSchema"]
        Draft202012Validator.check_schema(out)
        assert out["type"] == "object"  # MCP requires an object
        ann = t["annotations"]
        assert set(ann) >= {"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"}


def test_annotations(spec: DomainSpec) -> None:
    get = tool_annotations(spec, "get_order")
    assert get["readOnlyHint"] and get["idempotentHint"] and not get["destructiveHint"]
    cancel = tool_annotations(spec, "cancel_order")
    assert not cancel["readOnlyHint"] and cancel["destructiveHint"]
    assert not cancel["idempotentHint"]  # stock = stock + ... grows on every call
    note = tool_annotations(spec, "add_customer_note")
    assert note["destructiveHint"] and note["idempotentHint"]  # SET note = :note
    assert tool_annotations(spec, "remove_items")["destructiveHint"]  # DELETE
    assert tool_annotations(spec, "calculate")["readOnlyHint"]


@pytest.mark.parametrize(
    ("tool", "args", "ok"),
    [
        ("get_order", {"order_id": "#W0001"}, True),
        ("get_order", {"order_id": "W0001"}, False),  # pattern
        ("get_order", {}, False),  # required
        ("get_order", {"order_id": "#W0001", "x": 1}, False),  # closed object
        ("search_products", {"query": "lamp"}, True),
        ("search_products", {"query": "lamp", "max_price": None}, True),  # optional: nullable
        ("search_products", {"query": "lamp", "max_price": 12.5}, True),
        ("search_products", {"query": "lamp", "max_price": -1}, False),  # minimum
        ("search_products", {"query": ""}, False),  # minLength
        ("search_products", {"query": 5}, False),  # type
        ("remove_items", {"order_id": "#W0001", "item_ids": [1, 2]}, True),
        ("remove_items", {"order_id": "#W0001", "item_ids": []}, False),  # minItems
        ("remove_items", {"order_id": "#W0001", "item_ids": [1, 1]}, False),  # uniqueItems
        ("remove_items", {"order_id": "#W0001", "item_ids": ["a"]}, False),  # item type
        ("remove_items", {"order_id": "#W0001", "item_ids": list(range(11))}, False),
        ("cancel_order", {"order_id": "#W0001", "reason": "ordered by mistake"}, True),
        ("cancel_order", {"order_id": "#W0001", "reason": "bored"}, False),  # enum
        ("calculate", {"expression": "1 + 2"}, True),
        ("calculate", {}, False),
    ],
)
def test_input_schema_validates_args(spec: DomainSpec, tool: str, args: dict, ok: bool) -> None:
    schema = mcp_tools(spec, [tool])[0]["inputSchema"]
    assert Draft202012Validator(schema).is_valid(args) is ok
    if tool in spec.tools:
        assert args_json_schema(spec.tools[tool]) == schema


def test_param_schema_details() -> None:
    date = param_json_schema(Param(type="date"))
    assert date["format"] == "date" and Draft202012Validator(date).is_valid("2024-05-15")
    assert not Draft202012Validator(date).is_valid("15/05/2024")
    dt = param_json_schema(Param(type="datetime"))
    assert Draft202012Validator(dt).is_valid("2024-05-15 15:00:00")
    assert not Draft202012Validator(dt).is_valid("2024-05-15")
    count = param_json_schema(Param(type="integer", minimum=1, maximum=9, default=2))
    assert count == {"type": "integer", "minimum": 1, "maximum": 9, "default": 2}
    strict = param_json_schema(Param(type="integer", minimum=1, description="How many."), True)
    assert strict == {"type": "integer", "description": "How many. (minimum 1)"}
    levels = param_json_schema(Param(type="enum", values=[1, 2, 3]), nullable=True)
    assert levels == {"type": ["integer", "null"], "enum": [1, 2, 3, None]}


def _rows(conn: sqlite3.Connection, sql: str, binds: dict) -> list[dict]:
    cur = conn.execute(sql, binds)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _shaped(spec: DomainSpec, name: str, conn: sqlite3.Connection, binds: dict) -> Any:
    """What the runtime returns: shape applied, JSON columns parsed."""
    ret = spec.tools[name].returns
    assert ret is not None
    rows = _rows(conn, ret.query, {"now": spec.now, **binds})
    for r in rows:
        for c in ret.json_columns:
            r[c] = json.loads(r[c]) if r[c] is not None else None
    if ret.shape == "list":
        return rows
    if ret.shape == "scalar":
        return next(iter(rows[0].values())) if rows else None
    return rows[0] if rows else None


@pytest.fixture()
def shop(spec: DomainSpec) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    create_sqlite(spec, conn)
    conn.executescript(
        """
        INSERT INTO customers VALUES ('C0001','Ada','ada@x.org','gold',12.5,'likes tea');
        INSERT INTO products VALUES ('P001','Desk lamp',19.99,4), ('P002','Lamp shade',5,0);
        INSERT INTO orders VALUES ('#W0001','C0001','pending','2024-05-10 10:00:00',44.98);
        INSERT INTO order_items VALUES (1,'#W0001','P001',2,19.99), (2,'#W0001','P002',1,5);
        INSERT INTO payments VALUES ('PAY00001','#W0001','card',44.98);
        """
    )
    return conn


@pytest.mark.parametrize(
    ("tool", "binds"),
    [
        ("find_customer_by_email", {"email": "ada@x.org"}),
        ("get_customer", {"customer_id": "C0001"}),
        ("get_order", {"order_id": "#W0001"}),
        ("search_products", {"query": "amp", "max_price": None}),
        ("cancel_order", {"order_id": "#W0001"}),
        ("remove_items", {"order_id": "#W0001"}),
        ("add_customer_note", {"customer_id": "C0001"}),
    ],
)
def test_results_validate_against_output_schema(
    spec: DomainSpec, shop: sqlite3.Connection, tool: str, binds: dict
) -> None:
    schema = mcp_tools(spec, [tool])[0]["outputSchema"]
    result = _shaped(spec, tool, shop, binds)
    assert result not in (None, [])
    content = structured_result(spec, tool, result)
    Draft202012Validator(schema).validate(content)
    assert not Draft202012Validator(schema).is_valid({"unexpected": 1})


def test_session_results_validate(spec: DomainSpec) -> None:
    """With the runtime present: real ToolResults validate against the outputSchema."""

    conn = sqlite3.connect(":memory:", isolation_level=None)
    create_sqlite(spec, conn)
    conn.executescript(
        """
        INSERT INTO customers VALUES ('C0001','Ada','ada@x.org','gold',12.5,NULL);
        INSERT INTO products VALUES ('P001','Desk lamp',19.99,4);
        INSERT INTO orders VALUES ('#W0001','C0001','pending','2024-05-10 10:00:00',39.98);
        INSERT INTO order_items VALUES (1,'#W0001','P001',2,19.99);
        INSERT INTO payments VALUES ('PAY00001','#W0001','card',39.98);
        """
    )
    world = world_mod.World.from_parts(spec, conn.serialize())
    s = world.session()
    schemas = {t["name"]: t["outputSchema"] for t in mcp_tools(spec)}
    calls = [
        ("get_customer", {"customer_id": "C0001"}),
        ("get_order", {"order_id": "#W0001"}),
        ("search_products", {"query": "lamp"}),
        ("find_customer_by_email", {"email": "ada@x.org"}),
        ("cancel_order", {"order_id": "#W0001", "reason": "no longer needed"}),
        ("calculate", {"expression": "2 * (3 + 4.5)"}),
    ]
    for name, args in calls:
        r = s.call(name, args)
        assert r.ok, (name, r.message)
        Draft202012Validator(schemas[name]).validate(structured_result(spec, name, r.result))
