"""Evaluation: match policies on near-misses, partial credit, answers, determinism, diffs."""

from __future__ import annotations

import copy
import random
import sqlite3
from pathlib import Path

import pytest

from engine.reward.diff import diff_states, match_key_columns
from engine.reward.evaluate import Score, evaluate_changes
from engine.reward.match import answer_found, canonical, semantic_score, values_match
from engine.spec.metadata import create_sqlite
from engine.spec.models import Column, DomainSpec, read_spec_data
from engine.spec.task import RowChange, Task, UserProfile

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def spec() -> DomainSpec:
    return DomainSpec.model_validate(read_spec_data(ROOT / "fixtures/domains/tiny_shop.yaml"))


ORDER = {
    "order_id": "#W0001",
    "customer_id": "C0001",
    "status": "pending",
    "created_at": "2024-05-10 10:00:00",
    "total": 30.0,
}
CUSTOMER = {
    "customer_id": "C0001",
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "tier": "regular",
    "balance": 12.5,
    "note": None,
}
PRODUCT = {"product_id": "P001", "title": "Widget", "price": 10.0, "stock": 5}
PAYMENT = {"payment_id": "PAY00001", "order_id": "#W0001", "method": "card", "amount": 30.0}


def upd(table: str, key: str, before: dict, **changes) -> RowChange:
    return RowChange(
        table=table, key={key: before[key]}, before=dict(before), after={**before, **changes}
    )


def ins(table: str, key: str, row: dict) -> RowChange:
    return RowChange(table=table, key={key: row[key]}, before=None, after=dict(row))


def dele(table: str, key: str, row: dict) -> RowChange:
    return RowChange(table=table, key={key: row[key]}, before=dict(row), after=None)


def refund(refund_id: str = "RF00001", **kw) -> dict:
    row = {
        "refund_id": refund_id,
        "payment_id": "PAY00001",
        "amount": 30.0,
        "created_at": "2024-05-15 15:00:00",
    }
    return {**row, **kw}


def make_task(gold: list[RowChange], answers: list[str] | None = None) -> Task:
    return Task(
        id="t1",
        domain="tiny_shop",
        instruction="Cancel my order.",
        user=UserProfile(name="Ada"),
        toolset=["cancel_order"],
        gold_actions=[],
        gold_diff=gold,
        required_answers=answers or [],
    )


# ---- match policies on constructed near-misses -----------------------------------------------
def test_exempt_generated_id_differing_passes(spec: DomainSpec) -> None:
    task = make_task([ins("refunds", "refund_id", refund("RF00001"))])
    got = [ins("refunds", "refund_id", refund("RF99999", created_at="2024-05-15 15:00:07"))]
    score = evaluate_changes(spec, task, got)
    assert score.passed and score.reward == 1.0, score.explanation


def test_price_off_by_one_cent_fails(spec: DomainSpec) -> None:
    start = {**PRODUCT, "price": 12.0}
    task = make_task([upd("products", "product_id", start, price=10.0)])
    near = upd("products", "product_id", start, price=10.01)
    score = evaluate_changes(spec, task, [near])
    assert not score.passed
    assert score.explanation == ["products[P001].price: expected 10.00, got 10.01"]


def test_decimal_float_drift_is_not_a_difference(spec: DomainSpec) -> None:
    col = spec.entities["products"].columns["price"]
    assert values_match(col, 0.3, 0.1 + 0.2)
    assert values_match(col, "10.00", 10)
    assert not values_match(col, 10.00, 10.01)
    assert not values_match(col, None, 0)
    assert values_match(col, None, None)
    flag = Column(type="boolean")
    assert values_match(flag, True, 1) and values_match(flag, 0, False)
    assert not values_match(flag, 1, 0)
    assert canonical(Column(type="integer"), 3.0) == canonical(Column(type="integer"), 3)


def test_reworded_note_passes_unrelated_note_fails(spec: DomainSpec) -> None:
    gold = "Customer prefers to be contacted by email."
    task = make_task([upd("customers", "customer_id", CUSTOMER, note=gold)])
    reworded = upd("customers", "customer_id", CUSTOMER, note="customer prefers contact via e-mail")
    unrelated = upd("customers", "customer_id", CUSTOMER, note="Order arrived damaged.")
    subset = upd("customers", "customer_id", CUSTOMER, note="customer")
    assert evaluate_changes(spec, task, [reworded]).passed
    bad = evaluate_changes(spec, task, [unrelated])
    assert not bad.passed
    assert bad.explanation[0].startswith("customers[C0001].note: expected ")
    assert not evaluate_changes(spec, task, [subset]).passed
    assert semantic_score(None, None) == 100.0 and semantic_score("x", None) == 0.0


def test_exact_string_and_exempt_column(spec: DomainSpec) -> None:
    task = make_task([upd("orders", "order_id", ORDER, status="cancelled")])
    wrong = upd("orders", "order_id", ORDER, status="delivered")
    score = evaluate_changes(spec, task, [wrong])
    assert score.explanation == ["orders[#W0001].status: expected 'cancelled', got 'delivered'"]
    # the exempt created_at may differ; the status is what counts
    ok = upd("orders", "order_id", ORDER, status="cancelled", created_at="2024-05-15 15:00:00")
    assert evaluate_changes(spec, task, [ok]).passed


def test_match_keys(spec: DomainSpec) -> None:
    assert match_key_columns(spec.entities["payments"]) == ["order_id"]
    assert match_key_columns(spec.entities["orders"]) == ["order_id"]
    assert match_key_columns(spec.entities["refunds"]) == ["payment_id"]


# ---- partial credit, unexpected changes, deletes ----------------------------------------------
def cancel_gold() -> list[RowChange]:
    return [
        upd("orders", "order_id", ORDER, status="cancelled"),
        upd("products", "product_id", PRODUCT, stock=7),
        ins("refunds", "refund_id", refund()),
    ]


def test_empty_trajectory_fails_with_zero(spec: DomainSpec) -> None:
    score = evaluate_changes(spec, make_task(cancel_gold()), [])
    assert not score.passed and score.reward == 0.0
    assert score.expected == 3 and score.matched == 0
    assert "missing insert into refunds (payment_id='PAY00001')" in score.explanation
    assert "orders[#W0001].status: expected 'cancelled', got 'pending'" in score.explanation


def test_partial_credit_and_unexpected_penalty(spec: DomainSpec) -> None:
    task = make_task(cancel_gold())
    got = cancel_gold()[:2]
    score = evaluate_changes(spec, task, got)
    assert score.partial == pytest.approx(2 / 3) and score.reward == score.partial
    extra = upd("customers", "customer_id", CUSTOMER, balance=42.0)
    score = evaluate_changes(spec, task, [*cancel_gold(), extra])
    assert not score.passed and score.state_ok is False
    assert score.unexpected == 1 and score.partial == pytest.approx(1 - 0.5 / 3)
    assert score.explanation == ["unexpected update of customers[C0001]: balance 12.50 -> 42.00"]


def test_exempt_only_changes_are_not_unexpected(spec: DomainSpec) -> None:
    touched = upd("orders", "order_id", {**ORDER, "order_id": "#W0002"}, created_at="2024-01-01")
    score = evaluate_changes(spec, make_task(cancel_gold()), [*cancel_gold(), touched])
    assert score.passed and score.unexpected == 0


def test_unexpected_insert_and_delete(spec: DomainSpec) -> None:
    task = make_task([])
    score = evaluate_changes(
        spec, task, [ins("refunds", "refund_id", refund()), dele("payments", "payment_id", PAYMENT)]
    )
    assert not score.passed and score.unexpected == 2
    assert score.explanation == [
        "unexpected delete from payments[#W0001]",
        "unexpected insert into refunds (payment_id='PAY00001')",
    ]


def test_expected_delete(spec: DomainSpec) -> None:
    item = {
        "item_id": 7,
        "order_id": "#W0001",
        "product_id": "P001",
        "quantity": 2,
        "unit_price": 10.0,
    }
    task = make_task([dele("order_items", "item_id", item)])
    assert evaluate_changes(spec, task, [dele("order_items", "item_id", item)]).passed
    wrong = upd("order_items", "item_id", item, quantity=1)
    score = evaluate_changes(spec, task, [wrong])
    assert score.explanation == ["order_items[7]: expected delete, row still present"]


def test_delete_then_reinsert_equals_update(spec: DomainSpec) -> None:
    task = make_task([upd("payments", "payment_id", PAYMENT, amount=20.0)])
    new = {**PAYMENT, "payment_id": "PAY77777", "amount": 20.0}
    got = [dele("payments", "payment_id", PAYMENT), ins("payments", "payment_id", new)]
    assert evaluate_changes(spec, task, got).passed


# ---- required answers -------------------------------------------------------------------------
def test_answers_numeric_and_text() -> None:
    assert answer_found("42.5", ["Sure.", "It costs $42.50 in total."])
    assert answer_found("1234.5", ["That is $1,234.50."])
    assert answer_found("#W0001", ["Your order W0001 is cancelled"])
    assert not answer_found("42.5", ["It costs $425."])
    assert not answer_found("W0001", ["order W00012"])
    assert answer_found("Gold tier", ["You are in the GOLD tier!"])
    # dates and clock times are whole words: a count is not read off a date or a time
    assert not answer_found("2", ['{"created": "2024-05-02T10:00:00Z"}'])
    assert not answer_found("30", ["It opens at 14:30."])
    assert answer_found("2024-05-02", ["It was created on 2024-05-02T10:00:00."])
    assert answer_found("14:30", ["It opens at 14:30."])


def test_information_task_passes_on_answers(spec: DomainSpec) -> None:
    task = make_task([], answers=["42.50", "pending"])
    score = evaluate_changes(spec, task, [], ["The order is pending and costs $42.5."])
    assert score.passed and score.reward == 1.0
    score = evaluate_changes(spec, task, [], ["The order is pending."])
    assert not score.passed and score.partial == 0.5
    assert score.explanation == ["missing answer: '42.50'"]
    assert evaluate_changes(spec, task, []).reward == 0.0


# ---- determinism and purity --------------------------------------------------------------------
def test_deterministic_and_pure(spec: DomainSpec) -> None:
    task = make_task(cancel_gold(), answers=["30"])
    got = [
        upd("orders", "order_id", ORDER, status="delivered"),
        ins("refunds", "refund_id", refund("RF55555", amount=29.99)),
        upd("customers", "customer_id", CUSTOMER, note="wants a call back"),
    ]
    frozen_task, frozen_got = copy.deepcopy(task), copy.deepcopy(got)
    first = evaluate_changes(spec, task, got, ["refund of 30 issued"])
    assert task == frozen_task and got == frozen_got
    rng = random.Random(7)
    for _ in range(10):
        shuffled = got[:]
        rng.shuffle(shuffled)
        again = evaluate_changes(spec, task, shuffled, ["refund of 30 issued"])
        assert again.model_dump() == first.model_dump()
    assert isinstance(first, Score)
    assert first.summary().startswith("FAIL reward=")


# ---- full-state diff --------------------------------------------------------------------------
def _db(spec: DomainSpec) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    create_sqlite(spec, conn)
    conn.execute("INSERT INTO customers VALUES ('C0001','Ada','ada@x.org','regular',12.5,NULL)")
    conn.execute("INSERT INTO customers VALUES ('C0002','Bob','bob@x.org','gold',0,NULL)")
    conn.execute("INSERT INTO products VALUES ('P001','Widget',10.0,5)")
    return conn


def test_diff_states(spec: DomainSpec) -> None:
    a, b = _db(spec), _db(spec)
    assert diff_states(spec, a, b) == []
    b.execute("UPDATE customers SET note = 'hi' WHERE customer_id = 'C0002'")
    b.execute("DELETE FROM products")
    b.execute("INSERT INTO customers VALUES ('C0000','Cy','cy@x.org','regular',1,NULL)")
    changes = diff_states(spec, a, b)
    assert [(c.table, c.kind, c.key) for c in changes] == [
        ("customers", "insert", {"customer_id": "C0000"}),
        ("customers", "update", {"customer_id": "C0002"}),
        ("products", "delete", {"product_id": "P001"}),
    ]
    assert changes[1].after["note"] == "hi" and changes[1].before["note"] is None
    assert diff_states(spec, a, b, tables=["products"]) == changes[2:]
    # the diff is a valid gold diff: evaluating b's changes against itself passes
    assert evaluate_changes(spec, make_task(changes), changes).passed


def test_session_evaluate_roundtrip(tiny_world) -> None:
    """With the runtime present: a gold replay passes, doing nothing fails, nothing mutates."""
    s = tiny_world.session()
    r = s.call("cancel_order", {"order_id": "#W0001", "reason": "no longer needed"})
    assert r.ok, r.message
    r = s.call("add_customer_note", {"customer_id": "C0001", "note": "Cancelled #W0001 by phone."})
    assert r.ok, r.message
    gold = s.changes()
    assert {c.table for c in gold} == {"orders", "products", "refunds", "customers"}
    task = make_task(gold, answers=["39"])
    before = s.state_hash()
    score = s.evaluate(task, messages=["Refunded $39.00 to your card."])
    assert score.passed, score.explanation
    assert s.state_hash() == before and s.changes() == gold
    s.reset()
    empty = s.evaluate(task)
    assert not empty.passed and empty.reward == 0.0
    other = tiny_world.session()
    other.call("cancel_order", {"order_id": "#W0001", "reason": "ordered by mistake"})
    other.call("add_customer_note", {"customer_id": "C0001", "note": "cancelled W0001 via phone"})
    assert other.evaluate(task, messages=["39.00 refunded"]).passed


def test_session_diff_matches_changes(tiny_world) -> None:
    """``Session.diff`` (full diff of two states) agrees with the change log, either way round."""
    s, untouched = tiny_world.session(), tiny_world.session()
    assert s.call("cancel_order", {"order_id": "#W0001", "reason": "no longer needed"}).ok
    forward = untouched.diff(s)
    assert forward == untouched.diff(s.snapshot())
    key = lambda c: (c.table, c.kind, sorted(c.key.items()))  # noqa: E731
    assert sorted(map(key, forward)) == sorted(map(key, s.changes()))
    backward = s.diff(untouched)
    assert {c.kind for c in backward if c.table == "refunds"} == {"delete"}
    assert evaluate_changes(tiny_world.spec, make_task(forward), s.changes()).passed
