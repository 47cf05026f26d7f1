"""Tasks: a start state, a toolset, a user, and a rubric checked by state diff + answers.

One row-change type serves both the start-state patch (base -> start) and the gold diff
(start -> gold final): ``before`` None is an insert, ``after`` None a delete.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.errors import TaskError


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RowChange(_Model):
    table: str
    key: dict[str, Any]  # primary-key values that address the row
    before: dict[str, Any] | None = None  # full row before; None: inserted
    after: dict[str, Any] | None = None  # full row after; None: deleted

    @property
    def kind(self) -> str:
        if self.before is None:
            return "insert"
        return "delete" if self.after is None else "update"


class Action(_Model):
    tool: str
    args: dict[str, Any] = Field(default_factory=dict)


class UserProfile(_Model):
    name: str
    known: dict[str, Any] = Field(default_factory=dict)  # facts the user can tell the agent
    persona: str = ""


class Task(_Model):
    id: str
    domain: str
    instruction: str  # what the simulated user wants, in words, grounded in the gold chain
    user: UserProfile
    start_patch: list[RowChange] = Field(default_factory=list)  # base -> start state
    distractors: int = 0  # how many of the patch rows are near-miss distractors
    toolset: list[str]  # tools offered to the agent
    gold_actions: list[Action]
    gold_diff: list[RowChange] = Field(default_factory=list)  # start -> gold final state
    required_answers: list[str] = Field(default_factory=list)  # the agent must state these
    order_matters: bool = False
    difficulty: str = "easy"
    complexity: float = 0.0
    chain: list[str] = Field(default_factory=list)  # the seed chain's path on the graph
    subgoals: list[dict[str, Any]] = Field(default_factory=list)  # kind + description each
    meta: dict[str, Any] = Field(default_factory=dict)


def read_tasks(path: str | Path) -> list[Task]:
    """Read ``tasks.jsonl``; a bad line raises with its line number."""
    tasks: list[Task] = []
    with open(path, "rb") as fh:
        for i, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
                if line.strip():
                    tasks.append(Task.model_validate_json(line))
            except (ValueError, RecursionError) as exc:  # bad UTF-8, JSON or task fields
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise TaskError(f"{path}:{i}: not a valid task: {first}") from exc
    return tasks


def dump_tasks(tasks: list[Task]) -> str:
    """Canonical JSONL text (sorted keys): the same tasks give the same bytes."""
    return "".join(
        json.dumps(t.model_dump(mode="json"), sort_keys=True, ensure_ascii=False) + "\n"
        for t in tasks
    )
