"""verifiers v1 adapter against the documented contract: the module's ``__all__`` exports
exactly one Taskset; task keys are the (stable, unique) task ids; a gold episode through the
async toolset earns the direct session's reward."""

from __future__ import annotations

import importlib
from pathlib import Path

import anyio
import pytest

from engine import World
from synth.build import build_world


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory, domains_dir) -> Path:
    out = tmp_path_factory.mktemp("w") / "tiny_shop"
    build_world(domains_dir / "tiny_shop.yaml", seed=1, rows=300, out=out, tasks=4, proctest=False)
    return out


def test_module_exports_one_taskset_with_stable_keys(world_dir, monkeypatch):
    monkeypatch.setenv("SCALEENV_WORLD", str(world_dir))
    mod = importlib.import_module("engine.adapters.verifiers_env")
    exported = [getattr(mod, n) for n in mod.__all__]
    tasksets = [c for c in exported if isinstance(c, type) and hasattr(c, "load")]
    assert len(exported) == len(tasksets) == 1
    tasks = tasksets[0]().load()
    again = tasksets[0]().load()
    world = World.load(world_dir)
    assert [t.key for t in tasks] == [t.key for t in again] == [t.id for t in world.tasks]
    assert tasks[0].data.prompt[1] == {"role": "user", "content": world.tasks[0].instruction}


def test_gold_episode_through_the_async_toolset(world_dir):
    from engine.adapters.verifiers_env import ScaleEnvTaskset

    ts = ScaleEnvTaskset(type("Cfg", (), {"world_dir": str(world_dir)})())
    world = World.load(world_dir)
    for vtask in ts.load():
        task = world.task(vtask.key)
        tools = ts.toolset(vtask)
        assert "done" in tools.names and "evaluate" not in tools.names

        async def play(tools=tools, task=task) -> float:
            for a in task.gold_actions:
                await getattr(tools, a.tool)(**a.args)
            trace = [{"role": "assistant", "content": " ".join(task.required_answers)}]
            return await ts.reward(trace, tools)

        reward = anyio.run(play)
        s = world.session()
        s.reset(task)
        for a in task.gold_actions:
            s.call(a.tool, a.args)
        assert reward == s.evaluate(task, list(task.required_answers)).reward == 1.0
    idle = ts.toolset(ts.load()[0])
    assert anyio.run(ts.reward, [], idle) < 1.0
