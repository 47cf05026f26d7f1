"""OpenAI tools: the schemas an agent is offered and the application of its ``tool_calls``.

The agent gets the task's toolset plus one terminal tool, ``done``, so it can always end an
episode (with a last message to the user). The verifier is never a tool: the reward is
computed by the harness from the state diff, so nothing the agent calls can read or reach it.
Tool calls may be plain dicts (the chat-completions wire format) or the ``openai`` SDK's
objects; results come back as ``{"role": "tool", ...}`` messages in call order.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from engine import ErrorType, ToolResult

if TYPE_CHECKING:
    from engine import Session, Task

DONE = "done"
DONE_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": DONE,
        "description": (
            "End the conversation once the user's request is handled or cannot be handled. "
            "Put anything the user still needs to hear (answers, a refusal) in 'message'."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "message": {
                    "type": ["string", "null"],
                    "description": "A last message to the user, or null.",
                }
            },
            "required": ["message"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}
DONE_RESULT = "The conversation has ended."
# Names the reward machinery goes by: no tool offered to an agent may carry one.
VERIFIER_NAMES = ("evaluate", "verify", "reward", "score", "grade", "check_task")


def agent_tools(session: Session, task: Task | None = None) -> list[dict[str, Any]]:
    """OpenAI function tools for ``task``'s toolset (every tool without a task) plus ``done``."""
    tools = session.openai_tools(task.toolset if task is not None else None)
    names = [t["function"]["name"] for t in tools]
    if DONE in names:
        raise ValueError(f"{session.spec.name}: a domain tool is named {DONE!r}, the terminal tool")
    leaked = [n for n in names if n.lower() in VERIFIER_NAMES]
    if leaked:
        raise ValueError(f"{session.spec.name}: tool {leaked[0]!r} looks like a verifier")
    return [*tools, DONE_TOOL]


def _field(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def parse_tool_call(call: Any) -> tuple[str, str, Any]:
    """(id, name, arguments) of one tool call; arguments stay as sent (JSON text or dict)."""
    fn = _field(call, "function") or {}
    return (
        str(_field(call, "id", "") or ""),
        str(_field(fn, "name", "") or ""),
        _field(fn, "arguments", "{}"),
    )


def done_message(arguments: Any) -> str:
    """The ``message`` argument of a ``done`` call ('' when absent or unreadable)."""
    args = arguments
    if isinstance(arguments, str):
        try:
            args = json.loads(arguments or "{}")
        except ValueError:
            return ""
    msg = args.get("message") if isinstance(args, dict) else None
    return msg if isinstance(msg, str) else ""


def tool_message(call_id: str, content: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": content}


def apply_tool_calls(
    session: Session, tool_calls: list[Any], toolset: list[str] | None = None
) -> list[dict[str, Any]]:
    """Run each call on ``session`` and return one tool message per call, in order.

    ``done`` sets ``session.done``; calls after it are not run. A tool outside ``toolset``
    (when given) fails like an unknown tool. Never raises on agent input.
    """
    return [msg for msg, _ in run_tool_calls(session, tool_calls, toolset)]


def run_tool_calls(
    session: Session, tool_calls: list[Any], toolset: list[str] | None = None
) -> list[tuple[dict[str, Any], ToolResult | None]]:
    """Like ``apply_tool_calls`` but also returns each call's ``ToolResult`` (None for
    ``done`` and for calls skipped after it)."""
    out: list[tuple[dict[str, Any], ToolResult | None]] = []
    allowed = None if toolset is None else set(session.tool_names(toolset))
    for call in tool_calls:
        call_id, name, arguments = parse_tool_call(call)
        if session.done:
            out.append((tool_message(call_id, "error: the conversation has already ended"), None))
            continue
        if name == DONE:
            session.done = True
            out.append((tool_message(call_id, DONE_RESULT), None))
            continue
        if allowed is not None and name not in allowed:
            shown = name[:100]
            result = ToolResult(
                False, None, ErrorType.UNKNOWN_TOOL, f"tool {shown!r} is not available", shown
            )
            out.append((tool_message(call_id, result.text), result))
            continue
        result = session.call(name, arguments)
        out.append((tool_message(call_id, result.text), result))
    return out
