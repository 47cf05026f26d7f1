"""scaleenv runtime: load worlds, run sessions, evaluate tasks. Never imports ``synth``.

Names are resolved lazily so ``import engine`` stays cheap for training code; the
``TYPE_CHECKING`` imports let type checkers and editors see the real classes.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.errors import ScaleEnvError, SpecError, TaskError, WorldError
    from engine.reward.evaluate import Score
    from engine.runtime.call import ErrorType, ToolResult
    from engine.session import Session
    from engine.spec.models import DomainSpec
    from engine.spec.task import Action, RowChange, Task
    from engine.spec.validate import load_spec, validate_spec
    from engine.world import World

_EXPORTS = {
    "DomainSpec": "engine.spec.models",
    "load_spec": "engine.spec.validate",
    "validate_spec": "engine.spec.validate",
    "World": "engine.world",
    "Session": "engine.session",
    "ToolResult": "engine.runtime.call",
    "ErrorType": "engine.runtime.call",
    "Score": "engine.reward.evaluate",
    "Task": "engine.spec.task",
    "RowChange": "engine.spec.task",
    "Action": "engine.spec.task",
    "ScaleEnvError": "engine.errors",
    "SpecError": "engine.errors",
    "WorldError": "engine.errors",
    "TaskError": "engine.errors",
}

__all__ = [
    "Action",
    "DomainSpec",
    "ErrorType",
    "RowChange",
    "ScaleEnvError",
    "Score",
    "Session",
    "SpecError",
    "Task",
    "TaskError",
    "ToolResult",
    "World",
    "WorldError",
    "load_spec",
    "validate_spec",
]  # the same names as _EXPORTS (checked by tests/synth/test_cli_errors.py)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    return getattr(import_module(module), name)
