"""The error model: one hierarchy under ScaleEnvError, a closed ErrorType, strict spec reading,
and damaged inputs (world files, tasks.jsonl, reward messages) reported in one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import engine
from engine import ErrorType, ScaleEnvError, SpecError, TaskError, ToolResult, World, WorldError
from engine.errors import UnknownNameError
from engine.reward.evaluate import evaluate_changes
from engine.spec.source import parse_spec_text, read_spec_data
from engine.spec.task import read_tasks
from engine.spec.validate import load_spec
from synth.build import build_world
from synth.migrate.revisions import MigrationError
from synth.resources import UnknownDomainError, resolve_spec
from synth.seed.values import SeedError

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "fixtures" / "domains" / "tiny_shop.yaml"


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("w") / "tiny"
    build_world(TINY, seed=1, rows=120, out=out, tasks=3)
    return out


def test_exports_match_lazy_table() -> None:
    assert sorted(engine.__all__) == sorted(engine._EXPORTS)
    assert engine.World is World and engine.ErrorType is ErrorType


def test_error_type_is_closed() -> None:
    assert {e.value for e in ErrorType} >= {
        "unknown_tool",
        "invalid_arguments",
        "precondition_failed",
        "invariant_violated",
        "internal",
    }
    r = ToolResult(False, None, "invalid_arguments", "x", "t")
    assert r.error_type is ErrorType.INVALID_ARGUMENTS
    assert r.to_dict()["error_type"] == "invalid_arguments"
    assert type(r.to_dict()["error_type"]) is str  # JSON and Arrow see plain text
    with pytest.raises(ValueError):
        ToolResult(False, None, "oops", "a typo is a bug", "t")


def test_session_failures_carry_the_enum(tiny_world: Path) -> None:
    s = World.load(tiny_world).session()
    assert s.call("no_such_tool", {}).error_type is ErrorType.UNKNOWN_TOOL
    tool = next(iter(s.spec.tools))
    assert s.call(tool, "[1]").error_type is ErrorType.INVALID_ARGUMENTS
    deep = "[" * 5000 + "]" * 5000
    r = s.call(tool, '{"x": ' + deep + "}")
    assert r.error_type is ErrorType.INVALID_ARGUMENTS, r.message


@pytest.mark.parametrize(
    "cls",
    [SpecError, WorldError, TaskError, UnknownNameError, SeedError, MigrationError],
)
def test_one_hierarchy(cls: type) -> None:
    assert issubclass(cls, ScaleEnvError)
    assert issubclass(UnknownDomainError, ScaleEnvError)


def test_messages_are_one_line() -> None:
    err = WorldError("first\nsecond   third")
    assert str(err) == "first second third"
    assert str(WorldError("x" * 1000)).endswith("...") and len(str(WorldError("x" * 1000))) == 300
    assert str(UnknownNameError("w: no task 't'")) == "w: no task 't'"  # not quoted like KeyError


@pytest.mark.parametrize(
    ("text", "as_json", "needle"),
    [
        (
            "name: a\nname: b\n",
            False,
            "YAML error at line 2:1: duplicate key 'name' (first at line 1)",
        ),
        ("a:\n  b: 1\n  b: 2\n", False, "at line 3:3"),
        ("name: [1, 2\n", False, "YAML syntax error"),
        ("x: !!python/object/apply:os.system ['true']\n", False, "unsupported tag"),
        ('{"name": NaN}', True, "NaN is not a number in JSON"),
        ('{"name": Infinity}', True, "Infinity"),
        ('{"a": 1, "a": 2}', True, "duplicate key 'a'"),
        ('{"a": ', True, "JSON syntax error at line 1:7"),
        ("- 1\n", False, "a mapping at the top level, got list"),
        ("[" * 5000, False, "nested too deeply"),
    ],
)
def test_strict_spec_reading(text: str, as_json: bool, needle: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec_text(text, "s.yaml", as_json=as_json)
    msg = str(info.value)
    assert needle in msg and "\n" not in msg and msg.startswith("s.yaml: ")


def test_load_spec_names_the_file(tmp_path: Path) -> None:
    p = tmp_path / "dup.yaml"
    p.write_text(TINY.read_text(encoding="utf-8") + "\nname: again\n", encoding="utf-8")
    with pytest.raises(SpecError, match=r"dup.yaml: .*duplicate key 'name'"):
        load_spec(p)
    with pytest.raises(SpecError, match="no such file"):
        read_spec_data(tmp_path / "missing.yaml")
    (tmp_path / "bin.yaml").write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(SpecError, match="not UTF-8"):
        load_spec(tmp_path / "bin.yaml")


def test_unknown_names() -> None:
    with pytest.raises(UnknownDomainError, match="curated domain"):
        resolve_spec("no_such_domain")
    assert resolve_spec("retail").name == "retail.yaml"


@pytest.mark.parametrize(
    ("damage", "needle"),
    [("manifest_list", "manifest"), ("manifest_entry", "manifest"), ("spec_bytes", "utf-8")],
)
def test_damaged_world_is_one_world_error(
    tiny_world: Path, tmp_path: Path, damage: str, needle: str
) -> None:
    w = tmp_path / "w"
    shutil.copytree(tiny_world, w)
    man = json.loads((w / "manifest.json").read_text(encoding="utf-8"))
    if damage == "manifest_list":
        man["files"] = list(man["files"])
    elif damage == "manifest_entry":
        man["files"] = {k: "junk" for k in man["files"]}
    else:  # a spec that is not UTF-8, hashes recomputed so only the decoding fails
        import hashlib

        data = b"\xff\xfe\x00garbage"
        (w / "spec.yaml").write_bytes(data)
        man["files"]["spec.yaml"] = {
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    (w / "manifest.json").write_text(json.dumps(man), encoding="utf-8")
    with pytest.raises(WorldError) as info:
        World.load(w)
    msg = str(info.value)
    assert str(w) in msg and needle in msg.lower() and "\n" not in msg and len(msg) <= 300, msg


def test_garbage_tasks_file(tiny_world: Path, tmp_path: Path) -> None:
    p = tmp_path / "tasks.jsonl"
    p.write_bytes(b'{"id": 1}\n')
    with pytest.raises(TaskError, match=r"tasks.jsonl:1: not a valid task"):
        read_tasks(p)
    p.write_bytes(b"\xff\xfe\n")
    with pytest.raises(TaskError, match=r"tasks.jsonl:1"):
        read_tasks(p)
    w = World.load(tiny_world)
    with pytest.raises(UnknownNameError, match="no task 'nope'"):
        w.task("nope")


def test_reward_ignores_non_text_messages(tiny_world: Path) -> None:
    w = World.load(tiny_world)
    assert w.tasks, "the fixture world has tasks"
    task = w.tasks[0]
    score = evaluate_changes(w.spec, task, [], messages=[None, 3, {"a": 1}, "hello"])  # type: ignore[list-item]
    assert score.passed is False or not task.gold_diff


@pytest.mark.parametrize(
    "kwargs", [{"rows": -5}, {"tasks": -2}, {"fuzz_steps": -3}, {"rows": 2.5}, {"tasks": True}]
)
def test_build_world_refuses_bad_counts(kwargs: dict, tmp_path: Path) -> None:
    with pytest.raises(ScaleEnvError, match=f"{next(iter(kwargs))} must be a whole number >= 0"):
        build_world(TINY, out=tmp_path / "w", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_build_world_takes_a_curated_name() -> None:
    assert build_world("tiny_shop", rows=40, proctest=False).spec.name == "tiny_shop"
    with pytest.raises(UnknownDomainError):
        build_world("no_such_domain")


def test_generate_into_refuses_zero_tasks(tiny_world: Path, tmp_path: Path) -> None:
    from synth.tasks.io import generate_into

    w = tmp_path / "w"
    shutil.copytree(tiny_world, w)
    before = (w / "tasks.jsonl").read_bytes()
    for n in (0, -5):
        with pytest.raises(TaskError, match=">= 1"):
            generate_into(w, n, 0)
    assert (w / "tasks.jsonl").read_bytes() == before and before
