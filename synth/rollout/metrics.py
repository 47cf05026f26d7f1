"""pass@1, pass@k (at least one of k samples passes) and pass^k (all k pass, tau-bench's
reliability measure), unbiased estimates from n >= k samples per task, grouped by world and
by difficulty; plus how often the user simulator asked to stop wrongly."""

from __future__ import annotations

from collections.abc import Iterable
from math import comb
from typing import Any


def pass_at_k(n: int, c: int, k: int) -> float:
    """Chance that at least one of k samples drawn from n (c passing) passes."""
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """Chance that all k samples drawn from n (c passing) pass."""
    return comb(c, k) / comb(n, k)


def _group(records: list[dict[str, Any]], k: int) -> dict[str, Any]:
    by_task: dict[tuple[str, str], list[bool]] = {}
    for r in records:
        by_task.setdefault((r["world"], r["task_id"]), []).append(bool(r["passed"]))
    tasks = len(by_task)
    if not tasks:
        return {"tasks": 0, "episodes": 0}
    p1 = sum(sum(v) / len(v) for v in by_task.values()) / tasks
    pk = sum(pass_at_k(len(v), sum(v), k) for v in by_task.values()) / tasks
    phk = sum(pass_hat_k(len(v), sum(v), k) for v in by_task.values()) / tasks
    n = len(records)
    return {
        "tasks": tasks,
        "episodes": n,
        "pass@1": round(p1, 4),
        f"pass@{k}": round(pk, 4),
        f"pass^{k}": round(phk, 4),
        "reward": round(sum(r["reward"] for r in records) / n, 4),
        "partial": round(sum(r["partial"] for r in records) / n, 4),
        "user_early_stops": round(sum(r["user_early_stops"] > 0 for r in records) / n, 4),
        "user_missed_stops": round(sum(r["user_missed_stops"] > 0 for r in records) / n, 4),
    }


def _by(records: Iterable[dict[str, Any]], field: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        out.setdefault(str(r[field]), []).append(r)
    return dict(sorted(out.items()))


def summarize(records: list[dict[str, Any]], k: int) -> dict[str, Any]:
    """Metrics overall, per world and per difficulty (user stop rates are shares of
    episodes where the simulator asked to stop before the contract allowed / did not stop
    when it allowed)."""
    return {
        "k": k,
        "all": _group(records, k),
        "worlds": {w: _group(rs, k) for w, rs in _by(records, "world").items()},
        "difficulty": {d: _group(rs, k) for d, rs in _by(records, "difficulty").items()},
    }
