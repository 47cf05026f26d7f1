"""scaleenv runtime: load worlds, run sessions, evaluate tasks. Never imports ``synth``.

Names are resolved lazily so ``import engine`` stays cheap for training code.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "DomainSpec": "engine.spec",
    "load_spec": "engine.validate",
    "validate_spec": "engine.validate",
    "World": "engine.world",
    "Session": "engine.session",
    "ToolResult": "engine.runtime",
    "Score": "engine.evaluate",
    "Task": "engine.task",
    "RowChange": "engine.task",
    "Action": "engine.task",
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
