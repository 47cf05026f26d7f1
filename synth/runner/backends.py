"""Where jobs run: in this process, a spawn process pool, or Ray (local or a cluster).

Every backend yields ``(job, outcome)`` as builds finish, in completion order; the driver
sorts. Outcomes are plain data made by :func:`synth.runner.worker.build_item`, so the
backend never changes a byte of a world, only where and when it is built.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from engine import ScaleEnvError
from synth.runner.worker import build_item, one_line

Job = dict[str, Any]
Outcome = dict[str, Any]
BACKENDS = ("process", "ray", "inline")
POOL_RESTARTS = 3  # a pool whose worker died is rebuilt this often before giving up
TASKS_PER_CHILD = 25  # jobs per worker before its pool is replaced by a fresh one


def crashed(job: Job, reason: str) -> Outcome:
    """The outcome of a job whose worker died before it could answer."""
    item = job["item"]
    record = {
        "id": item["id"],
        "index": item["index"],
        "name": item["name"],
        "source": job["source"],
        "seed": item["seed"],
        "spec_seed": item["params"].get("spec_seed"),
        "status": "failed",
        "reason": f"worker: {reason}"[:300],
    }
    return {"record": record, "files": None, "meta": None, "seconds": 0.0}


def run_inline(jobs: list[Job]) -> Iterator[tuple[Job, Outcome]]:
    for job in jobs:
        yield job, build_item(job)


def run_process(jobs: list[Job], workers: int) -> Iterator[tuple[Job, Outcome]]:
    """Spawn process pools, a fresh one every ``workers * TASKS_PER_CHILD`` jobs.

    Fresh pools bound the workers' memory over thousands of worlds; CPython 3.11's own
    ``max_tasks_per_child`` is not used because a pool whose worker retires can hang.
    """
    chunk = max(1, workers * TASKS_PER_CHILD)
    for start in range(0, len(jobs), chunk):
        yield from _run_pool(jobs[start : start + chunk], workers)


def _run_pool(jobs: list[Job], workers: int) -> Iterator[tuple[Job, Outcome]]:
    """One spawn pool; a pool broken by a dying worker is rebuilt for what is left."""
    todo = list(jobs)
    for attempt in range(POOL_RESTARTS + 1):
        if not todo:
            return
        broken: list[Job] = []
        ctx = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=ctx)
        try:
            futures: dict[Future, Job] = {pool.submit(build_item, j): j for j in todo}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in sorted(done, key=lambda f: futures[f]["item"]["index"]):
                    job = futures[fut]
                    try:
                        yield job, fut.result()
                    except BrokenProcessPool:
                        broken.append(job)
                    except Exception as exc:  # noqa: BLE001 - pickling and the like
                        yield job, crashed(job, one_line(exc))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        todo = sorted(broken, key=lambda j: j["item"]["index"])
        if todo and attempt == POOL_RESTARTS:
            for job in todo:
                yield job, crashed(job, "the worker process died (killed or out of memory)")


def init_ray(workers: int, address: str | None) -> bool:
    """Join ``address`` (or $RAY_ADDRESS), else start a private local Ray with ``workers``
    CPUs, no dashboard and no usage stats; True when we started it (and so stop it)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ImportError:
        raise ScaleEnvError(
            "--backend ray needs the 'ray' extra: pip install 'scaleenv[ray]'"
        ) from None
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, log_to_driver=False)
        return False
    ray.init(
        num_cpus=workers,
        include_dashboard=False,
        log_to_driver=False,
        logging_level="ERROR",
        runtime_env={"env_vars": {"RAY_USAGE_STATS_ENABLED": "0"}},
    )
    return True


def run_ray(jobs: list[Job], workers: int, address: str | None) -> Iterator[tuple[Job, Outcome]]:
    """Ray tasks, one CPU each; a task whose worker died becomes a failed record."""
    import ray

    started = init_ray(workers, address)
    try:
        remote = ray.remote(num_cpus=1, max_retries=1)(build_item)
        refs = {remote.remote(job): job for job in jobs}
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                job = refs[ref]
                try:
                    yield job, ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - crashed or unpicklable task
                    yield job, crashed(job, one_line(exc))
    finally:
        if started:
            ray.shutdown()


def run_jobs(
    jobs: list[Job], backend: str, workers: int, ray_address: str | None = None
) -> Iterator[tuple[Job, Outcome]]:
    """Run ``jobs`` on ``backend`` with ``workers`` processes (in completion order)."""
    if backend not in BACKENDS:
        raise ScaleEnvError(f"--backend {backend}: unknown (choose {', '.join(BACKENDS)})")
    if workers < 1:
        raise ScaleEnvError(f"--workers {workers}: must be at least 1")
    if backend == "inline":
        return run_inline(jobs)
    if backend == "ray":
        return run_ray(jobs, workers, ray_address)
    return run_process(jobs, workers)
