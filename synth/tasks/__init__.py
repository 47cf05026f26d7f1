"""Task instantiation: seeded sampling of verified tasks from a world and its tool graph.

``generate_tasks(world, n, seed)`` runs the paper's steps with a seeded sampler: a seed chain
that really executes, a start state with near-miss distractor rows, a toolset grown by
dependency-aware BFS, more sub-goals (writes, conditionals, questions, refusals), a user and
an instruction rendered from templates, and executable verification that rejects a task
for any broken rule. ``verify_task`` and ``quality_report`` work on any task list.
"""

from __future__ import annotations

from synth.tasks.generate import TaskSet, generate_tasks
from synth.tasks.quality import quality_report
from synth.tasks.verify import verify_task

__all__ = ["TaskSet", "generate_tasks", "quality_report", "verify_task"]
