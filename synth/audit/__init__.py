"""An independent task auditor: re-checks shipped tasks with none of the sampler's code.

``audit_task(world, task)`` lists a task's problems (empty: sound); ``audit_tasks`` counts
them per check. The auditor reads only the engine's public API and the spec models, so
a bug in ``synth.tasks`` cannot vouch for itself.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from engine import Session, Task, World
from synth.audit.checks import (
    check_audience,
    check_grounding,
    check_mentions,
    check_outcome,
    check_ownership,
    check_refusals,
    task_user,
)
from synth.audit.schema import AuditSchema

__all__ = ["AuditSchema", "Auditor", "audit_task", "audit_tasks", "CHECKS"]

CHECKS = ("user", "audience", "ownership", "refusal", "grounding", "unique", "outcome")


class Auditor:
    """One world's auditor: its schema reading and a scratch session (its own, or one it is
    lent: every audit enters its task by ``reset``, so a caller's scratch session serves)."""

    def __init__(self, world: World, session: Session | None = None) -> None:
        self.world = world
        self.schema = AuditSchema(world.spec)
        self._own = session is None
        self.s: Session = world.session() if session is None else session

    def audit(self, task: Task) -> list[str]:
        """Every problem of ``task`` (codes before ':' are the CHECKS names)."""
        s, sch = self.s, self.schema
        s.reset(task)
        s.guard.internal()
        conn = s.conn  # the start state, read in place (a snapshot copy was O(world) per task)
        user, out = task_user(sch, conn, task)
        out += check_audience(sch, task)
        if user is not None:
            mentions = check_mentions(sch, conn, task, user)  # before the gold moves the state
            out += check_ownership(sch, s, task, user)
            out += mentions
        out += check_refusals(sch, s, task)
        out += check_grounding(sch, s, task)
        out += check_outcome(s, task)
        return out

    def close(self) -> None:
        if self._own:
            self.s.close()


def audit_task(world: World, task: Task) -> list[str]:
    a = Auditor(world)
    try:
        return a.audit(task)
    finally:
        a.close()


def audit_tasks(world: World, tasks: list[Task]) -> dict[str, Any]:
    """Counts per check (tasks with at least one problem of that kind) and the rejected ids."""
    a = Auditor(world)
    per: Counter = Counter()
    rejected: dict[str, list[str]] = {}
    try:
        for t in tasks:
            problems = a.audit(t)
            if problems:
                rejected[t.id] = problems
                for code in sorted({p.split(":", 1)[0] for p in problems}):
                    per[code] += 1
    finally:
        a.close()
    return {
        "tasks": len(tasks),
        "passed": len(tasks) - len(rejected),
        "failed_by_check": {c: per.get(c, 0) for c in CHECKS},
        "rejected": rejected,
    }
