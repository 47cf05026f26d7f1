"""The main job: build the curated worlds with tasks, then play one episode in each.

The episode is scripted (the gold actions stand in for an agent) next to an empty one, so a
reader sees the whole loop — reset to the task's start state, tool calls, state-diff
reward — without an LLM. Training adapters and a user simulator plug in at the same place.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from engine.world import World
from synth.build import build_world
from synth.resources import domains_dir

FIXTURES = domains_dir()
CURATED = ("airline", "retail", "bank")


@dataclass
class EpisodeResult:
    domain: str
    task_id: str
    calls: int
    gold_reward: float
    empty_reward: float
    explanation: list[str]


def play_episode(world: World, task_index: int = 0) -> EpisodeResult:
    """Replay a task's gold actions as the agent, evaluate, and evaluate an empty episode."""
    task = world.tasks[task_index]
    s = world.session()
    s.reset(task)
    messages: list[str] = []
    for action in task.gold_actions:
        r = s.call(action.tool, action.args)
        messages.append(f"{action.tool}: {r.result if r.ok else r.message}")
    messages.extend(task.required_answers)  # what a good agent would say to the user
    gold = s.evaluate(task, messages=messages)
    s.reset(task)
    empty = s.evaluate(task, messages=[])
    return EpisodeResult(
        world.spec.name,
        task.id,
        len(task.gold_actions),
        gold.reward,
        empty.reward,
        gold.explanation,
    )


def run_demo(
    out: str | Path = "worlds",
    *,
    domains: tuple[str, ...] = CURATED,
    seed: int = 1,
    rows: int | None = 5000,
    tasks: int = 20,
    console: Console | None = None,
) -> list[EpisodeResult]:
    """Build one world per domain under ``out`` and play an episode in each."""
    console = console or Console()
    table = Table("domain", "rows", "tools", "quarantined", "tasks", "build s", "gold", "empty")
    results: list[EpisodeResult] = []
    for name in domains:
        t0 = time.perf_counter()
        res = build_world(
            FIXTURES / f"{name}.yaml",
            seed=seed,
            rows=rows,
            out=Path(out) / f"{name}-{seed}",
            tasks=tasks,
        )
        built = time.perf_counter() - t0
        world = World.load(res.path)
        quarantined = sum(1 for t in world.spec.tools.values() if t.quarantined)
        ep = play_episode(world)
        results.append(ep)
        table.add_row(
            name,
            str(sum(world.row_counts.values())),
            str(len(world.spec.tools)),
            str(quarantined),
            str(len(world.tasks)),
            f"{built:.1f}",
            f"{ep.gold_reward:.2f}",
            f"{ep.empty_reward:.2f}",
        )
    console.print(table)
    console.print(
        "gold: reward of an episode replaying the task's gold actions; empty: of doing nothing"
    )
    first = results[0]
    world = World.load(Path(out) / f"{first.domain}-{seed}")
    task = world.task(first.task_id)
    console.print(f"[bold]{escape(task.id)}[/bold] ({task.difficulty}): {escape(task.instruction)}")
    for a in task.gold_actions:
        console.print(escape(f"  → {a.tool}({a.args})"))  # data: printed as written
    return results
