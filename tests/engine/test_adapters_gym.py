"""Gymnasium adapter: the environment checker passes and a gold episode through ``step``
earns the reward a direct session gives."""

from __future__ import annotations

import json

import pytest

gym = pytest.importorskip("gymnasium")
from gymnasium.utils.env_checker import check_env  # noqa: E402

from engine import World  # noqa: E402
from engine.adapters.gym_env import ScaleEnvGym, parse_action  # noqa: E402
from synth.build import build_world  # noqa: E402


@pytest.fixture(scope="module")
def world(tmp_path_factory, domains_dir) -> World:
    out = tmp_path_factory.mktemp("w") / "bank"
    build_world(domains_dir / "bank.yaml", seed=1, rows=300, out=out, tasks=3, proctest=False)
    return World.load(out)


def test_check_env_passes(world):
    env = ScaleEnvGym(world)
    check_env(env, skip_render_check=True)
    env.close()
    env.close()  # closing twice is fine


def test_gold_episode_through_step(world):
    assert world.tasks  # never pass on an empty task set
    env = ScaleEnvGym(world, render_mode="ansi")
    for task in world.tasks:
        obs, info = env.reset(seed=0, options={"task_id": task.id})
        assert obs.startswith("user: ") and info["task_id"] == task.id
        assert info["tools"][-1]["function"]["name"] == "done"
        reward, terminated, truncated = 0.0, False, False
        for a in task.gold_actions:
            obs, reward, terminated, truncated, info = env.step(
                json.dumps({"tool": a.tool, "arguments": a.args})
            )
            assert obs.startswith(f"tool {a.tool}: ") and not obs.startswith(
                f"tool {a.tool}: error"
            )
            assert reward == 0.0 and not terminated
        answers = " ".join(task.required_answers)
        obs, reward, terminated, truncated, info = env.step(f"All done. {answers}")
        assert terminated and not truncated and info["stop_reason"] == "goal_met"
        s = world.session()
        s.reset(task)
        for a in task.gold_actions:
            s.call(a.tool, a.args)
        assert reward == s.evaluate(task, [f"All done. {answers}"]).reward == 1.0
        assert "STOP" in env.render()


def test_same_seed_same_task_and_truncation(world):
    env = ScaleEnvGym(world, max_turns=2)
    first = [env.reset(seed=s)[1]["task_id"] for s in (1, 2, 3)]
    assert first == [env.reset(seed=s)[1]["task_id"] for s in (1, 2, 3)]
    env.reset(seed=1)
    env.step("Hello?")
    obs, reward, terminated, truncated, info = env.step('{"tool": "done", "arguments": {}}')
    assert terminated and info["stop_reason"] == "agent_done" and reward == 0.0
    env.reset(seed=1)
    env.step("Hello?")
    *_, terminated, truncated, info = env.step("Still there?")
    assert truncated and not terminated and info["stop_reason"] == "max_turns"


def test_actions_parse_to_messages():
    call = parse_action('{"tool": "get_card", "arguments": {"card_id": "C1"}}')
    assert call["tool_calls"][0]["function"] == {
        "name": "get_card",
        "arguments": '{"card_id": "C1"}',
    }
    assert parse_action("{not json") == {"role": "assistant", "content": "{not json"}
    assert parse_action("hi")["content"] == "hi"
