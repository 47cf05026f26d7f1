"""Spec constructs real benchmarks need: a json column (compared structurally), object and
array-of-object params (checked field by field, published as closed object schemas) and a
per-element precondition whose message names the first failing element."""

from __future__ import annotations

import pytest

from engine.reward.match import canonical
from engine.spec.models import Column, Param
from engine.toolschema.tools import param_json_schema
from synth.build import build_world

SPEC = {
    "name": "trips",
    "entities": {
        "users": {
            "rows": 5,
            "columns": {
                "user_id": {"type": "string", "primary_key": True, "faker": {"pattern": "U###"}},
                "prefs": {"type": "json", "default": {"seat": "aisle"}},
            },
        },
        "reservations": {
            "rows": 0,
            "columns": {
                "reservation_id": {"type": "string", "primary_key": True, "generated": True},
                "user_id": {"type": "string", "references": "users.user_id"},
                "passengers": {"type": "json"},
            },
        },
    },
    "tools": {
        "book": {
            "description": "Book a reservation for passengers.",
            "params": {
                "user_id": {"type": "string", "references": "users.user_id"},
                "passengers": {
                    "type": "array",
                    "min_items": 1,
                    "items": {
                        "type": "object",
                        "properties": {
                            "first_name": {"type": "string", "min_length": 1},
                            "dob": {"type": "date"},
                            "note": {"type": "string", "required": False},
                        },
                    },
                },
            },
            "generate": {
                "reservation_id": {
                    "pattern": "R####",
                    "table": "reservations",
                    "column": "reservation_id",
                }
            },
            "preconditions": [
                {
                    "check": "SELECT bad IS NULL, bad FROM (SELECT (SELECT json_extract(value, "
                    "'$.first_name') FROM json_each(:passengers) WHERE json_extract(value, "
                    "'$.dob') > date(:now) ORDER BY key LIMIT 1) AS bad)",
                    "error": "Passenger {bad} is born in the future.",
                }
            ],
            "effects": [
                "INSERT INTO reservations (reservation_id, user_id, passengers) "
                "VALUES (:reservation_id, :user_id, json(:passengers))"
            ],
            "returns": {
                "query": "SELECT reservation_id, passengers FROM reservations "
                "WHERE reservation_id = :reservation_id",
                "json_columns": ["passengers"],
            },
        }
    },
}


@pytest.fixture(scope="module")
def session():
    built = build_world(SPEC, seed=0, proctest=False)
    return built.world().session()


def test_json_column_is_seeded_from_its_default_and_compared_structurally(session):
    assert {r[0] for r in session.conn.execute("SELECT prefs FROM users")} == {'{"seat":"aisle"}'}
    col = Column(type="json")
    assert canonical(col, '{"b": 1, "a": [1.0, "x"]}') == canonical(col, '{"a":[1,"x"],"b":1}')
    assert canonical(col, "[1, 2]") != canonical(col, "[2, 1]")  # list order counts
    assert canonical(col, '{"a": 1}') != canonical(col, '{"a": "1"}')


def test_array_of_objects_is_checked_field_by_field(session):
    user = session.conn.execute("SELECT user_id FROM users").fetchone()[0]
    ok = session.call(
        "book", {"user_id": user, "passengers": [{"first_name": "Zoë", "dob": "1990-01-01"}]}
    )
    assert ok.ok, ok.message
    assert ok.result["passengers"] == [{"first_name": "Zoë", "dob": "1990-01-01"}]
    missing = session.call("book", {"user_id": user, "passengers": [{"first_name": "A"}]})
    assert missing.message == "'passengers[0]' is missing its field 'dob'"
    extra = session.call(
        "book", {"user_id": user, "passengers": [{"first_name": "A", "dob": "1990-01-01", "x": 1}]}
    )
    assert "unknown field 'x'" in extra.message
    wrong = session.call(
        "book", {"user_id": user, "passengers": [{"first_name": "A", "dob": "soon"}]}
    )
    assert "'passengers[0].dob' must be a date" in wrong.message


def test_per_element_precondition_names_the_first_failing_element(session):
    user = session.conn.execute("SELECT user_id FROM users").fetchone()[0]
    people = [
        {"first_name": "Ann", "dob": "1990-01-01"},
        {"first_name": "Bo", "dob": "2030-01-01"},
        {"first_name": "Cy", "dob": "2031-01-01"},
    ]
    res = session.call("book", {"user_id": user, "passengers": people})
    assert not res.ok and res.message == "Passenger Bo is born in the future."


def test_object_param_schema_is_closed_and_names_required_fields():
    p = Param(
        type="object",
        properties={"a": Param(type="string"), "b": Param(type="integer", required=False)},
    )
    schema = param_json_schema(p)
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert schema["required"] == ["a"] and set(schema["properties"]) == {"a", "b"}
    with pytest.raises(ValueError, match="needs 'properties'"):
        Param(type="object")
    with pytest.raises(ValueError, match="scalars"):
        Param(type="object", properties={"x": Param(type="array", items=Param(type="string"))})
