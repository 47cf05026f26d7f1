"""Trajectory files (Parquet or JSONL) as two tables: one row per episode, one per step.

The rollout runner writes one row per sampled episode with at least ``world`` and
``task_id``; ``sample``, ``reward``, ``passed``, ``difficulty`` and ``steps`` (or
``steps_json``: a JSON array, or a list of structs, of ``tool``, ``args``, ``ok``,
``error_type``) are used when present.
Other columns (policy, model, timing ...) are kept as they are.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from engine.errors import ScaleEnvError

STEPS = pa.schema(
    [
        ("world", pa.string()),
        ("task_id", pa.string()),
        ("sample", pa.int64()),
        ("step", pa.int64()),
        ("tool", pa.string()),
        ("ok", pa.bool_()),
        ("error_type", pa.string()),
        ("args", pa.string()),
    ]
)
CORE = pa.schema(
    [
        ("world", pa.string()),
        ("task_id", pa.string()),
        ("sample", pa.int64()),
        ("reward", pa.float64()),
        ("passed", pa.bool_()),
        ("difficulty", pa.string()),
        ("n_steps", pa.int64()),
        ("file", pa.string()),
    ]
)
SUFFIXES = (".parquet", ".jsonl")


def find_trajectory_files(paths: Iterable[str | Path]) -> list[Path]:
    """Trajectory files named directly or found below named directories, sorted."""
    files: set[Path] = set()
    for p in map(Path, paths):
        if p.is_dir():
            found = {f for f in p.rglob("*") if f.suffix in SUFFIXES and f.is_file()}
            # the rollout runner writes the same episodes as JSONL and Parquet: read one
            files.update(
                f for f in found if f.suffix == ".parquet" or f.with_suffix(".parquet") not in found
            )
        elif p.is_file():
            files.add(p)
        else:
            raise ScaleEnvError(f"{p}: no such trajectory file or directory")
    return sorted(files)


def _read(path: Path) -> list[dict[str, Any]]:
    try:
        if path.suffix == ".jsonl":
            lines = path.read_text(encoding="utf-8").splitlines()
            return [json.loads(line) for line in lines if line.strip()]
        return pq.read_table(path).to_pylist()
    except (OSError, ValueError, pa.ArrowException) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ScaleEnvError(f"{path}: unreadable trajectory file ({first})") from exc


def _steps(value: Any, where: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, str | bytes):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise ScaleEnvError(f"{where}: steps is not a JSON array ({exc})") from exc
    if not isinstance(value, list) or not all(isinstance(s, dict) for s in value):
        raise ScaleEnvError(f"{where}: steps must be a list of objects")
    return value


def _args_text(args: Any) -> str | None:
    if args is None:
        return None
    return args if isinstance(args, str) else json.dumps(args, sort_keys=True, default=str)


def load_trajectories(paths: Iterable[str | Path]) -> tuple[pa.Table, pa.Table]:
    """(episodes, steps) from trajectory files; both empty (with columns) when none."""
    episodes: list[dict[str, Any]] = []
    extras: dict[str, None] = {}
    steps: list[dict[str, Any]] = []
    for path in find_trajectory_files(paths):
        for i, row in enumerate(_read(path)):
            where = f"{path}:{i + 1}"
            if row.get("world") is None or row.get("task_id") is None:
                raise ScaleEnvError(f"{where}: a trajectory needs world and task_id")
            sample = row.get("sample")
            sample = int(sample) if sample is not None else 0
            raw = row.get("steps")
            row_steps = _steps(row.get("steps_json") if raw is None else raw, where)
            reward = row.get("reward")
            passed = row.get("passed")
            if passed is None and reward is not None:
                passed = float(reward) >= 1.0
            ep = {
                "world": str(row["world"]),
                "task_id": str(row["task_id"]),
                "sample": sample,
                "reward": None if reward is None else float(reward),
                "passed": None if passed is None else bool(passed),
                "difficulty": row.get("difficulty"),
                "n_steps": len(row_steps),
                "file": str(path),
            }
            for k, v in row.items():
                skip = k in ("steps", "messages") or k.endswith("_json")
                if k not in ep and not skip and not isinstance(v, dict | list):
                    ep[k] = v
                    extras.setdefault(k)
            episodes.append(ep)
            for j, s in enumerate(row_steps):
                steps.append(
                    {
                        "world": ep["world"],
                        "task_id": ep["task_id"],
                        "sample": sample,
                        "step": j,
                        "tool": s.get("tool"),
                        "ok": None if s.get("ok") is None else bool(s.get("ok")),
                        "error_type": s.get("error_type"),
                        "args": _args_text(s.get("args")),
                    }
                )
    try:
        table = pa.Table.from_pylist(episodes)
        table = table.select(CORE.names + list(extras)) if episodes else CORE.empty_table()
        table = table.cast(pa.schema([*CORE, *(table.schema.field(k) for k in extras)]))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        # extra columns of mixed types across files: keep the core columns only
        table = pa.Table.from_pylist([{k: e[k] for k in CORE.names} for e in episodes], schema=CORE)
    return table, pa.Table.from_pylist(steps, schema=STEPS)
