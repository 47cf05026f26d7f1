"""The OpenEnv WebSocket protocol over loopback (``engine.adapters.openenv_ws``): a gold
episode scores 1.0, 200 concurrent sessions each get their own environment, errors come
back as OpenEnv error messages, the capacity limit holds, and no session is left open."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("websockets")
import uvicorn  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from engine import World  # noqa: E402
from engine.adapters.openenv_env import ScaleEnvEnvironment  # noqa: E402
from engine.adapters.openenv_ws import OpenEnvServer  # noqa: E402
from synth.build import build_world  # noqa: E402

SESSIONS = 200


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory, domains_dir) -> Path:
    out = tmp_path_factory.mktemp("w") / "bank"
    build_world(domains_dir / "bank.yaml", seed=1, rows=300, out=out, tasks=2, proctest=False)
    return out


def _serve(server: OpenEnvServer) -> tuple[uvicorn.Server, str]:
    config = uvicorn.Config(
        server.app, host="127.0.0.1", port=0, log_level="error", ws="websockets-sansio"
    )
    srv = uvicorn.Server(config)
    threading.Thread(target=srv.run, daemon=True).start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    return srv, f"ws://127.0.0.1:{srv.servers[0].sockets[0].getsockname()[1]}/ws"


async def _ask(ws, kind: str, data: dict | None = None) -> dict:
    await ws.send(json.dumps({"type": kind, "data": data or {}}))
    return json.loads(await ws.recv())


def test_gold_episode_and_200_sessions_over_loopback(world_dir):
    world = World.load(world_dir)
    task = world.tasks[0]
    first = task.gold_actions[0]
    server = OpenEnvServer(str(world_dir), max_concurrent_envs=SESSIONS, session_timeout=60)
    srv, url = _serve(server)
    before = ScaleEnvEnvironment.live
    peak: list[int] = []

    async def gold() -> float:
        async with connect(url) as ws:
            obs = await _ask(ws, "reset", {"seed": 0, "task_id": task.id})
            assert obs["type"] == "observation" and obs["data"]["observation"]["task_id"] == task.id
            for a in task.gold_actions:
                obs = await _ask(ws, "step", {"tool": a.tool, "arguments": a.args})
                assert not obs["data"]["done"]
            answers = " ".join(task.required_answers)
            obs = await _ask(ws, "step", {"message": f"All done. {answers}"})
            state = await _ask(ws, "state")
            assert state["data"]["stop_reason"] == "goal_met" and obs["data"]["done"]
            bad = await _ask(ws, "step", {"tool": 3})
            assert bad["type"] == "error" and bad["data"]["code"] == "VALIDATION_ERROR"
            await ws.send(json.dumps({"type": "close"}))
            return obs["data"]["reward"]

    async def one(i: int, opened: asyncio.Event, counter: list[int]) -> str:
        async with connect(url) as ws:
            await _ask(ws, "reset", {"episode_id": str(i), "task_id": task.id})
            obs = await _ask(ws, "step", {"tool": first.tool, "arguments": first.args})
            counter[0] += 1
            if counter[0] == SESSIONS:
                peak.append(server.active)
                opened.set()
            await opened.wait()  # every session open at once
            return obs["data"]["observation"]["text"]

    async def many() -> list[str]:
        opened, counter = asyncio.Event(), [0]
        return await asyncio.gather(*(one(i, opened, counter) for i in range(SESSIONS)))

    async def over_capacity() -> dict:
        small = OpenEnvServer(str(world_dir), max_concurrent_envs=1)
        small.active = 1  # as if one session were open
        srv2, url2 = _serve(small)
        try:
            async with connect(url2) as ws:
                return json.loads(await ws.recv())
        finally:
            srv2.should_exit = True

    try:
        assert asyncio.run(gold()) == 1.0
        texts = asyncio.run(many())
        assert peak == [SESSIONS] and len(set(texts)) == 1
        assert asyncio.run(over_capacity())["data"]["code"] == "CAPACITY_REACHED"
        deadline = time.monotonic() + 20
        while server.active and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.active == 0 and server.served == SESSIONS + 1
        assert ScaleEnvEnvironment.live == before, "an environment was left open"
    finally:
        srv.should_exit = True


def test_openenv_yaml_app_serves_without_openenv_core(world_dir, monkeypatch):
    import engine.adapters.openenv_app as oa
    import engine.adapters.openenv_env as oe

    monkeypatch.setenv("SCALEENV_WORLD", str(world_dir))
    if oe.HAVE_OPENENV:
        pytest.skip("openenv-core is installed: the yaml's app is its server")
    app = oa.app
    assert {r.path for r in app.routes} == {"/health", "/ws"}
