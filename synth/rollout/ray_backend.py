"""Optional Ray backend for rollouts: the same per-task jobs as remote tasks, results in
job order. Usage statistics and the dashboard stay off (offline, no open ports)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

from engine import ScaleEnvError


def run_ray(fn: Callable[[Any], Any], jobs: list[Any], workers: int) -> Iterator[Any]:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ImportError:
        raise ScaleEnvError("--backend ray needs ray: pip install 'ray[default]'") from None
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        remote = ray.remote(fn)
        refs = [remote.remote(job) for job in jobs]
        yield from ray.get(refs)
    finally:
        if started:
            ray.shutdown()
