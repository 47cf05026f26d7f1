"""MCP adapter, tested with the ``mcp`` package's own client: a gold episode over stdio
scores like a direct session; over streamable HTTP on loopback 200 concurrent sessions
each get their own episode, and none is left open after the clients close."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("mcp")
import anyio  # noqa: E402
import uvicorn  # noqa: E402
from mcp import Client, StdioServerParameters  # noqa: E402

from engine import World  # noqa: E402
from engine.adapters.mcp_server import MCPWorld  # noqa: E402
from synth.build import build_world  # noqa: E402

SESSIONS = 200


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory, domains_dir) -> Path:
    out = tmp_path_factory.mktemp("w") / "retail"
    build_world(domains_dir / "retail.yaml", seed=1, rows=300, out=out, tasks=2, proctest=False)
    return out


def _direct(world: World, task) -> float:
    s = world.session()
    s.reset(task)
    for a in task.gold_actions:
        s.call(a.tool, a.args)
    return s.evaluate(task, list(task.required_answers)).reward


def test_stdio_gold_episode_scores_like_a_direct_session(world_dir, tmp_path):
    world = World.load(world_dir)
    task = world.tasks[0]
    results = tmp_path / "results.jsonl"
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "engine.adapters.mcp_server", str(world_dir), "--task", task.id,
              "--results", str(results)],
        cwd=str(Path(__file__).resolve().parents[2]),
    )  # fmt: skip
    ours = MCPWorld(world, task.id).tool_defs

    async def main() -> None:
        async with Client(params, mode="legacy") as client:
            listed = (await client.list_tools()).tools
            got = [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in listed]
            assert got == ours
            assert "evaluate" not in [t.name for t in listed] and listed[-1].name == "done"
            for a in task.gold_actions:
                r = await client.call_tool(a.tool, a.args)
                assert not r.is_error and isinstance(r.structured_content, dict)
            bad = await client.call_tool("no_such_tool", {})
            assert bad.is_error and "not available" in bad.content[0].text
            await client.call_tool("done", {"message": " ".join(task.required_answers)})
            late = await client.call_tool(task.gold_actions[0].tool, task.gold_actions[0].args)
            assert late.is_error and "ended" in late.content[0].text

    anyio.run(main)
    deadline = time.monotonic() + 10
    while not results.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    row = json.loads(results.read_text().splitlines()[0])
    assert row == {"task_id": task.id, "reward": _direct(world, task), "passed": True}


def _serve(app: MCPWorld) -> tuple[uvicorn.Server, int]:
    config = uvicorn.Config(
        app.http_app(idle_timeout=60), host="127.0.0.1", port=0, log_level="error"
    )
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the HTTP server did not start"
        time.sleep(0.02)
    return server, server.servers[0].sockets[0].getsockname()[1]


@pytest.mark.slow
def test_http_200_concurrent_sessions_no_leak(world_dir):
    world = World.load(world_dir)
    task = world.tasks[0]
    first = task.gold_actions[0]
    app = MCPWorld(world, task.id)
    server, port = _serve(app)
    url = f"http://127.0.0.1:{port}/mcp"
    peak: list[int] = []
    texts: list[str] = []

    async def one(i: int, opened: anyio.Event, counter: list[int]) -> None:
        async with Client(url, mode="legacy") as client:
            r = await client.call_tool(first.tool, first.args)
            assert not r.is_error
            texts.append(r.content[0].text)
            counter[0] += 1
            if counter[0] == SESSIONS:
                peak.append(app.live)
                opened.set()
            await opened.wait()  # every session is open at once
            if i % 2 == 0:
                await client.call_tool("done", {"message": None})

    async def main() -> None:
        opened, counter = anyio.Event(), [0]
        async with anyio.create_task_group() as tg:
            for i in range(SESSIONS):
                tg.start_soon(one, i, opened, counter)

    try:
        anyio.run(main)
        deadline = time.monotonic() + 20
        while app.live and time.monotonic() < deadline:
            time.sleep(0.05)
        assert peak == [SESSIONS] and app.opened == SESSIONS
        assert app.live == 0, f"{app.live} episode sessions leaked"
        assert len(app.results) == SESSIONS and len(set(texts)) == 1
    finally:
        server.should_exit = True
