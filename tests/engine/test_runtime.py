"""Tool calls: result shapes, effects, generated ids, argument validation, rollback, builtins."""

from __future__ import annotations

import json
import math

import pytest
from tinyshop import make_world, spec_with

from engine.runtime.argcheck import ArgError, compile_params, param_check
from engine.runtime.builtins import builtin_params, calculate
from engine.runtime.call import id_candidate
from engine.spec.models import DomainSpec, Param
from engine.world import World

CANCEL = {"order_id": "#W0001", "reason": "no longer needed"}


def rows(session, sql: str, *args) -> list[tuple]:
    return session.conn.execute(sql, args).fetchall()


# ---- result shapes ------------------------------------------------------------------------
def test_scalar_object_and_list_shapes(tiny_world: World) -> None:
    s = tiny_world.session()
    r = s.call("find_customer_by_email", {"email": "ann@example.com"})
    assert r.ok and r.result == "C0001" and r.error_type is None

    r = s.call("get_customer", {"customer_id": "C0001"})
    assert r.ok and r.result["name"] == "Ann Lee"
    assert r.result["order_ids"] == ["#W0001", "#W0002"], "json_columns are parsed"

    r = s.call("get_order", {"order_id": "#W0001"})
    assert [i["item_id"] for i in r.result["items"]] == [1, 2]
    assert r.result["items"][0] == {
        "item_id": 1,
        "product_id": "P001",
        "quantity": 2,
        "unit_price": 12.5,
    }

    r = s.call("search_products", {"query": "Mug"})
    assert [p["product_id"] for p in r.result] == ["P001", "P002"], "cheapest first"
    r = s.call("search_products", {"query": "Mug", "max_price": 13})
    assert [p["product_id"] for p in r.result] == ["P001"]
    assert s.call("search_products", {"query": "zzz"}).result == []
    json.dumps([h[1].to_dict() for h in s.history])  # every result is JSON-serialisable


def test_precondition_message_is_filled_from_params_and_row(tiny_world: World) -> None:
    s = tiny_world.session()
    r = s.call("cancel_order", {"order_id": "#W0002", "reason": "no longer needed"})
    assert (r.ok, r.error_type) == (False, "precondition_failed")
    assert r.message == "Order #W0002 is delivered; only pending orders can be cancelled."
    r = s.call("get_order", {"order_id": "#W9999"})
    assert r.message == "Order #W9999 not found."


# ---- writes ---------------------------------------------------------------------------------
def test_write_tool_applies_every_effect(tiny_world: World) -> None:
    s = tiny_world.session()
    r = s.call("cancel_order", CANCEL)
    assert r.ok and r.result == {"order_id": "#W0001", "status": "cancelled"}
    assert rows(s, "SELECT status FROM orders WHERE order_id = '#W0001'") == [("cancelled",)]
    assert rows(s, "SELECT product_id, stock FROM products ORDER BY 1") == [
        ("P001", 7),
        ("P002", 1),
        ("P003", 3),
    ]
    (refund,) = rows(s, "SELECT refund_id, payment_id, amount, created_at FROM refunds")
    assert refund[1:] == ("PAY00001", 39, tiny_world.spec.now)
    assert refund[0] == id_candidate("tiny_shop", "cancel_order", "refund_id", 0, "RF#####")
    assert refund[0].startswith("RF") and len(refund[0]) == 7 and refund[0][2:].isdigit()


def test_effect_skipped_when_its_condition_is_false(tiny_world: World) -> None:
    s = tiny_world.session()
    assert s.call("cancel_order", {"order_id": "#W0004", "reason": "ordered by mistake"}).ok
    assert rows(s, "SELECT COUNT(*) FROM refunds") == [(0,)], "no payment, so no refund"


def test_generated_ids_are_deterministic_and_unique(tiny_world: World) -> None:
    a, b = tiny_world.session(), tiny_world.session()
    for s in (a, b):
        assert s.call("cancel_order", CANCEL).ok
        assert s.call("cancel_order", {"order_id": "#W0003", "reason": "no longer needed"}).ok
    ids_a = rows(a, "SELECT refund_id, payment_id FROM refunds ORDER BY payment_id")
    assert ids_a == rows(b, "SELECT refund_id, payment_id FROM refunds ORDER BY payment_id")
    assert ids_a[0][0] != ids_a[1][0]
    assert ids_a[1][0] == id_candidate("tiny_shop", "cancel_order", "refund_id", 1, "RF#####")


def test_id_space_exhausted_is_an_internal_error(tiny_spec: DomainSpec) -> None:
    spec = spec_with(
        tiny_spec,
        add_refund={
            "description": "x",
            "params": {"payment_id": {"type": "string"}},
            "reads": ["payments"],
            "writes": ["refunds"],
            "generate": {"rid": {"pattern": "RF", "table": "refunds", "column": "refund_id"}},
            "effects": ["INSERT INTO refunds VALUES (:rid, :payment_id, 1, :now)"],
        },
    )
    s = World.from_parts(spec, make_world(spec).base_bytes).session()
    assert s.call("add_refund", {"payment_id": "PAY00001"}).ok
    before = s.snapshot()
    r = s.call("add_refund", {"payment_id": "PAY00002"})
    assert r.error_type == "internal" and "1000 candidates" in r.message
    assert s.snapshot() == before


# ---- failures roll back to identical bytes -------------------------------------------------------
def _failing_world(tiny_spec: DomainSpec) -> World:
    spec = spec_with(
        tiny_spec,
        over_refund={  # breaks refund_not_above_payment after a first, valid effect
            "description": "x",
            "params": {"order_id": {"type": "string"}},
            "reads": ["orders", "payments"],
            "writes": ["orders", "refunds"],
            "effects": [
                "UPDATE orders SET status = 'cancelled' WHERE order_id = :order_id",
                "INSERT INTO refunds SELECT 'RFBAD', payment_id, amount + 100, :now FROM payments WHERE order_id = :order_id",
            ],
        },
        break_check={  # violates CHECK (stock >= 0) in its second effect
            "description": "x",
            "reads": ["products"],
            "writes": ["products", "orders"],
            "effects": ["UPDATE orders SET total = 1", "UPDATE products SET stock = stock - 100"],
        },
        sneaky_write={  # declares orders, also writes customers
            "description": "x",
            "reads": ["orders"],
            "writes": ["orders"],
            "effects": ["UPDATE orders SET total = 2", "UPDATE customers SET note = 'pwned'"],
        },
    )
    return World.from_parts(spec, make_world(spec).base_bytes)


FAILING = [
    ("no_such_tool", {}, "unknown_tool"),
    (None, {}, "unknown_tool"),
    (["cancel_order"], {}, "unknown_tool"),
    ("cancel_order", {"order_id": 7, "reason": "no longer needed"}, "invalid_arguments"),
    ("cancel_order", '{"order_id": ', "invalid_arguments"),
    ("cancel_order", {"order_id": "#W0002", "reason": "no longer needed"}, "precondition_failed"),
    ("over_refund", {"order_id": "#W0001"}, "invariant_violated"),
    ("break_check", {}, "internal"),
    ("sneaky_write", {}, "internal"),
]


@pytest.mark.parametrize(
    ("tool", "args", "error_type"), FAILING, ids=[f"{f[2]}:{f[0]}" for f in FAILING]
)
def test_failed_call_leaves_bytes_identical(
    tiny_spec: DomainSpec, tool: str, args, error_type: str
) -> None:
    s = _failing_world(tiny_spec).session()
    assert s.call("add_customer_note", {"customer_id": "C0001", "note": "kept"}).ok
    before, changes = s.snapshot(), s.changes()
    r = s.call(tool, args)
    assert (r.ok, r.error_type) == (False, error_type), r.message
    assert r.message
    assert s.snapshot() == before, "a failed call must not change a single byte"
    assert s.changes() == changes
    assert not s.conn.in_transaction


def test_invariant_violation_names_invariant_and_rows(tiny_spec: DomainSpec) -> None:
    s = _failing_world(tiny_spec).session()
    r = s.call("over_refund", {"order_id": "#W0001"})
    assert r.error_type == "invariant_violated"
    assert "refund_not_above_payment" in r.message
    assert "Refund RFBAD of 139 exceeds the payment of 39." in r.message
    assert '"refund_id": "RFBAD"' in r.message
    assert rows(s, "SELECT status FROM orders WHERE order_id = '#W0001'") == [("pending",)]


def test_constraint_and_permission_failures_say_why(tiny_spec: DomainSpec) -> None:
    s = _failing_world(tiny_spec).session()
    assert "CHECK constraint failed" in s.call("break_check", {}).message
    msg = s.call("sneaky_write", {}).message
    assert "sneaky_write" in msg and "update table 'customers'" in msg


# ---- argument validation ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        ({}, "missing required argument 'order_id'"),
        ({"order_id": "#W0001"}, "missing required argument 'reason'"),
        ({"order_id": "#W0001", "reason": "because"}, "'reason' must be one of"),
        ({"order_id": "#W0001", "reason": "no longer needed", "x": 1}, "unknown argument 'x'"),
        ({"order_id": None, "reason": "no longer needed"}, "'order_id' must be a string, got null"),
        ({"order_id": ["#W0001"], "reason": "no longer needed"}, "'order_id' must be a string"),
        ({"order_id": "#W\x000001", "reason": "no longer needed"}, "NUL"),
        ({"order_id": "x" * 10_001, "reason": "no longer needed"}, "at most 10000 characters"),
        ({"order_id": "\ud800", "reason": "no longer needed"}, "lone surrogate"),
    ],
)
def test_invalid_arguments_name_the_argument(tiny_world: World, args: dict, phrase: str) -> None:
    r = tiny_world.session().call("cancel_order", args)
    assert r.error_type == "invalid_arguments"
    assert phrase in r.message
    assert r.text.startswith("invalid_arguments: ")


@pytest.mark.parametrize(
    ("items", "phrase"),
    [
        ([], "at least 1 item"),
        ([1.0], "'item_ids[0]' must be an integer"),
        ([True], "'item_ids[0]' must be an integer"),
        (["1"], "'item_ids[0]' must be an integer"),
        ([1, 1], "must not repeat"),
        (list(range(11)), "at most 10 items"),
        ("[1]", "must be an array"),
    ],
)
def test_array_arguments(tiny_world: World, items, phrase: str) -> None:
    r = tiny_world.session().call("remove_items", {"order_id": "#W0001", "item_ids": items})
    assert r.error_type == "invalid_arguments" and phrase in r.message


def test_number_rules() -> None:
    check = param_check("quantity", Param(type="integer", minimum=1))
    assert check(3) == 3
    with pytest.raises(ArgError) as err:
        check(-2)
    assert str(err.value) == "'quantity' must be an integer ≥ 1, got -2"
    for bad in (True, 2.0, "2", 2**63):
        with pytest.raises(ArgError):
            check(bad)
    num = param_check("price", Param(type="number", minimum=0, maximum=10))
    assert num(2) == 2 and num(2.5) == 2.5
    for bad in (math.nan, math.inf, -math.inf, False, -0.5, 11, "1"):
        with pytest.raises(ArgError, match="'price'"):
            num(bad)


def test_date_rules_are_strict() -> None:
    date = param_check("day", Param(type="date"))
    assert date("2024-02-29") == "2024-02-29"
    for bad in ("2024-02-30", "2024-5-1", "2024/05/01", "2024-05-01 00:00:00", 20240501):
        with pytest.raises(ArgError, match="'day'"):
            date(bad)
    dt = param_check("at", Param(type="datetime"))
    assert dt("2024-05-15 14:30:00")
    for bad in ("2024-05-15T14:30:00", "2024-05-15 25:00:00", "2024-05-15"):
        with pytest.raises(ArgError, match="'at'"):
            dt(bad)


def test_optional_defaults_and_json_text_args(tiny_world: World) -> None:
    validate = compile_params(
        {
            "a": Param(type="integer", required=False, default=3),
            "b": Param(type="string", required=False),
        }
    )
    assert validate({}) == {"a": 3, "b": None}
    s = tiny_world.session()
    assert (
        s.call("search_products", '{"query": "Mug", "max_price": 13}').result[0]["product_id"]
        == "P001"
    )
    for bad in ("[1, 2]", "not json", '{"query": "Mug", "max_price": NaN}', "123"):
        assert s.call("search_products", bad).error_type == "invalid_arguments"


def test_hostile_strings_are_data(tiny_world: World) -> None:
    s = tiny_world.session()
    for note in (
        "'; DROP TABLE orders; --",
        "🙂 ünïcödé ✓",
        "Robert'); DELETE FROM customers;--",
        ":note ? %s {0}",
    ):
        r = s.call("add_customer_note", {"customer_id": "C0002", "note": note})
        assert r.ok and r.result["note"] == note
    assert rows(s, "SELECT COUNT(*) FROM orders") == [(4,)]
    assert rows(s, "SELECT COUNT(*) FROM customers") == [(3,)]
    before = s.snapshot()
    for note in ("x" * 1_000_000, "a\x00b", "", 12, None, {"$ne": 1}):
        r = s.call("add_customer_note", {"customer_id": "C0002", "note": note})
        assert r.error_type == "invalid_arguments", (
            note if isinstance(note, str) and len(note) < 50 else type(note)
        )
    r = s.call("search_products", {"query": "%' OR 1=1 --"})
    assert r.ok and r.result == []
    assert (
        s.call("search_products", {"query": "Mug", "max_price": float("nan")}).error_type
        == "invalid_arguments"
    )
    assert s.snapshot() == before


# ---- builtins ------------------------------------------------------------------------------------
def test_calculate_is_correct() -> None:
    assert calculate("7/2") == 3.5
    assert calculate("(12.5 * 2) - 3 / 4") == 24.25
    assert calculate("2 ** 10 % 7") == 2
    assert calculate("-(1 + 2) * +3") == -9
    assert calculate("10 / 3") == 3.33


@pytest.mark.parametrize(
    "expr",
    ["__import__('os')", "2**99999999", "1/0", "5 % 0", "0 ** -1", "x + 1", "abs(-1)", "(1).real",
     "[1, 2]", "1 if 1 else 2", "'a' * 3", "9" * 600, "10 ** 300 * 10 ** 300", "(-8) ** 0.5", "1e999", ""],
)  # fmt: skip
def test_calculate_refuses_anything_else(expr: str) -> None:
    with pytest.raises(ArgError):
        calculate(expr)


def test_builtins_through_the_session(tiny_world: World) -> None:
    s = tiny_world.session()
    assert s.call("calculate", {"expression": "7/2"}).result == 3.5
    r = s.call("calculate", {"expression": "1/0"})
    assert r.error_type == "invalid_arguments" and "division by zero" in r.message
    assert s.call("calculate", {"expression": "__import__('os')"}).error_type == "invalid_arguments"
    assert not s.done
    r = s.call("transfer_to_human_agents", {"summary": "wants a human"})
    assert r.ok and r.result == "Transfer successful" and s.done
    s.reset()
    assert not s.done
    assert set(builtin_params()) == {"calculate", "transfer_to_human_agents"}


def test_builtins_absent_unless_listed(tiny_spec: DomainSpec) -> None:
    spec = tiny_spec.model_copy(update={"builtins": []})
    s = World.from_parts(spec, make_world(spec).base_bytes).session()
    assert s.call("calculate", {"expression": "1+1"}).error_type == "unknown_tool"
    assert "calculate" not in s.tool_names()


def test_runtime_never_accepts_what_the_published_schema_rejects(tiny_world: World) -> None:
    import jsonschema

    from engine.toolschema.tools import args_json_schema

    samples = [None, True, 0, 1, -2, 2.0, 2.5, math.nan, "", "#W0001", "x" * 600, "a\x00", "2024-05-15",
               [], [1], [1, 1], [1.0], ["1"], {"a": 1}, "no longer needed"]  # fmt: skip
    s = tiny_world.session()
    accepted = 0
    for name, tool in tiny_world.spec.tools.items():
        schema = args_json_schema(tool)
        for pname in tool.params:
            for value in samples:
                args = {p: CANCEL.get(p, "#W0001") for p in tool.params if tool.params[p].required}
                args[pname] = value
                r = s.call(name, args)
                if r.error_type != "invalid_arguments":
                    jsonschema.validate(args, schema)  # raises if the runtime was laxer
                    accepted += 1
                s.reset()
    assert accepted > 0  # some samples did pass the argument checks and were compared
