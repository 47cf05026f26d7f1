"""An OpenEnv-protocol server without ``openenv-core``: its WebSocket session protocol on
``/ws`` (and ``/health``), served by Starlette, for when ``openenv-core`` cannot be
installed (its requirements pin an older ``mcp``). With ``openenv-core`` installed, prefer
``engine.adapters.openenv_env.create_server_app`` (its own server).

Protocol (``openenv.core.env_server.types``): the client sends ``{"type": "reset", "data":
{seed, episode_id, task_id}}``, ``{"type": "step", "data": <action>}``, ``{"type":
"state"}`` or ``{"type": "close"}``; the server answers ``{"type": "observation", "data":
{"observation": {...}, "reward": r, "done": d}}``, ``{"type": "state", "data": {...}}`` or
``{"type": "error", "data": {"message", "code"}}`` (codes as OpenEnv's ``WSErrorCode``).
Each connection owns one environment, closed when the socket closes, after
``session_timeout`` idle seconds, or on ``close``; past ``max_concurrent_envs`` a new
connection gets ``CAPACITY_REACHED`` and is closed. Loopback only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from engine.adapters.openenv_env import ScaleEnvAction, ScaleEnvEnvironment, ScaleEnvObservation


def _observation(obs: ScaleEnvObservation) -> dict[str, Any]:
    """OpenEnv's ``serialize_observation``: fields but reward/done/metadata, then those."""
    return {
        "type": "observation",
        "data": {
            "observation": obs.model_dump(exclude={"reward", "done", "metadata"}),
            "reward": obs.reward,
            "done": obs.done,
        },
    }


def _error(message: str, code: str) -> dict[str, Any]:
    return {"type": "error", "data": {"message": message, "code": code}}


class OpenEnvServer:
    """``app`` is the Starlette app; ``active`` counts open sessions."""

    def __init__(
        self, world_dir: str, max_concurrent_envs: int = 256, session_timeout: float = 300.0
    ) -> None:
        self.world_dir = world_dir
        self.max_concurrent_envs = max_concurrent_envs
        self.session_timeout = session_timeout
        self.active = 0
        self.served = 0
        self.app = Starlette(
            routes=[Route("/health", self._health), WebSocketRoute("/ws", self._ws)]
        )

    async def _health(self, request: Any) -> JSONResponse:
        return JSONResponse(
            {
                "status": "healthy",
                "active_sessions": self.active,
                "max_sessions": self.max_concurrent_envs,
            }
        )

    async def _ws(self, ws: WebSocket) -> None:
        await ws.accept()
        if self.active >= self.max_concurrent_envs:
            await ws.send_json(_error("server at capacity", "CAPACITY_REACHED"))
            await ws.close()
            return
        self.active += 1
        self.served += 1
        env: ScaleEnvEnvironment | None = None
        try:
            env = ScaleEnvEnvironment(self.world_dir)
            while True:
                try:
                    text = await asyncio.wait_for(ws.receive_text(), self.session_timeout)
                except TimeoutError:
                    break  # idle: free the session
                reply = self._handle(env, text)
                if reply is None:
                    break
                await ws.send_json(reply)
        except WebSocketDisconnect:
            pass
        finally:
            if env is not None:
                env.close()
            self.active -= 1
            with contextlib.suppress(RuntimeError):  # already closed by the client
                await ws.close()

    def _handle(self, env: ScaleEnvEnvironment, text: str) -> dict[str, Any] | None:
        try:
            msg = json.loads(text)
            kind, data = msg.get("type"), msg.get("data") or {}
        except (ValueError, AttributeError):
            return _error("not a JSON object", "INVALID_JSON")
        try:
            if kind == "reset":
                return _observation(env.reset(**data))
            if kind == "step":
                return _observation(env.step(ScaleEnvAction.model_validate(data)))
            if kind == "state":
                return {"type": "state", "data": env.state.model_dump()}
            if kind == "close":
                return None
        except ValidationError as exc:
            return _error(str(exc).splitlines()[0], "VALIDATION_ERROR")
        except (KeyError, RuntimeError, TypeError, ValueError) as exc:
            return _error(
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__, "EXECUTION_ERROR"
            )
        return _error(f"unknown message type {kind!r}", "UNKNOWN_TYPE")
