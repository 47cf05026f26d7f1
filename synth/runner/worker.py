"""Build one world in a worker: spec -> world -> procedural tests -> graph -> tasks.

The worker returns the world's files and its catalog record instead of writing them, so the
driver writes every world atomically in one place (no shared file system needed on a Ray
cluster) and can check a finished world's manifest when a run is resumed. Any failure
becomes a record with a one-line reason; nothing escapes to stop the run.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from engine.world import table_counts
from synth.build import build_world
from synth.graph import build_graph
from synth.runner.fingerprint import features, fingerprint, foreign_keys, tool_kind
from synth.runner.sources import WorkItem, load_source


class WorldTimeout(Exception):
    """A world took longer than the runner's per-world limit."""


def job_key(job: dict[str, Any]) -> dict[str, Any]:
    """What identifies a build: equal keys give byte-identical worlds (timeout excluded)."""
    return {k: job[k] for k in ("source", "options", "item", "rows", "tasks")}


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    msg = text[0] if text else ""
    out = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
    return out[:300]


@contextmanager
def _deadline(seconds: float | None) -> Iterator[None]:
    """Raise WorldTimeout after ``seconds`` (SIGALRM; only where this is the main thread)."""
    usable = seconds and hasattr(signal, "SIGALRM")
    usable = usable and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def _fire(signum: int, frame: Any) -> None:
        raise WorldTimeout(f"world took longer than {seconds:g}s")

    old = signal.signal(signal.SIGALRM, _fire)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def build_item(job: dict[str, Any]) -> dict[str, Any]:
    """Build the world of ``job``; returns {record, files, meta, seconds} (files None on failure)."""
    t0 = time.perf_counter()
    item = WorkItem.from_dict(job["item"])
    record: dict[str, Any] = {
        "id": item.id,
        "index": item.index,
        "name": item.name,
        "source": job["source"],
        "seed": item.seed,
        "spec_seed": item.params.get("spec_seed"),
        "status": "failed",
        "reason": "",
    }
    stage = "source"
    try:
        with _deadline(job.get("timeout")):
            source = load_source(job["ref"], **job["options"])
            stage = "spec"
            spec = source.spec(item)
            info = source.describe(item, spec)
            record["sector"] = str(info.get("sector", ""))
            record["mechanisms"] = sorted(info.get("mechanisms") or [])
            stage = "build"
            rows = job["rows"] if job["rows"] is not None else item.rows
            record["rows_target"] = rows
            res = build_world(spec, seed=item.seed, rows=rows, tasks=job["tasks"])
            stage = "stats"
            record.update(_stats(spec.digest(), res, record["mechanisms"]))
            record["status"] = "ok"
    except Exception as exc:  # noqa: BLE001 - every failure is recorded, never raised
        record["reason"] = f"{stage}: {one_line(exc)}"
        return {"record": record, "files": None, "meta": None, "seconds": _secs(t0)}
    meta = dict(res.meta)
    meta["synth"] = {"job": job_key(job), "record": record}
    return {"record": record, "files": res.files, "meta": meta, "seconds": _secs(t0)}


def _secs(t0: float) -> float:
    return round(time.perf_counter() - t0, 3)


def _stats(spec_sha: str, res: Any, mechanisms: list[str]) -> dict[str, Any]:
    """The catalog columns of a built world (deterministic: no timings)."""
    spec = res.spec
    graph_text = res.files.get("graph.json")
    if graph_text is not None:
        edges = len(json.loads(graph_text).get("edges", []))
    else:
        edges = build_graph(spec).number_of_edges()
    quarantined = sorted(n for n, t in spec.tools.items() if t.quarantined)
    kinds = [tool_kind(t) for t in spec.active_tools().values()]
    tasks = res.reports.get("tasks")
    policies = tasks.report.get("policies", {}) if tasks is not None else {}
    feats = features(spec, mechanisms=mechanisms, edges=edges)
    return {
        "spec_sha256": spec_sha,
        "tables": len(spec.entities),
        "table_names": sorted(spec.entities),
        "columns": sum(len(e.columns) for e in spec.entities.values()),
        "foreign_keys": len(foreign_keys(spec)),
        "invariants": len(spec.invariants),
        "policy_rules": len(spec.policy_rules),
        "tools": len(spec.tools),
        "tools_read": sum(k == "read" for k in kinds),
        "tools_write": sum(k != "read" for k in kinds),
        "quarantined": len(quarantined),
        "quarantined_tools": quarantined,
        "edges": edges,
        "graph_density": feats["graph_density"],
        "tasks": len(tasks.tasks) if tasks is not None else 0,
        "gold": round(float(policies.get("gold", 0.0)), 4),
        "empty": round(float(policies.get("empty", 0.0)), 4),
        "rows": sum(table_counts(res.db_bytes).values()),
        "fingerprint": fingerprint(feats),
    }
