"""Reference trajectories from scripted policies, run through real sessions.

Before any agent has run, a user can still see the rollout views filled: the gold policy
(the ceiling), the gold actions without the last one, the gold actions with a corrupted
first argument (a real failing call with a real error type) and the empty trajectory (the
floor). The rows have the columns the rollout runner writes, so the same notebook reads
both; tests use them because they come from the engine, not from a hand-made table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from engine import Action, Task, World

POLICIES = ("gold", "truncated", "bad_first_arg", "empty")
BAD_VALUE = "__no_such_value__"


def _actions(task: Task, policy: str) -> list[Action]:
    gold = list(task.gold_actions)
    if policy == "gold":
        return gold
    if policy == "truncated":
        return gold[:-1]
    if policy == "bad_first_arg" and gold:
        first = gold[0]
        args = dict(first.args)
        if args:
            args[sorted(args)[0]] = BAD_VALUE
        return [Action(tool=first.tool, args=args), *gold[1:]]
    return []


def scripted_rows(world: World, policies: Iterable[str] = POLICIES) -> list[dict[str, Any]]:
    """One trajectory row per (task, policy); ``sample`` is the policy's index."""
    rows = []
    session = world.session()
    try:
        for task in world.tasks:
            for sample, policy in enumerate(policies):
                session.reset(task)
                steps = []
                for action in _actions(task, policy):
                    r = session.call(action.tool, action.args)
                    steps.append(
                        {
                            "tool": action.tool,
                            "args": action.args,
                            "ok": r.ok,
                            "error_type": r.error_type,
                        }
                    )
                answers = list(task.required_answers) if policy == "gold" else []
                score = session.evaluate(task, messages=answers)
                rows.append(
                    {
                        "world": world.name,
                        "task_id": task.id,
                        "sample": sample,
                        "policy": policy,
                        "reward": float(score.reward),
                        "passed": bool(score.passed),
                        "difficulty": task.difficulty,
                        "steps": json.dumps(steps, sort_keys=True, default=str),
                    }
                )
    finally:
        session.close()
    return rows


def write_scripted_trajectories(world_dirs: Iterable[str | Path], out: str | Path) -> Path:
    """Run the scripted policies on every task of each world; write one Parquet file."""
    rows: list[dict[str, Any]] = []
    for d in world_dirs:
        rows += scripted_rows(World.load(d))
    schema = pa.schema(
        [
            ("world", pa.string()),
            ("task_id", pa.string()),
            ("sample", pa.int64()),
            ("policy", pa.string()),
            ("reward", pa.float64()),
            ("passed", pa.bool_()),
            ("difficulty", pa.string()),
            ("steps", pa.string()),
        ]
    )
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), tmp)
    tmp.replace(path)
    return path
