"""One world as an MCP server (official ``mcp`` package), over stdio or streamable HTTP.

Each MCP connection is one episode: its own in-process session, reset to the task's start
state (or the world's base state), created on the first tool call and closed with the
connection (the client's DELETE, the idle timeout or a dropped stdio pipe), at which point
the episode is scored and the score kept in ``results`` (and appended to ``--results``).
``live`` counts open episodes, so a test can prove none leaks. Tools carry the spec's input
and output schemas and behaviour annotations; results come back as text and as
``structuredContent``. ``done`` is the terminal tool; the verifier is never a tool.

Episode state lives on a handshake-era connection (``Client(..., mode="legacy")``); a
2026-07-28 stateless request has no connection to keep it on, so tool calls there are
refused with a message that says so. Run: ``python -m engine.adapters.mcp_server WORLD
[--task ID] [--http --port N]``. Needs ``mcp`` (extra ``adapters``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import deque
from pathlib import Path
from typing import Any

import mcp_types as types
from mcp.server.lowlevel import Server
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from engine import ScaleEnvError, Score, Session, Task, World
from engine.adapters.openai_tools import DONE, DONE_RESULT
from engine.toolschema.output import structured_result

STATE_KEY = "scaleenv.session"
DONE_MCP = {
    "name": DONE,
    "title": "Done",
    "description": "End the conversation once the user's request is handled or cannot be handled.",
    "inputSchema": {
        "type": "object",
        "properties": {"message": {"type": "string", "description": "A last message to the user."}},
        "additionalProperties": False,
    },
    "annotations": {
        "title": "Done",
        "readOnlyHint": False,
        "destructiveHint": False,
        "idempotentHint": True,
        "openWorldHint": False,
    },
}


class MCPWorld:
    """An MCP server for ``world``; ``server`` is the low-level ``mcp`` server."""

    def __init__(
        self,
        world: World,
        task_id: str | None = None,
        toolset: list[str] | None = None,
        results_path: str | Path | None = None,
    ) -> None:
        self.world = world
        self.task: Task | None = world.task(task_id) if task_id else None
        if toolset is None and self.task is not None:
            toolset = self.task.toolset
        probe = world.session()
        try:
            self.names = probe.tool_names(toolset)
            defs = [*probe.mcp_tools(toolset), DONE_MCP]
        finally:
            probe.close()
        self.tool_defs = defs
        self.tools = [types.Tool.model_validate(d) for d in defs]
        self.live = 0
        self.opened = 0
        self.results: deque[tuple[str | None, Score | None]] = deque(maxlen=10_000)
        self.results_path = Path(results_path) if results_path else None
        instructions = self.task.instruction if self.task is not None else world.spec.description
        self.server: Server[Any] = Server(
            f"scaleenv-{world.spec.name}",
            version="1",
            instructions=instructions,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
        )

    # ---- episodes --------------------------------------------------------------------------
    def _episode(self, ctx: Any) -> tuple[Session, list[str]] | None:
        conn = getattr(ctx.session, "_connection", None)  # mcp keeps it private; see report
        if conn is None or ctx.session.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return None
        held = conn.state.get(STATE_KEY)
        if held is None:
            s = self.world.session()
            s.reset(self.task)
            held = conn.state[STATE_KEY] = (s, [])
            self.live += 1
            self.opened += 1
            conn.exit_stack.callback(self._close, held)
        return held

    def _close(self, held: tuple[Session, list[str]]) -> None:
        s, said = held
        try:
            score = s.evaluate(self.task, messages=said) if self.task is not None else None
            self.results.append((self.task.id if self.task else None, score))
            if self.results_path is not None:
                row: dict[str, Any] = {"task_id": self.task.id if self.task else None}
                if score is not None:
                    row.update(reward=score.reward, passed=score.passed)
                with open(self.results_path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(row, sort_keys=True) + "\n")
        finally:
            s.close()
            self.live -= 1

    # ---- handlers --------------------------------------------------------------------------
    async def _list_tools(self, ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=self.tools)

    async def _call_tool(
        self, ctx: Any, params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        held = self._episode(ctx)
        if held is None:
            return _error(
                "this server keeps an episode per connection: connect with the initialize "
                "handshake (mcp Client(..., mode='legacy'))"
            )
        s, said = held
        name, args = params.name, dict(params.arguments or {})
        if name == DONE:
            msg = args.get("message")
            if isinstance(msg, str) and msg:
                said.append(msg)
            s.done = True
            return types.CallToolResult(content=[types.TextContent(type="text", text=DONE_RESULT)])
        if s.done:
            return _error("the conversation has already ended")
        if name not in self.names:
            return _error(f"unknown_tool: tool {name[:100]!r} is not available")
        r = s.call(name, args)
        if not r.ok:
            return _error(r.text)
        structured = structured_result(self.world.spec, name, r.result)
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=r.text)],
            structured_content=structured if isinstance(structured, dict) else None,
        )

    # ---- transports ------------------------------------------------------------------------
    def http_app(self, idle_timeout: float = 300.0, max_sessions: int = 4096) -> Any:
        """A Starlette app serving streamable HTTP at ``/mcp`` for loopback clients;
        sessions idle for ``idle_timeout`` seconds are closed (and scored). ``/status``
        tells the open and served episode counts (leak checks)."""
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        async def status(request: Any) -> JSONResponse:
            return JSONResponse({"live": self.live, "opened": self.opened})

        return self.server.streamable_http_app(
            host="127.0.0.1",
            session_idle_timeout=idle_timeout,
            max_sessions=max_sessions,
            custom_starlette_routes=[Route("/status", status)],
        )

    async def run_stdio(self) -> None:
        from mcp.server.stdio import stdio_server

        async with stdio_server() as (read, write):
            await self.server.run(read, write, self.server.create_initialization_options())


def _error(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine.adapters.mcp_server", description=__doc__)
    ap.add_argument("world", help="world directory")
    ap.add_argument("--task", help="task id: every connection starts at its start state")
    ap.add_argument("--http", action="store_true", help="streamable HTTP on loopback, not stdio")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--idle-timeout", type=float, default=300.0)
    ap.add_argument("--results", help="append each closed episode's score here (JSONL)")
    a = ap.parse_args(argv)
    try:
        app = MCPWorld(World.load(a.world), a.task, results_path=a.results)
    except (ScaleEnvError, KeyError) as exc:
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    if a.http:
        import uvicorn

        uvicorn.run(
            app.http_app(a.idle_timeout), host="127.0.0.1", port=a.port, log_level="warning"
        )
    else:
        import anyio

        anyio.run(app.run_stdio)
    return 0


if __name__ == "__main__":
    sys.exit(main())
