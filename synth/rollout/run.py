"""Run K episodes per task of every world in a folder, in a process pool, and collect the
trajectories in a deterministic order (world, task, sample) whatever the worker count.

Each worker loads a world once and reuses one session for all its episodes (a reset costs
microseconds). Policies and users are named by strings (``scripted:gold``, ``random``,
``openai:MODEL``; ``scripted``, ``openai:MODEL``) so jobs pickle as plain data. Every
episode's randomness comes from a seed derived from (seed, world, task, sample).
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import ScaleEnvError, World
from engine.adapters.episode import Episode
from engine.adapters.llm import OpenAIPolicy, OpenAIUser
from engine.adapters.policies import GoldPolicy, RandomPolicy
from engine.adapters.usersim import ScriptedUser
from synth.rollout.metrics import summarize
from synth.rollout.ray_backend import run_ray
from synth.rollout.write import write_rollouts

POLICIES = ("scripted:gold", "random", "openai:MODEL")
USERS = ("scripted", "openai:MODEL")
_WORLDS: dict[str, World] = {}  # per process: world path -> loaded world


@dataclass
class RolloutResult:
    records: list[dict[str, Any]]
    summary: dict[str, Any]
    paths: dict[str, Path] = field(default_factory=dict)


def find_worlds(root: str | Path) -> list[Path]:
    """``root`` itself when it is a world, else its sub-folders that are worlds (by name)."""
    p = Path(root)
    if not p.is_dir():
        raise ScaleEnvError(f"{p}: no such folder of worlds")
    if (p / "manifest.json").is_file():
        return [p]
    found = sorted(d for d in p.iterdir() if (d / "manifest.json").is_file())
    if not found:
        raise ScaleEnvError(f"{p}: no world in it (no sub-folder with a manifest.json)")
    return found


def episode_seed(seed: int, world: str, task_id: str, sample: int) -> int:
    digest = hashlib.sha256(f"{seed}\x1f{world}\x1f{task_id}\x1f{sample}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def check_names(policy: str, user: str) -> None:
    """One clear line for a policy or user name that is not one of ours."""
    if policy not in ("scripted:gold", "gold", "random", "scripted:random") and not (
        policy.startswith("openai:") and len(policy) > 7
    ):
        raise ScaleEnvError(f"--policy {policy!r}: use one of {', '.join(POLICIES)}")
    if user != "scripted" and not (user.startswith("openai:") and len(user) > 7):
        raise ScaleEnvError(f"--user {user!r}: use one of {', '.join(USERS)}")


def make_policy(name: str, world: World, task: Any, seed: int) -> Any:
    if name in ("scripted:gold", "gold"):
        return GoldPolicy(task, world.spec)
    if name in ("random", "scripted:random"):
        return RandomPolicy(task, world.spec, seed)
    return OpenAIPolicy(name.split(":", 1)[1], seed=seed)


def make_user(name: str, task: Any, seed: int) -> Any:
    if name == "scripted":
        return ScriptedUser(task)
    return OpenAIUser(task, name.split(":", 1)[1], seed=seed)


def _world(path: str) -> World:
    w = _WORLDS.get(path)
    if w is None:
        w = _WORLDS[path] = World.load(path)
    return w


def run_task(job: tuple[str, str, int, str, str, int, int, bool]) -> list[dict[str, Any]]:
    """All samples of one task (a worker's unit of work)."""
    path, task_id, k, policy, user, seed, max_turns, timing = job
    world = _world(path)
    task = world.task(task_id)
    session = world.session()
    out = []
    try:
        for sample in range(k):
            eseed = episode_seed(seed, world.name, task_id, sample)
            t0 = time.perf_counter()
            ep = Episode(
                world, task, make_user(user, task, eseed), max_turns=max_turns, session=session
            )
            agent = make_policy(policy, world, task, eseed)
            if hasattr(agent, "bind"):
                agent.bind(ep)
            ep.start()
            while not ep.ended:
                ep.act(agent.act(ep.messages))
            rec = {"world": world.name, "sample": sample, "seed": eseed}
            rec.update(ep.record())
            rec.update({"policy": policy, "user": user})
            rec["elapsed_s"] = round(time.perf_counter() - t0, 6) if timing else None
            out.append(rec)
    finally:
        session.close()
    return out


def _jobs(
    worlds: list[Path], k: int, policy: str, user: str, seed: int, max_turns: int, timing: bool
) -> Iterator[tuple[str, str, int, str, str, int, int, bool]]:
    for path in worlds:
        world = _world(str(path))
        if not world.tasks:
            raise ScaleEnvError(f"{path}: the world has no tasks (build it with --tasks N)")
        for task in world.tasks:
            yield (str(path), task.id, k, policy, user, seed, max_turns, timing)


def run_rollouts(
    worlds: str | Path,
    *,
    policy: str = "scripted:gold",
    user: str = "scripted",
    k: int = 1,
    workers: int = 1,
    seed: int = 0,
    max_turns: int = 30,
    timing: bool = True,
    backend: str = "process",
    out: str | Path | None = None,
) -> RolloutResult:
    """K episodes per task of every world under ``worlds``; ``out`` gets the trajectories
    (``trajectories.jsonl``/``.parquet``) and ``summary.json``, written atomically."""
    check_names(policy, user)
    if k < 1 or workers < 1 or max_turns < 1:
        raise ScaleEnvError("--k, --workers and --max-turns must be at least 1")
    if backend not in ("process", "ray"):
        raise ScaleEnvError(f"--backend {backend!r}: use process or ray")
    paths = find_worlds(worlds)
    jobs = list(_jobs(paths, k, policy, user, seed, max_turns, timing))
    records: list[dict[str, Any]] = []
    if backend == "ray":
        for chunk in run_ray(run_task, jobs, workers):
            records += chunk
    elif workers == 1:
        for job in jobs:
            records += run_task(job)
    else:
        ctx = mp.get_context("fork" if os.name == "posix" else "spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            for chunk in pool.map(run_task, jobs, chunksize=max(1, len(jobs) // (4 * workers))):
                records += chunk
    result = RolloutResult(records, summarize(records, k))
    if out is not None:
        result.paths = write_rollouts(out, records, result.summary)
    return result
