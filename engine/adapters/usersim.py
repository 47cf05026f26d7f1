"""User simulators (tau2-style dual control) and the checkable contract that ends an episode.

An episode may end on the user's side only when ``StopContract`` allows it: the task's
state diff is met (with its required answers), the refusal the task calls for was stated,
or the turn budget is spent. The harness (``engine.adapters.episode``) enforces it for every
simulator, so an LLM user cannot stop early (tau2 #182: stopping right after confirming,
before the agent writes); its rejected stop attempts are counted.

``ScriptedUser`` is deterministic and costs zero tokens: it opens with the task's request,
tells a fact it knows when the agent asks for it, says it does not know anything else (it
never invents a value), confirms before a write, and says the stop token when allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from engine import Score, Task

STOP = "###STOP###"
CONFIRM_RE = re.compile(
    r"\b(confirm|proceed|go ahead|shall i|should i|may i|do you want me|would you like me|"
    r"is that (ok|okay|correct|right))\b",
    re.I,
)


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text.lower()).split())


@dataclass(frozen=True)
class UserTurn:
    """What a simulated user says; ``stop`` asks to end the episode."""

    text: str
    stop: bool = False


class UserSimulator(Protocol):
    def opening(self) -> str: ...

    def reply(self, agent_text: str, allowed: str | None) -> UserTurn: ...


class StopContract:
    """When the user may end the episode: a reason string, or None while it may not.

    Reasons: ``goal_met`` (state diff and required answers), ``refusal_stated`` (the task
    asks for a refusal, the state is untouched as the gold wants and every refusal's key
    phrase was said), ``max_turns``.
    """

    def __init__(self, task: Task, max_turns: int = 30) -> None:
        self.task = task
        self.max_turns = max_turns
        self.refusals = [
            _norm(a)
            for g in task.subgoals
            if g.get("kind") == "refusal"
            for a in g.get("answers") or []
            if a
        ]

    def check(self, score: Score, said: list[str], turns: int) -> str | None:
        if score.passed:
            return "refusal_stated" if self.refusals and not score.expected else "goal_met"
        if self.refusals and score.state_ok:
            text = " " + _norm(" ".join(said)) + " "
            if all(f" {r} " in text for r in self.refusals):
                return "refusal_stated"
        if turns >= self.max_turns:
            return "max_turns"
        return None


def _fact_words(key: str) -> list[str]:
    """Ways an agent may name a known fact: ``order_id`` -> 'order id', 'order'."""
    base = key.rsplit(".", 1)[-1]
    words = _norm(base.replace("_", " "))
    out = [words]
    if words.endswith(" id") or words.endswith(" ids"):
        out.append(words.rsplit(" ", 1)[0])
    if words in ("dob", "date of birth"):
        out += ["date of birth", "birthday", "dob"]
    return out


def _show(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


class ScriptedUser:
    """Deterministic user for ``task``: reveals known facts when asked, never invents,
    confirms writes, stops only when told the contract allows it."""

    def __init__(self, task: Task) -> None:
        self.task = task
        self.facts = {k: v for k, v in sorted(task.user.known.items()) if v is not None}

    def opening(self) -> str:
        return self.task.instruction

    def asked_facts(self, agent_text: str) -> list[tuple[str, Any]]:
        text = " " + _norm(agent_text) + " "
        found: list[tuple[str, Any]] = []
        for key, value in self.facts.items():
            if any(f" {w} " in text for w in _fact_words(key)):
                found.append((key.rsplit(".", 1)[-1].replace("_", " "), value))
        return found

    def reply(self, agent_text: str, allowed: str | None) -> UserTurn:
        if allowed is not None:
            return UserTurn(f"Thank you, that is all I needed. {STOP}", stop=True)
        asked = "?" in agent_text
        parts: list[str] = []
        if asked:
            facts = self.asked_facts(agent_text)
            parts += [f"My {name} is {_show(value)}." for name, value in facts]
            if CONFIRM_RE.search(agent_text):
                parts.insert(0, "Yes, please go ahead.")
            elif not facts:
                parts.append("I'm sorry, I don't have that information.")
        if not parts:
            parts.append(f"Please help me with my request: {self.task.instruction}")
        return UserTurn(" ".join(parts))
