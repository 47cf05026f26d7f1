"""Adapters that plug scaleenv worlds into trainers: OpenAI tools, a user simulator and the
episode harness (stdlib only), Gymnasium, MCP, TRL, OpenEnv and verifiers (each behind its
optional dependency, imported only when its module is).

Every adapter drives the same in-process ``engine.Session``: tool calls cost microseconds,
the reward is the task's state diff (``Session.evaluate``) and is never offered as a tool.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "DONE_TOOL": "engine.adapters.openai_tools",
    "apply_tool_calls": "engine.adapters.openai_tools",
    "agent_tools": "engine.adapters.openai_tools",
    "Episode": "engine.adapters.episode",
    "ScriptedUser": "engine.adapters.usersim",
    "StopContract": "engine.adapters.usersim",
    "GoldPolicy": "engine.adapters.policies",
    "RandomPolicy": "engine.adapters.policies",
    "OpenAIPolicy": "engine.adapters.llm",
    "OpenAIUser": "engine.adapters.llm",
    "environment_factory": "engine.adapters.trl_env",
    "environment_factories": "engine.adapters.trl_env",
    "ScaleEnvGym": "engine.adapters.gym_env",
    "MCPWorld": "engine.adapters.mcp_server",
    "ScaleEnvEnvironment": "engine.adapters.openenv_env",
    "ScaleEnvTaskset": "engine.adapters.verifiers_env",
    "export_sft": "engine.adapters.datasets",
    "export_rl": "engine.adapters.datasets",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'engine.adapters' has no attribute {name!r}")
    return getattr(import_module(module), name)
