"""Errors with one line that says what went wrong and where.

One hierarchy: every error a public function raises on bad input is a ``ScaleEnvError``, so a
caller (the CLI, a trainer) catches one class. The runtime's own errors live here (spec, world,
task); each ``synth`` package defines its errors next to the code that raises them
(``synth.seed.values.SeedError``, ``synth.migrate.revisions.MigrationError``,
``synth.resources.UnknownDomainError``, ...). A failed tool *call* is not an exception: it is a
``ToolResult`` whose ``error_type`` is an ``engine.runtime.call.ErrorType``.
"""

from __future__ import annotations

MAX_MESSAGE = 300  # characters: an error is read on one terminal line, not scrolled


def one_line(text: object, limit: int = MAX_MESSAGE) -> str:
    """``text`` with its whitespace collapsed, cut to ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


class ScaleEnvError(Exception):
    """Base class: ``str(err)`` is a single line fit for a CLI."""

    def __str__(self) -> str:
        return one_line(self.args[0]) if self.args else type(self).__name__


class SpecError(ScaleEnvError):
    """A domain spec is invalid. ``errors`` lists (field path, message) pairs."""

    def __init__(self, errors: list[tuple[str, str]], source: str = "spec") -> None:
        self.errors = errors
        self.source = source
        first = "; ".join(f"{p}: {m}" for p, m in errors[:5])
        more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"{source}: {len(errors)} error(s): {first}{more}")


class WorldError(ScaleEnvError):
    """A world directory is missing, tampered with, truncated or inconsistent."""


class TaskError(ScaleEnvError):
    """A task is malformed or does not verify."""


class UnknownNameError(ScaleEnvError, KeyError):
    """A name (task id, tool, domain) that is not there. Also a ``KeyError`` for callers that
    treat the owner as a mapping; unlike ``KeyError`` its text is not quoted."""
