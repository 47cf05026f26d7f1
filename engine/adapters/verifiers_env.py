"""verifiers v1 (prime-rl), against its documented contract (``verifiers`` pulls in a large
dependency tree and an older ``mcp``, so it is not installed here).

The loader resolves an id ``owner/name[@version]`` by importing module ``name`` and takes the
one ``Taskset`` its ``__all__`` exports; this module is such a module. ``ScaleEnvTaskset``
yields one ``ScaleEnvTask`` per task of the world (``$SCALEENV_WORLD`` or ``world_dir``)
with ``key`` = the task id (stable across runs and unique in the world) and a chat
``prompt``; ``toolset(task)`` gives the episode's tools as async methods (typed, documented,
the schemas TRL reads too) plus ``done``; ``reward(trace)`` is the state-diff reward, with
the assistant's words in the trace as the answers. Nothing the agent calls reaches the
reward.
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass, field
from typing import Any

from engine import Task, World
from engine.adapters.episode import system_prompt
from engine.adapters.trl_env import environment_factory

__all__ = ["ScaleEnvTaskset"]
WORLD_ENV = "SCALEENV_WORLD"


@dataclass
class TaskData:
    prompt: list[dict[str, str]]
    task_id: str
    domain: str
    difficulty: str
    idx: int | None = None


@dataclass
class ScaleEnvTask:
    """One task: ``key`` is its id; ``data.prompt`` the system and user messages."""

    data: TaskData
    task: Task = field(repr=False)

    @property
    def key(self) -> str:
        return self.data.task_id


class ScaleEnvToolset:
    """The tools of one episode, as async methods; state lives in this instance."""

    def __init__(self, world_dir: str, task: Task) -> None:
        cls = environment_factory(world_dir, task.toolset)
        self._env = cls()
        self._env.reset(task_id=task.id)
        self.task = task
        self.names = [n for n, v in vars(cls).items() if callable(v) and not n.startswith("_")]
        for name in self.names:
            setattr(self, name, _async(getattr(self._env, name)))

    def reward(self, answers: list[str] | None = None) -> float:
        self._env.said.extend(answers or [])
        return self._env.get_reward()


def _async(method: Any) -> Any:
    async def call(*args: Any, **kwargs: Any) -> str:
        return method(*args, **kwargs)

    call.__name__ = call.__qualname__ = method.__name__
    call.__doc__ = method.__doc__
    call.__signature__ = inspect.signature(method)  # type: ignore[attr-defined]
    call.__annotations__ = {
        k: v for k, v in getattr(method, "__annotations__", {}).items() if k != "self"
    }
    return call


class ScaleEnvTaskset:
    """The world's tasks as a verifiers taskset (``load`` yields tasks with stable keys)."""

    def __init__(self, config: Any = None) -> None:
        world_dir = getattr(config, "world_dir", None) or os.environ.get(WORLD_ENV)
        if not world_dir:
            raise ValueError(f"no world: pass config.world_dir or set ${WORLD_ENV}")
        self.world_dir = os.path.abspath(world_dir)
        self.world = World.load(self.world_dir)
        self.config = config

    def load(self) -> list[ScaleEnvTask]:
        system = system_prompt(self.world)
        return [
            ScaleEnvTask(
                TaskData(
                    prompt=[
                        {"role": "system", "content": system},
                        {"role": "user", "content": t.instruction},
                    ],
                    task_id=t.id,
                    domain=t.domain,
                    difficulty=t.difficulty,
                    idx=i,
                ),
                t,
            )
            for i, t in enumerate(self.world.tasks)
        ]

    def toolset(self, task: ScaleEnvTask) -> ScaleEnvToolset:
        return ScaleEnvToolset(self.world_dir, task.task)

    async def reward(self, trace: Any, toolset: ScaleEnvToolset) -> float:
        """State-diff reward of the episode ``toolset`` ran; answers are the assistant
        texts of ``trace`` (a message list or an object with ``messages``)."""
        messages = trace if isinstance(trace, list) else getattr(trace, "messages", [])
        said = [
            m["content"]
            for m in messages
            if isinstance(m, dict) and m.get("role") == "assistant" and m.get("content")
        ]
        return toolset.reward(said)
