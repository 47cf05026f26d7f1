"""One episode at the text/JSON level: agent, simulated user and world, as chat messages.

The harness owns the session, the message list and the stop contract; an agent only sends
assistant messages (``act``). Tool calls run in the session; a message without tool calls
goes to the user, whose reply (or stop) comes back. The reward is ``Session.evaluate`` on
the state diff plus what the agent said, valid whenever the episode stops. Every step
records its tool, arguments, result and the rows it changed, for trajectories.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.adapters.openai_tools import (
    DONE,
    agent_tools,
    done_message,
    parse_tool_call,
    run_tool_calls,
)
from engine.adapters.usersim import STOP, ScriptedUser, StopContract, UserSimulator

if TYPE_CHECKING:
    from engine import RowChange, Score, Session, Task, World

SYSTEM_PROMPT = (
    "You are a customer service agent for the {domain} domain. Help the user with their "
    "request using the tools. Ask the user for any fact you need, and confirm with them "
    "before any change. When the request is handled, or cannot be, call `done`.\n\n{policy}"
)


def system_prompt(world: World) -> str:
    spec = world.spec
    return SYSTEM_PROMPT.format(domain=spec.name, policy=spec.policy or spec.description).strip()


def _key(ch: RowChange) -> tuple[str, str]:
    return ch.table, repr(sorted(ch.key.items()))


@dataclass
class Step:
    """One tool call of the agent and what it did to the state."""

    turn: int
    tool: str
    args: Any
    ok: bool
    error_type: str | None
    result: Any
    changes: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Episode:
    """Agent + user + world for one task. ``start()`` gives the opening messages, each
    ``act(assistant_message)`` the messages that follow; ``ended``, ``stop_reason`` and
    ``score()`` tell the outcome."""

    def __init__(
        self,
        world: World,
        task: Task,
        user: UserSimulator | None = None,
        *,
        max_turns: int = 30,
        session: Session | None = None,
    ) -> None:
        self.world, self.task = world, task
        self.session = session if session is not None else world.session()
        self._own_session = session is None
        self.user = user if user is not None else ScriptedUser(task)
        self.contract = StopContract(task, max_turns)
        self.tools = agent_tools(self.session, task)
        self.messages: list[dict[str, Any]] = []
        self.steps: list[Step] = []
        self.said: list[str] = []
        self.turns = 0
        self.stop_reason: str | None = None
        self.early_stop_attempts = 0  # user stop requests the contract refused
        self.missed_stops = 0  # user turns where the contract allowed a stop but none came
        self._rows: dict[tuple[str, str], Any] = {}
        self._writes = 0  # successful write calls (the score memo's key)
        self._score: tuple[tuple[int, int], Score] | None = None

    # ---- lifecycle -----------------------------------------------------------------------
    def start(self) -> list[dict[str, Any]]:
        self.session.reset(self.task)
        self.messages = [
            {"role": "system", "content": system_prompt(self.world)},
            {"role": "user", "content": self.user.opening()},
        ]
        self.steps, self.said, self.turns, self.stop_reason = [], [], 0, None
        self._rows, self._writes, self._score = {}, 0, None
        return list(self.messages)

    @property
    def ended(self) -> bool:
        return self.stop_reason is not None

    def close(self) -> None:
        if self._own_session:
            self.session.close()

    def score(self) -> Score:
        """The reward so far; memoized until a write succeeds or the agent says more."""
        key = (self._writes, len(self.said))
        if self._score is None or self._score[0] != key:
            self._score = (key, self.session.evaluate(self.task, messages=self.said))
        return self._score[1]

    def _may_stop(self) -> str | None:
        """The contract's verdict; a task that needs changes is not met before any write."""
        if self.task.gold_diff and not self._writes and self.turns < self.contract.max_turns:
            return None
        return self.contract.check(self.score(), self.said, self.turns)

    # ---- turns ---------------------------------------------------------------------------
    def act(self, message: dict[str, Any] | Any) -> list[dict[str, Any]]:
        """Apply one assistant message (a dict, or the ``openai`` SDK's message object);
        return the tool and user messages it produced."""
        if self.ended:
            raise RuntimeError(f"episode of {self.task.id} has ended ({self.stop_reason})")
        if not isinstance(message, dict):
            message = {
                "content": getattr(message, "content", None),
                "tool_calls": getattr(message, "tool_calls", None),
            }
        content = message.get("content") or ""
        calls = list(message.get("tool_calls") or [])
        entry: dict[str, Any] = {"role": "assistant", "content": content or None}
        if calls:
            entry["tool_calls"] = [_plain_call(c) for c in calls]
        self.messages.append(entry)
        self.turns += 1
        if content:
            self.said.append(content)
        out: list[dict[str, Any]] = []
        if calls:
            out += self._tools(entry["tool_calls"])
        elif content:
            out += self._user_turn(content)
        if not self.ended and self.session.done:
            self.stop_reason = "agent_done" if self._called_done() else "transfer"
        if not self.ended and self.turns >= self.contract.max_turns:
            self.stop_reason = "max_turns"
        self.messages += out
        return out

    def _called_done(self) -> bool:
        last = self.messages[-1].get("tool_calls") or []
        return any(c["function"]["name"] == DONE for c in last)

    def _tools(self, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        spec = self.session.spec
        for call, (msg, result) in zip(
            calls, run_tool_calls(self.session, calls, self.task.toolset), strict=True
        ):
            out.append(msg)
            name, args = call["function"]["name"], call["function"]["arguments"]
            if name == DONE and result is None:
                text = done_message(args)
                if text:
                    self.said.append(text)
                continue
            if result is None:
                continue
            tool = spec.tools.get(name)
            writes = result.ok and tool is not None and not tool.read_only
            step = Step(self.turns, name, args, result.ok, result.error_type, result.result)
            if writes:
                self._writes += 1
                step.changes = self._step_changes()
            self.steps.append(step)
        return out

    def _step_changes(self) -> list[dict[str, Any]]:
        """Rows this call changed: the net change log against what it said before."""
        out = []
        for ch in self.session.changes():
            k = _key(ch)
            prev = self._rows.get(k, ch.before)
            if prev != ch.after:
                out.append({"table": ch.table, "key": ch.key, "before": prev, "after": ch.after})
                self._rows[k] = ch.after
        return out

    def _user_turn(self, agent_text: str) -> list[dict[str, Any]]:
        allowed = self._may_stop()
        turn = self.user.reply(agent_text, allowed)
        text = turn.text
        if turn.stop and allowed is None:
            self.early_stop_attempts += 1
            text = text.replace(STOP, "").strip() or "Please continue with my request."
        elif allowed is not None and not turn.stop and allowed != "max_turns":
            self.missed_stops += 1
        if turn.stop and allowed is not None:
            self.stop_reason = allowed
        return [{"role": "user", "content": text}]

    # ---- record --------------------------------------------------------------------------
    def record(self) -> dict[str, Any]:
        """The trajectory as JSON-ready data (messages, steps, reward, stop reason)."""
        sc = self.score()
        return {
            "task_id": self.task.id,
            "domain": self.task.domain,
            "difficulty": self.task.difficulty,
            "messages": self.messages,
            "tools": self.tools,
            "steps": [s.to_dict() for s in self.steps],
            "turns": self.turns,
            "stop_reason": self.stop_reason,
            "reward": sc.reward,
            "partial": sc.partial,
            "passed": sc.passed,
            "explanation": sc.explanation,
            "user_early_stops": self.early_stop_attempts,
            "user_missed_stops": self.missed_stops,
        }


def _plain_call(call: Any) -> dict[str, Any]:
    """A tool call as the wire-format dict, whether it came as a dict or an SDK object."""
    call_id, name, arguments = parse_tool_call(call)
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments, sort_keys=True, default=str)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
