"""The kind registry is the one place that says what a type means."""

from __future__ import annotations

import typing

import sqlalchemy as sa

from engine.reward.match import canonical
from engine.spec.kinds import COLUMN_KINDS, PARAM_KINDS, column_kind, param_kind
from engine.spec.metadata import sa_type
from engine.spec.models import Column, ColumnType, Param, ParamType
from engine.toolschema.tools import param_json_schema


def test_every_declared_type_has_exactly_one_kind() -> None:
    assert set(typing.get_args(ColumnType)) == set(COLUMN_KINDS)
    assert set(typing.get_args(ParamType)) == set(PARAM_KINDS)


def test_schema_reward_and_tool_schemas_read_the_registry() -> None:
    price = Column(type="decimal", precision=10, scale=2)
    assert isinstance(sa_type(price), sa.Numeric)
    assert column_kind(price).numeric and not column_kind(price).temporal
    assert canonical(price, "10.005") == canonical(price, 10.01)  # rounded to the scale
    day = Param(type="date")
    schema = param_json_schema(day)
    kind = param_kind(day)
    assert schema["type"] == kind.json_type == "string"
    assert schema["pattern"] == kind.pattern and schema["format"] == "date"
    strict = param_json_schema(day, strict=True)
    assert "pattern" not in strict and "YYYY-MM-DD" in strict["description"]
