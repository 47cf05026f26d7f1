"""OpenEnv: an ``Environment`` over the episode harness, its action/observation/state
models, the server app and ``openenv.yaml``.

The contract (``openenv-core``): ``reset(seed=None, episode_id=None, **kw) -> Observation``,
``step(action, timeout_s=None, **kw) -> Observation``, a ``state`` property, ``close()``,
``SUPPORTS_CONCURRENT_SESSIONS``; the server is ``create_app(env_factory, action_cls,
observation_cls, env_name, concurrency_config=ConcurrencyConfig(max_concurrent_envs,
session_timeout))`` (one environment per WebSocket session, freed on disconnect or after
``session_timeout`` idle seconds). When ``openenv-core`` is importable the classes here
subclass its own; otherwise they are plain pydantic models with the same fields, so the
environment runs (and is tested) without it. ``openenv-core`` is not a dependency: its
own requirements pin an older ``mcp`` and pull in gradio.

An action is a tool call (``tool`` + ``arguments``, ``done`` ends the episode) or a
``message`` to the user; the observation carries the new messages as text, the reward
(the state-diff reward once the episode ends) and ``done``.
"""

from __future__ import annotations

import json
import os
import random
import threading
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine import World
from engine.adapters.episode import Episode
from engine.adapters.gym_env import parse_action, render_messages

try:  # the real base classes when openenv-core is installed
    from openenv.core.env_server import Action as _Action
    from openenv.core.env_server import Environment as _Environment
    from openenv.core.env_server import Observation as _Observation
    from openenv.core.env_server import State as _State

    HAVE_OPENENV = True
except ImportError:  # documented contract, same fields
    HAVE_OPENENV = False

    class _Action(BaseModel):  # type: ignore[no-redef]
        model_config = ConfigDict(extra="forbid", validate_assignment=True)
        metadata: dict[str, Any] = Field(default_factory=dict)

    class _Observation(BaseModel):  # type: ignore[no-redef]
        model_config = ConfigDict(extra="forbid", validate_assignment=True)
        done: bool = False
        reward: bool | int | float | None = None
        metadata: dict[str, Any] = Field(default_factory=dict)

    class _State(BaseModel):  # type: ignore[no-redef]
        model_config = ConfigDict(extra="allow", validate_assignment=True)
        episode_id: str | None = None
        step_count: int = Field(default=0, ge=0)

    class _Environment:  # type: ignore[no-redef]
        SUPPORTS_CONCURRENT_SESSIONS: bool = False

        def __init__(self, transform: Any = None, rubric: Any = None) -> None:
            self.transform, self.rubric = transform, rubric


WORLD_ENV = "SCALEENV_WORLD"  # the world directory a server's environments load
_WORLDS: dict[str, World] = {}
_LOCK = threading.Lock()


class ScaleEnvAction(_Action):
    """A tool call (``tool``, ``arguments``) or, without ``tool``, a ``message`` to the user."""

    tool: str | None = None
    arguments: dict[str, Any] = Field(default_factory=dict)
    message: str | None = None


class ScaleEnvObservation(_Observation):
    text: str = ""  # the user's words and tool results since the last step
    task_id: str | None = None
    tools: list[dict[str, Any]] = Field(default_factory=list)  # on reset: OpenAI tool schemas


class ScaleEnvState(_State):
    task_id: str | None = None
    stop_reason: str | None = None


def _world(path: str) -> World:
    with _LOCK:
        w = _WORLDS.get(path)
        if w is None:
            w = _WORLDS[path] = World.load(path)
        return w


class ScaleEnvEnvironment(_Environment):
    """One episode at a time on one world; instances are independent (own session)."""

    SUPPORTS_CONCURRENT_SESSIONS = True
    live = 0  # open instances in this process (leak checks)

    def __init__(self, world_dir: str | None = None, max_turns: int = 30) -> None:
        super().__init__()
        path = world_dir or os.environ.get(WORLD_ENV)
        if not path:
            raise ValueError(f"no world: pass world_dir or set ${WORLD_ENV}")
        self.world = _world(os.path.abspath(path))
        self.max_turns = max_turns
        self._session = self.world.session()
        self.episode: Episode | None = None
        self._state = ScaleEnvState()
        with _LOCK:
            ScaleEnvEnvironment.live += 1
        self._closed = False

    def reset(
        self, seed: int | None = None, episode_id: str | None = None, **kwargs: Any
    ) -> ScaleEnvObservation:
        """Start the task named by ``task_id`` (else one drawn with ``seed``)."""
        tasks = self.world.tasks
        task_id = kwargs.get("task_id")
        if task_id is not None:
            task = self.world.task(str(task_id))
        else:
            task = tasks[random.Random(seed).randrange(len(tasks))]
        self.episode = Episode(self.world, task, max_turns=self.max_turns, session=self._session)
        msgs = self.episode.start()
        self._state = ScaleEnvState(episode_id=episode_id, step_count=0, task_id=task.id)
        return ScaleEnvObservation(
            text=render_messages(msgs[1:]),
            task_id=task.id,
            tools=self.episode.tools,
            metadata={"system": msgs[0]["content"]},
            reward=0.0,
        )

    def step(
        self, action: ScaleEnvAction, timeout_s: float | None = None, **kwargs: Any
    ) -> ScaleEnvObservation:
        if self.episode is None:
            raise RuntimeError("call reset() before step()")
        if isinstance(action, dict):
            action = ScaleEnvAction.model_validate(action)
        if action.tool is not None:
            message = parse_action(json.dumps({"tool": action.tool, "arguments": action.arguments}))
        else:
            message = {"role": "assistant", "content": action.message or ""}
        out = self.episode.act(message)
        names = {c["id"]: c["function"]["name"] for c in message.get("tool_calls") or []}
        ep = self.episode
        self._state.step_count += 1
        self._state.stop_reason = ep.stop_reason
        reward = float(ep.score().reward) if ep.ended else 0.0
        return ScaleEnvObservation(
            text=render_messages(out, names),
            task_id=ep.task.id,
            done=ep.ended,
            reward=reward,
            metadata={"stop_reason": ep.stop_reason},
        )

    @property
    def state(self) -> ScaleEnvState:
        return self._state

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._session.close()
            with _LOCK:
                ScaleEnvEnvironment.live -= 1


def create_server_app(
    world_dir: str, max_concurrent_envs: int = 256, session_timeout: float = 300.0
) -> Any:
    """The OpenEnv FastAPI app (needs ``openenv-core``): one environment per session, freed
    on disconnect or after ``session_timeout`` idle seconds."""
    if not HAVE_OPENENV:
        raise ImportError("the OpenEnv server needs openenv-core: pip install openenv-core")
    from openenv.core.env_server import ConcurrencyConfig, create_app

    path = os.path.abspath(world_dir)
    return create_app(
        lambda: ScaleEnvEnvironment(path),
        ScaleEnvAction,
        ScaleEnvObservation,
        env_name=f"scaleenv-{_world(path).spec.name}",
        concurrency_config=ConcurrencyConfig(
            max_concurrent_envs=max_concurrent_envs, session_timeout=session_timeout
        ),
    )


def openenv_yaml(name: str, port: int = 8000) -> str:
    """The ``openenv.yaml`` of a scaleenv space; its app reads the world from $SCALEENV_WORLD."""
    return (
        "spec_version: 1\n"
        f"name: {name}\n"
        "type: space\n"
        "runtime: fastapi\n"
        "app: engine.adapters.openenv_app:app\n"
        f"port: {port}\n"
    )
