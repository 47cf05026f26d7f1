"""scaleenv runtime: load worlds, run sessions, evaluate tasks. Never imports ``synth``.

Names are resolved lazily so ``import engine`` stays cheap for training code.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "DomainSpec": "engine.spec.models",
    "load_spec": "engine.spec.validate",
    "validate_spec": "engine.spec.validate",
    "World": "engine.world",
    "Session": "engine.session",
    "ToolResult": "engine.runtime.call",
    "Score": "engine.reward.evaluate",
    "Task": "engine.spec.task",
    "RowChange": "engine.spec.task",
    "Action": "engine.spec.task",
    "ScaleEnvError": "engine.errors",
    "SpecError": "engine.errors",
    "WorldError": "engine.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    return getattr(import_module(module), name)
