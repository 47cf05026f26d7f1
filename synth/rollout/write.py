"""Trajectory files: JSONL (one episode per line, sorted keys) and Parquet (flat columns,
nested parts as JSON text), plus ``summary.json``. Written into a temporary sibling folder
and renamed into place, so a failed run leaves the old output or nothing."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from engine import ScaleEnvError
from engine.world import swap_in

SCALARS = (
    "world", "task_id", "sample", "seed", "domain", "difficulty", "policy", "user",
    "reward", "partial", "passed", "stop_reason", "turns", "user_early_stops",
    "user_missed_stops", "elapsed_s",
)  # fmt: skip
NESTED = ("messages", "tools", "steps", "explanation")


def dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str)


def parquet_table(records: list[dict[str, Any]]) -> Any:
    """A pyarrow table: scalar columns typed, nested ones as JSON text (``*_json``)."""
    try:
        import pyarrow as pa
    except ImportError as exc:  # pragma: no cover - pyarrow is in the adapters/dev extras
        raise ScaleEnvError(
            "writing Parquet needs pyarrow: pip install 'scaleenv[adapters]'"
        ) from exc
    cols: dict[str, list[Any]] = {c: [r.get(c) for r in records] for c in SCALARS}
    cols["seed"] = [str(s) for s in cols["seed"]]  # 64-bit unsigned: keep exact as text
    for c in NESTED:
        cols[f"{c}_json"] = [dumps(r.get(c)) for r in records]
    cols["n_steps"] = [len(r.get("steps") or []) for r in records]
    types = {"elapsed_s": pa.float64(), "reward": pa.float64(), "partial": pa.float64()}
    return pa.table({c: pa.array(v, type=types.get(c)) for c, v in cols.items()})


def write_rollouts(
    out: str | Path, records: list[dict[str, Any]], summary: dict[str, Any]
) -> dict[str, Path]:
    import pyarrow.parquet as pq

    dest = Path(out).resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        with open(tmp / "trajectories.jsonl", "w", encoding="utf-8") as fh:
            for r in records:
                fh.write(dumps(r) + "\n")
        pq.write_table(parquet_table(records), tmp / "trajectories.parquet")
        (tmp / "summary.json").write_text(dumps(summary) + "\n", encoding="utf-8")
        swap_in(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {
        "jsonl": dest / "trajectories.jsonl",
        "parquet": dest / "trajectories.parquet",
        "summary": dest / "summary.json",
    }
