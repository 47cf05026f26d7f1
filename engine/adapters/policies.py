"""Scripted agents for rollouts and sanity checks: gold (must pass every task) and random
(must almost never pass). Both speak the OpenAI message format of ``engine.adapters.episode``
and cost zero tokens.

* gold: asks the user to confirm before each write, makes the task's gold calls in order,
  states the required answers, then ends with ``done`` if the user has not stopped;
* random: ``max(5, 2 x gold length)`` calls of random tools from the toolset, with arguments
  drawn from the user's facts, values seen in earlier results and type defaults; then says
  the last result and ends.
"""

from __future__ import annotations

import contextlib
import json
import random
from typing import TYPE_CHECKING, Any

from engine.adapters.openai_tools import DONE

if TYPE_CHECKING:
    from engine import Task
    from engine.spec import DomainSpec, Param


def call_message(name: str, args: dict[str, Any], call_id: str, content: str | None = None) -> dict:
    return {
        "role": "assistant",
        "content": content,
        "tool_calls": [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args, sort_keys=True)},
            }
        ],
    }


def say(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text}


class GoldPolicy:
    """Replays ``task.gold_actions`` as an agent that confirms writes and states answers."""

    def __init__(self, task: Task, spec: DomainSpec, confirm: bool = True) -> None:
        self.plan: list[dict[str, Any]] = []
        for i, a in enumerate(task.gold_actions):
            tool = spec.tools.get(a.tool)
            if confirm and tool is not None and not tool.read_only:
                self.plan.append(say(f"I can {a.tool.replace('_', ' ')} now. Shall I proceed?"))
            self.plan.append(call_message(a.tool, a.args, f"call_{i}"))
        answers = " ".join(f"{a}." for a in task.required_answers)
        self.plan.append(say(f"Your request is complete. {answers}".strip()))
        self.plan.append(call_message(DONE, {"message": None}, "call_done"))
        self._next = 0

    def act(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        msg = self.plan[min(self._next, len(self.plan) - 1)]
        self._next += 1
        return msg


NAME_MATCH = 0.25  # chance an argument reuses a value seen under the param's own name


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return "number" if isinstance(value, float) else "string"


def _walk(value: Any, key: str, pool: dict[str, list[Any]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _walk(v, k, pool)
    elif isinstance(value, list):
        for v in value[:20]:
            _walk(v, key, pool)
    elif value is not None:
        vals = pool.setdefault(key, [])
        if value not in vals:
            vals.append(value)


class RandomPolicy:
    """Random schema-valid calls; the floor a task set must keep agents near (<= 5%)."""

    def __init__(self, task: Task, spec: DomainSpec, seed: int) -> None:
        self.task, self.spec = task, spec
        self.rng = random.Random(seed)
        self.k = max(5, 2 * len(task.gold_actions))
        self.tools = [n for n in task.toolset if n in spec.active_tools()]
        self.pool: dict[str, list[Any]] = {}
        _walk(task.user.known, "", self.pool)
        for key, value in task.user.known.items():  # 'tool.param' facts by their param name
            _walk(value, key.rsplit(".", 1)[-1], self.pool)
        self.calls = 0
        self.seen = 0
        self.last = ""
        self.spoke = False

    def _observe(self, messages: list[dict[str, Any]]) -> None:
        for m in messages[self.seen :]:
            if m.get("role") == "tool" and not m["content"].startswith(
                ("error", "invalid", "unknown", "precondition", "invariant", "internal")
            ):
                self.last = m["content"]
                with contextlib.suppress(ValueError):
                    _walk(json.loads(m["content"]), "", self.pool)
        self.seen = len(messages)

    def _value(self, name: str, p: Param) -> Any:
        rng = self.rng
        if p.type == "enum":
            return rng.choice(p.values or [None])
        if p.type == "array":
            assert p.items is not None
            return [self._value(name, p.items) for _ in range(rng.randint(1, 2))]
        known = self.pool.get(name)
        if known and rng.random() < NAME_MATCH:
            return rng.choice(known)
        typed = [v for vals in self.pool.values() for v in vals if _json_type(v) == p.type]
        if typed and rng.random() < 0.5:
            return rng.choice(typed)
        if p.type == "integer":
            return rng.randint(int(p.minimum or 0), int(p.maximum or 100))
        if p.type == "number":
            return round(rng.uniform(p.minimum or 0, p.maximum or 500), 2)
        if p.type == "boolean":
            return rng.random() < 0.5
        if p.type == "date":
            return self.spec.now[:10]
        if p.type == "datetime":
            return self.spec.now
        strings = [v for vals in self.pool.values() for v in vals if isinstance(v, str)]
        return rng.choice(strings) if strings else "x"

    def act(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        self._observe(messages)
        if self.calls < self.k and self.tools:
            self.calls += 1
            name = self.rng.choice(self.tools)
            params = self.spec.tools[name].params
            args = {
                n: self._value(n, p)
                for n, p in params.items()
                if p.required or self.rng.random() < 0.5
            }
            return call_message(name, args, f"call_{self.calls}")
        if not self.spoke:
            self.spoke = True
            return say(self.last or "I could not find anything.")
        return call_message(DONE, {"message": None}, "call_done")
