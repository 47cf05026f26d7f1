"""An LLM agent and an LLM user through any OpenAI-compatible endpoint (``openai`` package).

The endpoint comes from the environment: ``OPENAI_BASE_URL`` (e.g. a local llama.cpp
server, ``http://127.0.0.1:8080/v1``) and ``OPENAI_API_KEY`` (any text for local servers).
Both speak the chat-completions format and send ``seed`` and temperature 0, so a server
that honours them repeats itself. The LLM user gets tau2's rules and the task's scenario
(its known facts); it may say the stop token, but the episode harness ends the episode only
when the stop contract allows it (``engine.adapters.usersim``), and counts the refusals.
Model text is only ever text: nothing it says is run.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from engine import ScaleEnvError
from engine.adapters.usersim import STOP, UserTurn

if TYPE_CHECKING:
    from engine import Task
    from engine.adapters.episode import Episode

USER_RULES = (
    "You are playing a customer talking to a customer service agent. Follow these rules:\n"
    "- Say one short message per turn, as the customer.\n"
    "- Never invent facts: use only the facts listed below; if asked for anything else, say "
    "you don't know it.\n"
    "- Disclose facts only when the agent asks for them.\n"
    "- When the agent asks you to confirm a change that matches your request, confirm it.\n"
    f"- When your request is fully handled, reply with only '{STOP}'.\n\n"
    "Your request: {instruction}\n\nFacts you know:\n{facts}"
)


def _client() -> Any:
    try:
        from openai import OpenAI
    except ImportError:  # pragma: no cover - openai is in the adapters extra
        raise ScaleEnvError("an openai: policy or user needs: pip install openai") from None
    base = os.environ.get("OPENAI_BASE_URL")
    if not base:
        raise ScaleEnvError("set OPENAI_BASE_URL to an OpenAI-compatible endpoint (…/v1)")
    return OpenAI(base_url=base, api_key=os.environ.get("OPENAI_API_KEY", "none"), max_retries=1)


def _complete(client: Any, **kwargs: Any) -> Any:
    try:
        return client.chat.completions.create(**kwargs).choices[0].message
    except Exception as exc:  # the SDK raises many kinds; one line names the endpoint
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ScaleEnvError(f"openai endpoint {client.base_url}: {first}") from None


class OpenAIPolicy:
    """The agent: the episode's messages and tools go to the model; its reply comes back
    as an assistant message (content and/or tool calls)."""

    def __init__(self, model: str, seed: int = 0, temperature: float = 0.0) -> None:
        self.model, self.seed, self.temperature = model, seed % (2**31), temperature
        self.client = _client()
        self.tools: list[dict[str, Any]] = []

    def bind(self, episode: Episode) -> None:
        self.tools = episode.tools

    def act(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        msg = _complete(
            self.client,
            model=self.model,
            messages=messages,
            tools=self.tools or None,
            temperature=self.temperature,
            seed=self.seed,
        )
        out: dict[str, Any] = {"role": "assistant", "content": msg.content or None}
        calls = [
            {
                "id": c.id or f"call_{i}",
                "type": "function",
                "function": {"name": c.function.name, "arguments": c.function.arguments or "{}"},
            }
            for i, c in enumerate(msg.tool_calls or [])
            if getattr(c, "function", None) is not None
        ]
        if calls:
            out["tool_calls"] = calls
        if not calls and not out["content"]:
            out["content"] = "..."  # an empty reply still takes a turn
        return out


class OpenAIUser:
    """The user, played by the model; the harness decides whether its stop counts."""

    def __init__(self, task: Task, model: str, seed: int = 0, temperature: float = 0.0) -> None:
        self.task, self.model = task, model
        self.seed, self.temperature = seed % (2**31), temperature
        self.client = _client()
        facts = "\n".join(
            f"- {k.rsplit('.', 1)[-1].replace('_', ' ')}: {json.dumps(v, default=str)}"
            for k, v in sorted(task.user.known.items())
        )
        system = USER_RULES.format(instruction=task.instruction, facts=facts or "- (none)")
        self.history: list[dict[str, str]] = [{"role": "system", "content": system}]

    def opening(self) -> str:
        text = self.task.instruction
        self.history.append({"role": "assistant", "content": text})
        return text

    def reply(self, agent_text: str, allowed: str | None) -> UserTurn:
        self.history.append({"role": "user", "content": agent_text})
        msg = _complete(
            self.client,
            model=self.model,
            messages=self.history,
            temperature=self.temperature,
            seed=self.seed,
        )
        text = (msg.content or "").strip() or "Could you continue, please?"
        self.history.append({"role": "assistant", "content": text})
        return UserTurn(text, stop=STOP in text)
