"""MCP adapter, tested with the ``mcp`` package's own client: a gold episode over stdio
scores like a direct session; over streamable HTTP on loopback 200 concurrent sessions
each get their own episode, and none is left open after the clients close."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("mcp")
import anyio  # noqa: E402
from mcp import Client, StdioServerParameters  # noqa: E402

from engine import World  # noqa: E402
from engine.adapters.mcp_server import MCPWorld  # noqa: E402
from synth.build import build_world  # noqa: E402

SESSIONS = 200
ROOT = Path(__file__).resolve().parents[2]


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
        cwd=str(ROOT),
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


def _serve(world_dir: Path, task_id: str) -> tuple[subprocess.Popen, int]:
    """The HTTP server in its own process (its own interpreter lock), on a free port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.adapters.mcp_server", str(world_dir), "--task", task_id,
         "--http", "--port", str(port), "--idle-timeout", "60"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        try:
            _status(port)
            return proc, port
        except OSError:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the HTTP server did not start"
            time.sleep(0.1)


def _status(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5) as resp:
        return json.loads(resp.read())


@pytest.mark.slow
def test_http_200_concurrent_sessions_no_leak(world_dir):
    world = World.load(world_dir)
    task = world.tasks[0]
    first = task.gold_actions[0]
    proc, port = _serve(world_dir, task.id)
    url = f"http://127.0.0.1:{port}/mcp"
    peak: list[dict] = []
    texts: list[str] = []

    async def one(i: int, opened: anyio.Event, counter: list[int]) -> None:
        async with Client(url, mode="legacy") as client:
            r = await client.call_tool(first.tool, first.args)
            assert not r.is_error
            texts.append(r.content[0].text)
            counter[0] += 1
            if counter[0] == SESSIONS:
                peak.append(await anyio.to_thread.run_sync(_status, port))
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
        while _status(port)["live"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert peak == [{"live": SESSIONS, "opened": SESSIONS}]
        assert _status(port) == {"live": 0, "opened": SESSIONS}, "episode sessions leaked"
        assert len(texts) == SESSIONS and len(set(texts)) == 1
    finally:
        proc.terminate()
        proc.wait(timeout=10)
