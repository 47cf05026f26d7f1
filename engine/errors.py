"""Errors with one line that says what went wrong and where."""

from __future__ import annotations


class ScaleEnvError(Exception):
    """Base class: ``str(err)`` is a single line fit for a CLI."""


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


class MigrationError(ScaleEnvError):
    """A spec change cannot be turned into a migration, or a migration failed."""


class TaskError(ScaleEnvError):
    """A task is malformed or does not verify."""
