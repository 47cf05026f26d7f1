"""Rollout throughput: episodes/s of the scripted gold agent with the scripted user, through
``synth.rollout`` (1 and 2 worker processes), against a tau2-bench-style episode.

Run: ``python benchmarks/bench_rollout.py`` (about a minute). The comparison is on a
tiny_shop world (the one world the baseline of ``tau2_baseline.py`` models), 20 tasks of
``bench_session.make_task`` (cancel a pending order, note it on the profile, state the
total). A baseline episode does what tau2-bench does per episode: load the JSON database
into pydantic models and apply the task's start state, run the same scripted agent/user turns
with tools as Python methods, then evaluate by replaying the gold actions and the agent's
on two fresh copies and comparing hashes of ``model_dump_json``. Its start JSON is computed
once per task (in its favour). Both sides run in the same number of processes. The curated
fixtures (airline, retail, bank) are then timed on our side alone (no baseline models them).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_session import SPEC_PATH, make_task, patch_baseline, seeded_db, table_rows  # noqa: E402
from tau2_baseline import BaselineEnv, baseline_evaluate, baseline_json  # noqa: E402

from engine import Action, World  # noqa: E402
from engine.adapters.policies import GoldPolicy  # noqa: E402
from engine.adapters.usersim import ScriptedUser  # noqa: E402
from engine.spec.validate import load_spec  # noqa: E402
from engine.world import write_world  # noqa: E402
from synth.rollout import run_rollouts  # noqa: E402

_BASE: dict[str, object] = {}


def tiny_world(out: Path, rows: int, n_tasks: int) -> tuple[Path, str]:
    """A tiny_shop world directory with ``n_tasks`` bench tasks; and the baseline's JSON."""
    spec = load_spec(SPEC_PATH)
    db, _ = seeded_db(spec, rows)
    world = World.from_parts(spec, db)
    rng = random.Random(5)
    tasks, seen = [], set()
    while len(tasks) < n_tasks:
        t = make_task(world, rng)
        order = t.gold_actions[0].args["order_id"]
        if order in seen:
            continue
        seen.add(order)
        tasks.append(t.model_copy(update={"id": f"bench-{len(tasks):03d}"}))
    files = {
        "spec.yaml": spec.to_yaml().encode(),
        "world.sqlite": db,
        "tasks.jsonl": "".join(t.model_dump_json() + "\n" for t in tasks).encode(),
    }
    path = write_world(out / "tiny_shop", files, {"domain": spec.name, "seed": 1})
    return path, baseline_json(table_rows(db, spec))


# ---- the baseline episode --------------------------------------------------------------------
def _baseline_init(world_dir: str, db_json: str) -> None:
    world = World.load(world_dir)
    starts = {}
    for t in world.tasks:
        env = BaselineEnv(db_json)
        patch_baseline(env, t)
        starts[t.id] = env.db.model_dump_json()
    _BASE.update(world=world, starts=starts)


def baseline_episode(task_id: str) -> bool:
    world, starts = _BASE["world"], _BASE["starts"]
    task = world.task(task_id)  # type: ignore[attr-defined]
    start = starts[task_id]  # type: ignore[index]
    env = BaselineEnv(start)  # reset: parse the JSON database
    agent, user = GoldPolicy(task, world.spec), ScriptedUser(task)  # type: ignore[attr-defined]
    actions = []
    messages = [{"role": "user", "content": user.opening()}]
    for _ in range(30):
        msg = agent.act(messages)
        messages.append(msg)
        calls = msg.get("tool_calls") or []
        if any(c["function"]["name"] == "done" for c in calls):
            break
        if calls:
            for c in calls:
                a = Action(tool=c["function"]["name"], args=json.loads(c["function"]["arguments"]))
                actions.append(a)
                messages.append({"role": "tool", "content": env.call(a.tool, a.args)})
        else:
            allowed = "goal_met" if len(actions) == len(task.gold_actions) else None
            turn = user.reply(msg["content"], allowed)  # the user's check costs it nothing
            if turn.stop:
                break
            messages.append({"role": "user", "content": turn.text})
    return baseline_evaluate(start, task.gold_actions, actions)


def baseline_chunk(task_ids: list[str]) -> int:
    return sum(baseline_episode(t) for t in task_ids)


def run_baseline(world_dir: Path, db_json: str, k: int, workers: int) -> tuple[float, int]:
    world = World.load(world_dir)
    jobs = [[t.id] * k for t in world.tasks]
    t0 = time.perf_counter()
    if workers == 1:
        _baseline_init(str(world_dir), db_json)
        passed = sum(baseline_chunk(j) for j in jobs)
    else:
        with ProcessPoolExecutor(
            workers, initializer=_baseline_init, initargs=(str(world_dir), db_json)
        ) as pool:
            passed = sum(pool.map(baseline_chunk, jobs))
    return time.perf_counter() - t0, passed


def run_ours(world_dir: Path, k: int, workers: int) -> tuple[float, int, int]:
    t0 = time.perf_counter()
    res = run_rollouts(world_dir, policy="scripted:gold", user="scripted", k=k, workers=workers)
    took = time.perf_counter() - t0
    return took, sum(r["passed"] for r in res.records), len(res.records)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000, help="rows of the tiny_shop world")
    ap.add_argument("--tasks", type=int, default=20)
    ap.add_argument("--k", type=int, default=25, help="samples per task (ours)")
    ap.add_argument("--base-k", type=int, default=2, help="samples per task (baseline)")
    ap.add_argument("--curated-rows", type=int, default=5000)
    ap.add_argument("--curated-tasks", type=int, default=20)
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tiny, db_json = tiny_world(Path(tmp), a.rows, a.tasks)
        print(f"tiny_shop, {a.rows} rows, {a.tasks} tasks (gold agent + scripted user)")
        print(f"{'workers':>7} {'ours ep/s':>10} {'tau2-style ep/s':>16} {'ratio':>8}")
        for workers in (1, 2):
            took, passed, n = run_ours(tiny, a.k, workers)
            assert passed == n, f"gold passed {passed}/{n}"
            btook, bpassed = run_baseline(tiny, db_json, a.base_k, workers)
            bn = a.tasks * a.base_k
            assert bpassed == bn, f"baseline gold passed {bpassed}/{bn}"
            ours, base = n / took, bn / btook
            print(f"{workers:>7} {ours:>10.1f} {base:>16.1f} {ours / base:>7.1f}x")
        from synth.build import build_world

        print(
            f"\ncurated fixtures, {a.curated_rows} rows, {a.curated_tasks} tasks, k={a.k} (ours only)"
        )
        print(f"{'domain':>8} {'1 worker ep/s':>14} {'2 workers ep/s':>15} {'gold pass':>10}")
        for d in ("airline", "retail", "bank"):
            out = Path(tmp) / d
            build_world(ROOT / "fixtures" / "domains" / f"{d}.yaml", seed=1, rows=a.curated_rows,
                        out=out, tasks=a.curated_tasks, proctest=False)  # fmt: skip
            rates, ok = [], True
            for workers in (1, 2):
                took, passed, n = run_ours(out, a.k, workers)
                rates.append(n / took)
                ok = ok and passed == n
            print(f"{d:>8} {rates[0]:>14.1f} {rates[1]:>15.1f} {'100%' if ok else 'FAIL':>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
