"""Required answers cannot be earned by dumping candidate values (issue 27, item 4)."""

from __future__ import annotations

import pytest

from engine.reward.evaluate import evaluate_changes
from engine.reward.match import EXTRA_VALUES_ALLOWED, contradicting_values, value_class
from engine.spec.models import DomainSpec
from engine.spec.task import Task, UserProfile


def _task(answers: list[str]) -> Task:
    return Task(
        id="t1",
        domain="tiny_shop",
        instruction="How much was refunded?",
        user=UserProfile(name="Ada"),
        toolset=["get_order"],
        gold_actions=[],
        required_answers=answers,
    )


@pytest.mark.parametrize(
    ("answer", "reply"),
    [
        ("42.5", "Your refund of $42.50 for 2 items on order #W0412345 was issued."),
        ("42.5", "Refund $42.50, tax $3.40, new balance $1,120.00."),
        ("#W0412345", "Order #W0412345 (payment PAY00001, customer CUS12345) is cancelled."),
        ("2024-05-10", "It was delivered on 2024-05-10, ordered on 2024-05-01."),
        ("3", "You have 3 orders since 2024-05-01, totalling $1,234.50."),
    ],
)
def test_a_committed_reply_passes(tiny_spec: DomainSpec, answer: str, reply: str) -> None:
    score = evaluate_changes(tiny_spec, _task([answer]), [], [reply])
    assert score.passed and score.answers_found == 1, score.explanation


@pytest.mark.parametrize(
    ("answer", "dump"),
    [
        ("42.5", "It is one of 17.99, 42.50, 88.10 or 91.25."),
        ("#W0412345", "Candidates: #W0412345 #W0412346 #W0412399 #W0412311"),
        ("2024-05-10", "Either 2024-05-10, 2024-06-01, 2024-07-01 or 2024-08-01."),
    ],
)
def test_a_dump_of_candidates_fails(tiny_spec: DomainSpec, answer: str, dump: str) -> None:
    score = evaluate_changes(tiny_spec, _task([answer]), [], [dump])
    assert not score.passed and not score.answers_ok
    assert any("contradicted" in line for line in score.explanation)


def test_a_dump_spread_over_many_messages_fails_too(tiny_spec: DomainSpec) -> None:
    msgs = ["maybe 17.99", "or 42.50", "or 88.10", "or 91.25"]
    assert not evaluate_changes(tiny_spec, _task(["42.5"]), [], msgs).passed


def test_classes_and_allowance() -> None:
    assert value_class("42.5") == "decimal" and value_class("7") == "integer"
    assert value_class("2024-05-10") == "date" and value_class("delivered") is None
    assert value_class("#w0412345") == "id #a9999999"
    few = ", ".join(f"{10 + i}.5" for i in range(EXTRA_VALUES_ALLOWED))
    assert contradicting_values(["42.5"], [f"42.50 (also {few})"]) == {}
    many = ", ".join(f"{10 + i}.5" for i in range(EXTRA_VALUES_ALLOWED + 1))
    assert "decimal" in contradicting_values(["42.5"], [f"42.50 (also {many})"])
