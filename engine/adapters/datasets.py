"""Training datasets: trajectories -> chat SFT data; tasks -> an RL prompt dataset.

* SFT: one row per (passing, by default) episode: ``messages`` in the OpenAI chat format
  with ``tool_calls`` and tool results, ending on the agent's last turn (the user's stop
  token is dropped), the ``tools`` offered, and ``task_id``/``domain``/``reward``.
* RL: one row per task: ``prompt`` (system + user messages), ``environment`` (the domain:
  TRL's multi-environment routing column), ``task_id`` (what ``reset(**row)`` uses),
  ``difficulty`` and ``world``.

Both are written as JSONL and Parquet (readable by ``datasets.load_dataset("parquet")``);
nested tool schemas go to Parquet as JSON text (``tools_json``), since each tool's
properties differ. Files appear atomically (temp file + rename); the same input gives
the same bytes.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from engine import ScaleEnvError, World
from engine.adapters.episode import system_prompt


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str)


def read_trajectories(path: str | Path) -> list[dict[str, Any]]:
    """Episodes from ``trajectories.jsonl``; a bad line names its number."""
    out = []
    with open(path, encoding="utf-8") as fh:
        for i, line in enumerate(fh, 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except ValueError as exc:
                    raise ScaleEnvError(f"{path}:{i}: not a JSON trajectory ({exc})") from None
    return out


def _sft_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=-1)
    out = []
    for m in messages[: last + 1]:
        row: dict[str, Any] = {"role": m["role"], "content": m.get("content")}
        if m.get("tool_calls"):
            row["tool_calls"] = m["tool_calls"]
        if m["role"] == "tool":
            row["tool_call_id"] = m.get("tool_call_id")
        out.append(row)
    return out


def sft_rows(trajectories: Iterable[dict[str, Any]], passed_only: bool = True) -> list[dict]:
    """Chat SFT rows from episodes (only passing ones unless ``passed_only`` is False)."""
    rows = []
    for t in trajectories:
        if passed_only and not t.get("passed"):
            continue
        rows.append(
            {
                "messages": _sft_messages(t["messages"]),
                "tools": t.get("tools") or [],
                "task_id": t["task_id"],
                "domain": t["domain"],
                "reward": float(t["reward"]),
            }
        )
    return rows


def rl_rows(worlds: Iterable[World]) -> list[dict[str, Any]]:
    """RL prompt rows, one per task of each world."""
    rows = []
    for w in worlds:
        system = system_prompt(w)
        for t in w.tasks:
            rows.append(
                {
                    "prompt": [
                        {"role": "system", "content": system},
                        {"role": "user", "content": t.instruction},
                    ],
                    "environment": w.spec.name,
                    "task_id": t.id,
                    "difficulty": t.difficulty,
                    "world": w.name,
                }
            )
    return rows


def _atomic(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_rows(rows: list[dict[str, Any]], out_dir: str | Path, stem: str) -> dict[str, Path]:
    """``stem.jsonl`` and ``stem.parquet`` under ``out_dir`` (tools as JSON text there)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow is in the adapters extra
        raise ScaleEnvError(
            "writing Parquet needs pyarrow: pip install 'scaleenv[adapters]'"
        ) from None
    if not rows:
        raise ScaleEnvError(f"{stem}: no rows to write (no passing episode or no task)")
    out = Path(out_dir)
    jsonl, parquet = out / f"{stem}.jsonl", out / f"{stem}.parquet"

    def write_jsonl(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.writelines(_dumps(r) + "\n" for r in rows)

    flat = [
        {
            **{k: v for k, v in r.items() if k != "tools"},
            **({"tools_json": _dumps(r["tools"])} if "tools" in r else {}),
        }
        for r in rows
    ]
    _atomic(jsonl, write_jsonl)
    _atomic(parquet, lambda tmp: pq.write_table(pa.Table.from_pylist(flat), tmp))
    return {"jsonl": jsonl, "parquet": parquet}


def export_sft(
    trajectories: str | Path, out_dir: str | Path, passed_only: bool = True
) -> dict[str, Path]:
    return write_rows(sft_rows(read_trajectories(trajectories), passed_only), out_dir, "sft")


def export_rl(world_dirs: list[str | Path], out_dir: str | Path) -> dict[str, Path]:
    return write_rows(rl_rows(World.load(d) for d in world_dirs), out_dir, "rl_prompts")
