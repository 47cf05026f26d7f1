"""Gymnasium ``Env`` over the episode harness: text in, text out.

Observation: the new messages since the last step as text (the user's words, each tool
result under its tool's name). Action: a tool call as JSON text,
``{"tool": NAME, "arguments": {...}}`` (``done`` ends the episode), or any other text, said to
the user. The reward is the task's state-diff reward on the step that ends the episode,
0 before; ``terminated`` when the user's contract or the agent ends it, ``truncated`` at
``max_turns``. Both spaces are ``Text`` over printable ASCII and Latin-1; other characters
in an observation are shown as '?'. Needs ``gymnasium`` (extra ``adapters``).
"""

from __future__ import annotations

import json
import string
from typing import Any

import gymnasium as gym
from gymnasium import spaces

from engine import Task, World
from engine.adapters.episode import Episode

CHARSET = "".join(sorted(set(string.printable) | {chr(c) for c in range(0xA0, 0x100)}))
MAX_TEXT = 32_000
_ALLOWED = frozenset(CHARSET)


def _clean(text: str) -> str:
    text = "".join(c if c in _ALLOWED else "?" for c in text)
    return text[:MAX_TEXT]


def parse_action(action: str) -> dict[str, Any]:
    """The assistant message an action stands for: a tool call or a message to the user."""
    text = action.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("tool"), str):
            args = data.get("arguments", {})
            call = {
                "id": "call_0",
                "type": "function",
                "function": {"name": data["tool"], "arguments": json.dumps(args, sort_keys=True)},
            }
            return {"role": "assistant", "content": None, "tool_calls": [call]}
    return {"role": "assistant", "content": action}


def render_messages(messages: list[dict[str, Any]], names: dict[str, str] | None = None) -> str:
    """Messages as observation text: ``user: ...`` and ``tool NAME: ...`` lines."""
    names = names or {}
    lines = []
    for m in messages:
        if m["role"] == "tool":
            lines.append(f"tool {names.get(m['tool_call_id'], '')}: {m['content']}")
        elif m["role"] == "user":
            lines.append(f"user: {m['content']}")
    return "\n".join(lines)


class ScaleEnvGym(gym.Env):
    """One world's tasks as a Gymnasium environment (``reset(options={"task_id": ...})``
    picks a task; else the seeded generator does)."""

    metadata = {"render_modes": ["ansi"]}

    def __init__(
        self,
        world: World | str,
        tasks: list[Task] | None = None,
        max_turns: int = 30,
        render_mode: str | None = None,
    ) -> None:
        self.world = world if isinstance(world, World) else World.load(world)
        self.tasks = list(tasks if tasks is not None else self.world.tasks)
        if not self.tasks:
            raise ValueError(f"{self.world.name}: no tasks to play")
        self.max_turns = max_turns
        self.render_mode = render_mode
        self.observation_space = spaces.Text(MAX_TEXT, min_length=0, charset=CHARSET)
        self.action_space = spaces.Text(MAX_TEXT, min_length=1, charset=CHARSET)
        self._session = self.world.session()
        self.episode: Episode | None = None
        self._last = ""

    def _info(self) -> dict[str, Any]:
        assert self.episode is not None
        return {
            "task_id": self.episode.task.id,
            "turns": self.episode.turns,
            "stop_reason": self.episode.stop_reason,
        }

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        options = options or {}
        if "task_id" in options:
            task = self.world.task(options["task_id"])
        else:
            task = self.tasks[int(self.np_random.integers(len(self.tasks)))]
        self.episode = Episode(self.world, task, max_turns=self.max_turns, session=self._session)
        msgs = self.episode.start()
        self._last = _clean(render_messages(msgs[1:]))
        info = self._info()
        info["tools"] = self.episode.tools
        info["system"] = msgs[0]["content"]
        return self._last, info

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        if self.episode is None:
            raise RuntimeError("call reset() before step()")
        ep = self.episode
        message = parse_action(str(action))
        out = ep.act(message)
        names = {c["id"]: c["function"]["name"] for c in message.get("tool_calls") or []}
        self._last = _clean(render_messages(out, names))
        reward = float(ep.score().reward) if ep.ended else 0.0
        truncated = ep.stop_reason == "max_turns"
        terminated = ep.ended and not truncated
        return self._last, reward, terminated, truncated, self._info()

    def render(self) -> str | None:
        return self._last if self.render_mode == "ansi" else None

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None  # type: ignore[assignment]
