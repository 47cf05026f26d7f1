"""The spec reference: docs/spec.md fresh and its examples valid, every field described, the
JSON Schema accepting the curated specs, and the lighter spec language (reads/writes
inferred from the SQL, enum weights aligned with the values)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import BaseModel
from typer.testing import CliRunner

from engine import load_spec, validate_spec
from engine.spec import DomainSpec
from engine.spec.models import Column, Tool
from synth.build import build_world
from synth.cli import app
from synth.specdoc import DOC_PATH, example_specs, render_reference, spec_json_schema
from synth.specdoc.reference import MODELS, _merge

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = sorted((ROOT / "fixtures" / "domains").glob("*.yaml"))
TINY = ROOT / "fixtures" / "domains" / "tiny_shop.yaml"
CONSTRUCTS = {
    "let",
    "generate",
    "when",
    "scope",
    "natural-key",
    "match",
    "returns-shapes",
    "returns-references",
    "policy-rules",
    "fills",
    "rows",
    "describe-a-row",
    "weights",
    "reads-writes",
    "preconditions",
}
runner = CliRunner()


def _data(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# ---- the document ---------------------------------------------------------------------
def test_docs_spec_md_is_fresh() -> None:
    assert DOC_PATH == ROOT / "docs" / "spec.md"
    committed = DOC_PATH.read_text(encoding="utf-8") if DOC_PATH.is_file() else ""
    assert committed == render_reference(), "docs/spec.md is stale: run `scaleenv spec docs`"


def test_every_yaml_block_of_the_doc_validates_as_a_fragment_of_the_base_spec() -> None:
    text = DOC_PATH.read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    assert len(blocks) == len(CONSTRUCTS) + 1  # the base spec, then one per construct
    base = yaml.safe_load(blocks[0])
    assert validate_spec(base) == []
    for block in blocks[1:]:
        fragment = yaml.safe_load(block)
        assert isinstance(fragment, dict) and fragment
        assert validate_spec(_merge(base, fragment)) == [], block


def test_examples_cover_every_construct_the_issue_names() -> None:
    names = [name for name, _ in example_specs()]
    assert names[0] == "base" and set(names[1:]) == CONSTRUCTS
    text = render_reference()
    for section in ("## tasks.jsonl", "## Reward", "## Field reference"):
        assert section in text
    for model in MODELS:
        assert f"### {model.__name__}\n" in text


def test_doc_numbers_come_from_the_code() -> None:
    from engine.reward.evaluate import UNEXPECTED_PENALTY
    from engine.reward.match import EXTRA_VALUES_ALLOWED, SEMANTIC_THRESHOLD

    text = render_reference()
    assert f"- {UNEXPECTED_PENALTY:g} * U / max(1, E + A)" in text
    assert f"at least {SEMANTIC_THRESHOLD:g} of 100" in text
    assert f"more than {EXTRA_VALUES_ALLOWED} other values" in text
    assert "$" + "UNEXPECTED_PENALTY" not in text


def _reachable(model: type[BaseModel], seen: set[type[BaseModel]]) -> None:
    if model in seen:
        return
    seen.add(model)
    for field in model.model_fields.values():
        for t in re.findall(r"\b[A-Z]\w+\b", str(field.annotation)):
            sub = {m.__name__: m for m in MODELS}.get(t)
            if sub is not None:
                _reachable(sub, seen)


def test_every_spec_field_has_a_description() -> None:
    seen: set[type[BaseModel]] = set()
    _reachable(DomainSpec, seen)
    assert seen == set(MODELS)
    missing = [
        f"{m.__name__}.{n}"
        for m in MODELS
        for n, f in m.model_fields.items()
        if not (f.description or "").strip()
    ]
    assert missing == []


# ---- the CLI and the JSON Schema ------------------------------------------------------
def test_spec_schema_prints_the_json_schema() -> None:
    res = runner.invoke(app, ["spec", "schema"])
    assert res.exit_code == 0, res.output
    schema = json.loads(res.stdout)
    assert schema == json.loads(json.dumps(spec_json_schema()))
    tool = schema["$defs"]["Tool"]["properties"]
    assert "inferred" in tool["reads"]["description"]
    assert schema["$defs"]["Column"]["properties"]["match"]["description"]


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_json_schema_accepts_the_curated_specs(path: Path) -> None:
    jsonschema.validate(_data(path), spec_json_schema())


def test_json_schema_rejects_an_unknown_field() -> None:
    data = _data(TINY)
    data["entities"]["orders"]["columns"]["status"]["colour"] = "red"
    with pytest.raises(jsonschema.ValidationError, match="colour"):
        jsonschema.validate(data, spec_json_schema())


def test_spec_docs_check_fails_on_a_stale_file_and_writes_a_fresh_one(tmp_path: Path) -> None:
    target = tmp_path / "docs" / "spec.md"
    res = runner.invoke(app, ["spec", "docs", "--check", "--out", str(target)])
    assert res.exit_code == 1
    assert "run `scaleenv spec docs`" in res.output and "Traceback" not in res.output
    assert not target.exists()
    res = runner.invoke(app, ["spec", "docs", "--out", str(target)])
    assert res.exit_code == 0, res.output
    assert target.read_text(encoding="utf-8") == render_reference()
    assert [p.name for p in target.parent.iterdir()] == ["spec.md"]  # no temp file left
    res = runner.invoke(app, ["spec", "docs", "--check", "--out", str(target)])
    assert res.exit_code == 0 and "up to date" in res.output


# ---- reads and writes inferred ----------------------------------------------------------
def _stripped(path: Path) -> dict[str, Any]:
    data = _data(path)
    for tool in data["tools"].values():
        tool.pop("reads", None)
        tool.pop("writes", None)
    return data


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_inferred_reads_and_writes_agree_with_the_declared_ones(path: Path) -> None:
    declared = load_spec(path)
    inferred = load_spec(_stripped(path))
    assert declared.tools
    for name, tool in declared.tools.items():
        got = inferred.tools[name]
        assert got.writes == sorted(got.writes) and got.reads == sorted(got.reads)
        assert set(got.writes) == set(tool.writes), name
        assert set(got.reads) <= set(tool.reads) | set(tool.writes), name  # declared cover SQL


def test_inferred_lists_are_kept_in_the_dump_and_the_dump_reloads_equal() -> None:
    tool = Tool.model_validate(
        {
            "description": "x",
            "let": {"n": "SELECT COUNT(*) FROM order_lines WHERE order_id = :id"},
            "params": {"id": {"type": "string"}},
            "effects": ["UPDATE orders SET status = 'cancelled' WHERE order_id = :id"],
            "returns": {"query": "SELECT :n AS n, (SELECT name FROM customers) AS who"},
        }
    )
    assert tool.writes == ["orders"]
    assert tool.reads == ["customers", "order_lines"]
    assert {"reads", "writes"}.isdisjoint(tool.model_fields_set)
    dumped = tool.model_dump(mode="json", exclude_defaults=True)
    assert dumped["reads"] == ["customers", "order_lines"] and dumped["writes"] == ["orders"]
    assert Tool.model_validate(dumped) == tool


def test_declared_lists_are_still_checked_against_the_sql() -> None:
    data = _data(TINY)
    data["tools"]["get_order"]["reads"] = ["orders"]  # its query also reads order_items
    errors = validate_spec(data)
    assert any(
        p.startswith("tools.get_order") and "does not declare in reads" in m for p, m in errors
    ), errors


def test_an_unknown_table_in_inferred_sql_is_reported_once_at_the_sql() -> None:
    data = _stripped(TINY)
    data["tools"]["get_order"]["returns"]["query"] = "SELECT * FROM nowhere"
    assert validate_spec(data) == [("tools.get_order.returns.query", "unknown table nowhere")]


def test_an_effect_that_does_not_parse_is_reported_at_the_sql() -> None:
    data = _stripped(TINY)
    data["tools"]["cancel_order"]["effects"] = ["DELETE FROM"]
    errors = validate_spec(data)
    assert [p for p, _ in errors] == ["tools.cancel_order.effects[0].sql"], errors


def test_a_world_from_a_spec_without_reads_and_writes_runs_like_the_declared_one() -> None:
    declared = build_world(TINY, seed=2, rows=300, tasks=3)
    inferred = build_world(_stripped(TINY), seed=2, rows=300, tasks=3)
    assert declared.spec.tools and all(t.quarantined is None for t in declared.spec.tools.values())
    assert all(t.quarantined is None for t in inferred.spec.tools.values())
    assert inferred.files["world.sqlite"] == declared.files["world.sqlite"]
    tasks = inferred.files["tasks.jsonl"].decode().splitlines()
    assert len(tasks) == 3


# ---- enum weights aligned with the values -------------------------------------------------
def test_enum_weights_without_choices_draw_from_the_values() -> None:
    col = Column.model_validate(
        {"type": "enum", "values": ["a", "b", "c"], "faker": {"weights": [5, 1, 1]}}
    )
    assert col.faker is not None and col.faker.choices == ["a", "b", "c"]
    explicit = Column.model_validate(
        {
            "type": "enum",
            "values": ["a", "b", "c"],
            "faker": {"choices": ["a", "b", "c"], "weights": [5, 1, 1]},
        }
    )
    assert col.model_dump() == explicit.model_dump()


@pytest.mark.parametrize(
    ("column", "message"),
    [
        ({"type": "enum", "values": ["a", "b"], "faker": {"weights": [1]}}, "1 weights for 2"),
        ({"type": "string", "faker": {"weights": [1, 2]}}, "need faker.choices"),
        (
            {"type": "enum", "values": ["a"], "faker": {"weights": [1], "provider": "word"}},
            "go with choices",
        ),
        ({"type": "string", "faker": {"choices": ["x"], "weights": [1, 2]}}, "same length"),
    ],
)
def test_bad_weights_are_one_clear_error(column: dict[str, Any], message: str) -> None:
    data = _data(TINY)
    data["entities"]["orders"]["columns"]["extra"] = {**column, "nullable": True}
    errors = validate_spec(data)
    assert len(errors) == 1 and errors[0][0].startswith("entities.orders.columns.extra")
    assert message in errors[0][1], errors


def _explicit_weights(data: dict[str, Any]) -> int:
    """Rewrite every light enum weight of ``data`` in the explicit choices form."""
    n = 0
    for entity in data["entities"].values():
        for col in entity["columns"].values():
            hint = col.get("faker") or {}
            if col.get("type") == "enum" and "weights" in hint and "choices" not in hint:
                hint["choices"] = list(col["values"])
                n += 1
    return n


def test_the_light_form_fixture_builds_the_same_world_as_the_explicit_form() -> None:
    light = _data(ROOT / "fixtures" / "domains" / "bank.yaml")
    explicit = copy.deepcopy(light)
    assert _explicit_weights(explicit) >= 5
    assert load_spec(light).digest() == load_spec(explicit).digest()
    a = build_world(light, seed=4, rows=400, proctest=False)
    b = build_world(explicit, seed=4, rows=400, proctest=False)
    assert a.files["world.sqlite"] == b.files["world.sqlite"]
    assert a.files["spec.yaml"] == b.files["spec.yaml"]
