"""A hostile-spec corpus (issue 27): every kind is rejected quickly with one short line that
names the field, and nothing is written. Each case edits the tiny_shop spec."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from tinyshop import load_tiny_spec

from engine.errors import SpecError
from engine.spec.validate import load_spec

Spec = dict[str, Any]


def _result(query: str) -> Callable[[Spec], None]:
    def edit(d: Spec) -> None:
        d["tools"]["hostile"] = {
            "description": "A hostile tool.",
            "reads": ["customers", "orders"],
            "returns": {"query": query, "shape": "list"},
        }

    return edit


def _precondition(check: str) -> Callable[[Spec], None]:
    def edit(d: Spec) -> None:
        d["tools"]["get_customer"]["preconditions"].append({"check": check, "error": "no"})

    return edit


def _pattern(regex: str) -> Callable[[Spec], None]:
    def edit(d: Spec) -> None:
        d["tools"]["get_customer"]["params"]["customer_id"]["pattern"] = regex

    return edit


def _error(template: str) -> Callable[[Spec], None]:
    def edit(d: Spec) -> None:
        d["tools"]["get_customer"]["preconditions"][0]["error"] = template

    return edit


def _hint(**hint: Any) -> Callable[[Spec], None]:
    def edit(d: Spec) -> None:
        d["entities"]["customers"]["columns"]["name"]["faker"] = hint

    return edit


def _rename_tool(new: str) -> Callable[[Spec], None]:
    def edit(d: Spec) -> None:
        d["tools"][new] = d["tools"].pop("get_customer")

    return edit


def _effect(sql: str) -> Callable[[Spec], None]:
    def edit(d: Spec) -> None:
        d["tools"]["get_customer"]["effects"] = [{"sql": sql}]
        d["tools"]["get_customer"]["writes"] = ["customers"]

    return edit


def _let(sql: str) -> Callable[[Spec], None]:
    def edit(d: Spec) -> None:
        d["tools"]["get_customer"]["let"] = {"today": sql}

    return edit


CASES: dict[str, tuple[Callable[[Spec], None], str]] = {
    # the wall clock and the host's timezone (item 6)
    "date() reads the clock": (_result("SELECT date() AS d"), "tools.hostile"),
    "'n'||'ow'": (_result("SELECT datetime('n' || 'ow') AS d"), "tools.hostile"),
    "char(110,111,119)": (_result("SELECT datetime(char(110, 111, 119)) AS d"), "tools.hostile"),
    "'localtime' modifier": (_result("SELECT datetime(:now, 'localtime') AS d"), "tools.hostile"),
    "lower('UTC') modifier": (_result("SELECT datetime(:now, lower('UTC')) AS d"), "tools.hostile"),
    "julianday('now')": (_result("SELECT julianday('now') AS d"), "tools.hostile"),
    "unixepoch()": (_result("SELECT unixepoch() AS d"), "tools.hostile"),
    "strftime of now": (_result("SELECT strftime('%Y', 'now') AS d"), "tools.hostile"),
    "random()": (_result("SELECT random() AS r"), "tools.hostile"),
    # runaway SQL (item 2)
    "recursive CTE without end": (
        _result("WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT x FROM r"),
        "tools.hostile",
    ),
    "runaway precondition": (
        _precondition(
            "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT count(*) FROM r"
        ),
        "tools.get_customer.preconditions",
    ),
    # statements that must never run (security)
    "ATTACH": (_result("ATTACH DATABASE 'x.db' AS x"), "tools.hostile"),
    "PRAGMA": (_result("PRAGMA writable_schema = 1"), "tools.hostile"),
    "DDL": (_result("DROP TABLE customers"), "tools.hostile"),
    "two statements": (_result("SELECT 1 AS a; DELETE FROM customers"), "tools.hostile"),
    "load_extension": (_result("SELECT load_extension('x') AS a"), "tools.hostile"),
    # work per call bounded by the spec text (item 7)
    "ReDoS (a+)+": (_pattern("^(a+)+$"), "tools.get_customer.params.customer_id.pattern"),
    "ReDoS (a|aa)*": (_pattern("^(a|aa)*$"), "tools.get_customer.params.customer_id.pattern"),
    "backreference": (_pattern("^(a)\\1$"), "tools.get_customer.params.customer_id.pattern"),
    "huge pattern": (_pattern("a" * 5000), "tools.get_customer.params.customer_id.pattern"),
    "format width in a message": (
        _error("Customer {customer_id:>100000000} not found."),
        "tools.get_customer.preconditions[0].error",
    ),
    "let reads the clock": (_let("SELECT date('now')"), "tools.get_customer.let"),
    "precondition reads the timezone": (
        _precondition("SELECT datetime(:now, 'utc') IS NOT NULL"),
        "tools.get_customer.preconditions",
    ),
    # SQL that reaches beyond what the tool declares
    "reads sqlite_master": (_result("SELECT name FROM sqlite_master"), "tools.hostile"),
    "unknown table": (_result("SELECT x FROM secrets"), "tools.hostile"),
    "unknown column": (_result("SELECT password FROM customers"), "tools.hostile"),
    "unknown bind": (
        _result("SELECT name FROM customers WHERE customer_id = :who"),
        "tools.hostile",
    ),
    "write in a result query": (
        _result("DELETE FROM customers RETURNING customer_id"),
        "tools.hostile",
    ),
    "effect writes an undeclared table": (_effect("DELETE FROM payments"), "tools.get_customer"),
    "effect runs DDL": (_effect("CREATE TABLE evil (x)"), "tools.get_customer"),
    "effect detaches": (_effect("DETACH DATABASE world"), "tools.get_customer"),
    # names and schemas (item 12)
    "pragma_table_info()": (
        _result("SELECT name FROM pragma_table_info('customers')"),
        "tools.hostile",
    ),
    "main.customers": (_result("SELECT name FROM main.customers"), "tools.hostile"),
    "tool name with a newline": (_rename_tool("get_customer\n"), 'tools["get_customer'),
    # Faker hints (item 8)
    "Faker seed()": (_hint(provider="seed"), "entities.customers.columns.name.faker.provider"),
    "Faker add_provider": (
        _hint(provider="add_provider"),
        "entities.customers.columns.name.faker.provider",
    ),
    "unknown provider": (_hint(provider="no_such"), "entities.customers.columns.name.faker"),
    "clock provider": (_hint(provider="date_time"), "entities.customers.columns.name.faker"),
    "digits=5000": (
        _hint(provider="random_number", args={"digits": 5000}),
        "entities.customers.columns.name.faker.args",
    ),
    "length=2e7": (
        _hint(provider="pystr", args={"max_chars": 2e7}),
        "entities.customers.columns.name.faker.args",
    ),
    "attribute in a message": (
        _error("{customer_id.__class__}"),
        "tools.get_customer.preconditions[0].error",
    ),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_hostile_spec_is_rejected_in_one_line(kind: str) -> None:
    edit, where = CASES[kind]
    data = copy.deepcopy(load_tiny_spec().to_dict())
    edit(data)
    with pytest.raises(SpecError) as info:
        load_spec(data)
    text = str(info.value)
    assert where in text, text
    assert "\n" not in text and len(text) <= 300, text


def test_the_corpus_is_large() -> None:
    assert len(CASES) >= 40


def test_a_format_spec_in_a_message_is_never_expanded_at_run_time() -> None:
    from engine.runtime.call import fill

    assert fill("{email:>100000000}", {"email": "a@b.c"}) == "{email:>100000000}"
    assert fill("Customer {customer_id} not found.", {"customer_id": "C1"}) == (
        "Customer C1 not found."
    )


def test_a_fk_cycle_knot_is_reported_without_enumerating_cycles() -> None:
    """14 tables with NOT NULL foreign keys to every other: billions of simple cycles."""
    n = 14
    entities = {
        f"t{i}": {
            "columns": {
                "id": {"type": "string", "primary_key": True},
                **{
                    f"t{j}_id": {"type": "string", "references": f"t{j}.id"}
                    for j in range(n)
                    if j != i
                },
            }
        }
        for i in range(n)
    }
    with pytest.raises(SpecError, match="form a cycle t0 -> t1 -> t0"):
        load_spec({"name": "knot", "description": "x", "entities": entities, "tools": {}})


def test_a_giant_spec_is_refused_before_it_is_built() -> None:
    entities = {
        f"t{i}": {"columns": {"id": {"type": "string", "primary_key": True}}} for i in range(1000)
    }
    with pytest.raises(SpecError, match="1000 entities; at most"):
        load_spec({"name": "giant", "description": "x", "entities": entities, "tools": {}})


def test_a_billion_laughs_yaml_is_refused(tmp_path) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        refs = ", ".join(f"*a{i - 1}" for _ in range(9))
        lines.append(f"a{i}: &a{i} [{refs}]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(["name: bomb", "description: x", *lines]) + "\n")
    with pytest.raises(SpecError, match="aliases") as info:
        load_spec(path)
    assert len(str(info.value)) <= 300


def test_deep_nesting_is_one_line(tmp_path) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"name": "deep", "x": ' + "[" * 20000 + "]" * 20000 + "}")
    with pytest.raises(SpecError, match="nested too deeply"):
        load_spec(path)


def test_an_enum_column_named_by_a_keyword_works() -> None:
    """Item 12: ``order`` or ``from`` as an enum column name is quoted in its CHECK."""
    data = copy.deepcopy(load_tiny_spec().to_dict())
    cols = data["entities"]["orders"]["columns"]
    cols["from"] = {"type": "enum", "values": ["web", "phone"], "default": "web"}
    spec = load_spec(data)
    assert "from" in spec.entities["orders"].columns
