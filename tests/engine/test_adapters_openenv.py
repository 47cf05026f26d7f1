"""OpenEnv adapter against its documented contract (``openenv-core`` itself does not install
beside our ``mcp``): reset/step/state, the same reward as a direct session, 200 concurrent
environments (one per server session) with none left open, and ``openenv.yaml``."""

from __future__ import annotations

import inspect
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from engine import World
from engine.adapters.openenv_env import (
    HAVE_OPENENV,
    ScaleEnvAction,
    ScaleEnvEnvironment,
    ScaleEnvObservation,
    create_server_app,
    openenv_yaml,
)
from synth.build import build_world


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory, domains_dir) -> Path:
    out = tmp_path_factory.mktemp("w") / "airline"
    build_world(domains_dir / "airline.yaml", seed=1, rows=300, out=out, tasks=3, proctest=False)
    return out


def test_contract_signatures():
    env_cls = ScaleEnvEnvironment
    assert env_cls.SUPPORTS_CONCURRENT_SESSIONS is True
    reset = inspect.signature(env_cls.reset).parameters
    assert list(reset)[:3] == ["self", "seed", "episode_id"] and "kwargs" in reset
    step = inspect.signature(env_cls.step).parameters
    assert list(step)[:3] == ["self", "action", "timeout_s"] and "kwargs" in step
    assert isinstance(inspect.getattr_static(env_cls, "state"), property)
    obs = ScaleEnvObservation()
    assert obs.done is False and obs.reward is None and obs.metadata == {}
    with pytest.raises(ValueError):
        ScaleEnvAction(unknown=1)  # extra fields are refused, as in openenv-core


def test_gold_episode_reward_equals_direct(world_dir):
    world = World.load(world_dir)
    env = ScaleEnvEnvironment(str(world_dir))
    assert world.tasks  # never pass on an empty task set
    for task in world.tasks:
        obs = env.reset(seed=0, episode_id="e1", task_id=task.id)
        assert obs.text.startswith("user: ") and obs.tools[-1]["function"]["name"] == "done"
        assert env.state.episode_id == "e1" and env.state.task_id == task.id
        for a in task.gold_actions:
            obs = env.step(ScaleEnvAction(tool=a.tool, arguments=a.args))
            assert not obs.done and obs.reward == 0.0
        obs = env.step(ScaleEnvAction(message="All done. " + " ".join(task.required_answers)))
        s = world.session()
        s.reset(task)
        for a in task.gold_actions:
            s.call(a.tool, a.args)
        assert (
            obs.done and obs.reward == s.evaluate(task, list(task.required_answers)).reward == 1.0
        )
        assert env.state.step_count == len(task.gold_actions) + 1
        assert env.state.stop_reason == "goal_met"
    env.close()
    env.close()


def test_200_concurrent_environments_no_leak(world_dir):
    world = World.load(world_dir)
    task = world.tasks[0]
    first = task.gold_actions[0]
    before = ScaleEnvEnvironment.live

    def session(i: int) -> str:
        env = ScaleEnvEnvironment(str(world_dir))
        try:
            env.reset(episode_id=str(i), task_id=task.id)
            return env.step({"tool": first.tool, "arguments": first.args}).text
        finally:
            env.close()

    with ThreadPoolExecutor(16) as pool:
        texts = list(pool.map(session, range(200)))
    assert len(set(texts)) == 1 and texts[0].startswith(f"tool {first.tool}: ")
    assert ScaleEnvEnvironment.live == before


def test_openenv_yaml_and_server(world_dir):
    spec = yaml.safe_load(openenv_yaml("scaleenv-airline", 8123))
    assert spec == {
        "spec_version": 1,
        "name": "scaleenv-airline",
        "type": "space",
        "runtime": "fastapi",
        "app": "engine.adapters.openenv_app:app",
        "port": 8123,
    }
    if not HAVE_OPENENV:
        with pytest.raises(ImportError, match="openenv-core"):
            create_server_app(str(world_dir))
        pytest.skip("openenv-core is not installed: its server and client are not exercised")
    app = create_server_app(str(world_dir), max_concurrent_envs=8, session_timeout=30)
    assert app is not None
