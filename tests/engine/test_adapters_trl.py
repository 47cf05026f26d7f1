"""TRL environment_factory: no-arg construction, reset from the row's task key (same start
state for a whole GRPO group), one typed, documented method per tool whose schema
``transformers.utils.get_json_schema`` reads exactly as ours, reward equal to a direct
session's, classes and instances that pickle across processes."""

from __future__ import annotations

import inspect
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from engine import World
from engine.adapters.trl_env import (
    ScaleEnvTRL,
    environment_factories,
    environment_factory,
    trl_schema,
)
from synth.build import build_world

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def worlds(tmp_path_factory, domains_dir) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("w")
    out = {}
    for d in ("tiny_shop", "airline"):
        out[d] = root / d
        build_world(
            domains_dir / f"{d}.yaml", seed=1, rows=300, out=out[d], tasks=3, proctest=False
        )
    return out


def _public(cls: type) -> list[str]:
    return sorted(n for n, v in vars(cls).items() if callable(v) and not n.startswith("_"))


def test_one_method_per_tool_plus_done(worlds):
    cls = environment_factory(worlds["airline"])
    world = World.load(worlds["airline"])
    tools = world.session().tool_names()
    assert _public(cls) == sorted([*tools, "done"])
    assert {"reset", "get_reward"} <= set(dir(cls)) and "evaluate" not in dir(cls)
    env = cls()  # no arguments
    for name in tools:
        method = getattr(cls, name)
        assert ("Args:" in method.__doc__) == bool(
            inspect.signature(method).parameters.keys() - {"self"}
        )
        assert list(inspect.signature(method).parameters)[0] == "self"
    assert env.get_reward() == 0.0


def test_contract_schema_matches_ours(worlds):
    """The docstring/type-hint contract, checked without transformers."""
    assert worlds  # never pass on an empty collection
    for d, path in worlds.items():
        cls = environment_factory(path)
        s = World.load(path).session()
        for schema in s.openai_tools():
            fn = getattr(cls, schema["function"]["name"])
            exp = trl_schema(schema)["function"]
            sig = inspect.signature(fn)
            props = exp["parameters"]["properties"]
            assert set(sig.parameters) - {"self"} == set(props), d
            assert fn.__doc__.startswith(exp["description"])
            for name, prop in props.items():
                assert f"    {name}: {prop['description']}" in fn.__doc__
                assert (sig.parameters[name].default is None) == prop.get("nullable", False)


def test_transformers_get_json_schema_equals_ours(worlds):
    tu = pytest.importorskip("transformers.utils", reason="transformers is not installed")
    assert worlds  # never pass on an empty collection
    for path in worlds.values():
        env = environment_factory(path)()  # TRL reads the instance's bound methods
        s = World.load(path).session()
        for schema in s.openai_tools():
            name = schema["function"]["name"]
            assert tu.get_json_schema(getattr(env, name)) == trl_schema(schema), name
        done = tu.get_json_schema(env.done)["function"]
        assert done["name"] == "done" and done["parameters"]["properties"]["message"]["nullable"]


def test_group_members_share_the_start_state_and_reward(worlds):
    world = World.load(worlds["tiny_shop"])
    cls = environment_factory(worlds["tiny_shop"])
    for task in world.tasks:
        row = {"task_id": task.id, "environment": "tiny_shop"}
        group = [cls() for _ in range(3)]
        for env in group:
            assert env.reset(**row) == ""
        assert len({env._session.state_hash() for env in group}) == 1
        env = group[0]
        for a in task.gold_actions:
            getattr(env, a.tool)(**a.args)
        env.done(" ".join(task.required_answers) or None)
        s = world.session()
        s.reset(task)
        for a in task.gold_actions:
            s.call(a.tool, a.args)
        assert env.get_reward() == s.evaluate(task, list(task.required_answers)).reward == 1.0
        assert group[1].get_reward() < 1.0  # the untouched member did nothing
    with pytest.raises(ValueError, match="already ended"):
        getattr(env, task.gold_actions[0].tool)(**task.gold_actions[0].args)


def test_failed_call_raises_with_the_tool_error(worlds):
    cls = environment_factory(worlds["tiny_shop"])
    env = cls()
    env.reset()
    with pytest.raises(ValueError, match="precondition_failed|invalid_arguments"):
        env.get_order(order_id="#NOPE")


def test_factories_pickle_across_processes(worlds):
    cls = environment_factory(worlds["tiny_shop"])
    assert pickle.loads(pickle.dumps(cls)) is cls
    world = World.load(worlds["tiny_shop"])
    env = cls()
    env.reset(task_id=world.tasks[0].id)
    a = world.tasks[0].gold_actions[0]
    getattr(env, a.tool)(**a.args)
    copy = pickle.loads(pickle.dumps(env))
    assert copy.task.id == env.task.id and isinstance(copy, ScaleEnvTRL)
    multi = environment_factories([worlds["tiny_shop"], worlds["airline"]])
    assert sorted(multi) == ["airline", "tiny_shop"]
    blob = pickle.dumps(multi)
    code = (
        "import pickle, sys; m = pickle.loads(sys.stdin.buffer.read()); "
        "e = m['airline'](); e.reset(); print(type(e).__name__, len([n for n in dir(e) if not n.startswith('_')]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], input=blob, capture_output=True, cwd=ROOT, check=True
    ).stdout.decode()
    assert out.startswith("AirlineEnv ")
