"""Training datasets from rollouts and tasks: chat SFT rows (OpenAI messages with tools,
ending on the agent's turn) and RL prompt rows (prompt, environment, task_id) that the TRL
adapter's ``reset(**row)`` accepts; JSONL + Parquet, the same bytes twice."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from engine import World
from engine.adapters.trl_env import environment_factory
from synth.build import build_world
from synth.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def worlds(tmp_path_factory, domains_dir) -> Path:
    root = tmp_path_factory.mktemp("worlds")
    for d in ("retail", "bank"):
        build_world(
            domains_dir / f"{d}.yaml", seed=1, rows=300, out=root / d, tasks=3, proctest=False
        )
    return root


def _ok(*args: str) -> None:
    res = runner.invoke(app, list(args))
    assert res.exit_code == 0, res.output


def test_sft_from_a_gold_rollout(worlds, tmp_path):
    _ok("rollout", "--worlds", str(worlds), "--out", str(tmp_path / "r"), "--no-timing")
    _ok("dataset", "sft", str(tmp_path / "r" / "trajectories.jsonl"), "--out", str(tmp_path / "d"))
    rows = [json.loads(x) for x in (tmp_path / "d" / "sft.jsonl").read_text().splitlines()]
    assert len(rows) == 6
    for r in rows:
        roles = [m["role"] for m in r["messages"]]
        assert roles[:2] == ["system", "user"] and roles[-1] == "assistant"
        assert all("STOP" not in (m["content"] or "") for m in r["messages"])
        calls = [c for m in r["messages"] for c in m.get("tool_calls") or []]
        answered = {m["tool_call_id"] for m in r["messages"] if m["role"] == "tool"}
        assert calls and {c["id"] for c in calls} == answered
        assert r["tools"][-1]["function"]["name"] == "done" and r["reward"] == 1.0
    table = pq.read_table(tmp_path / "d" / "sft.parquet")
    assert table.num_rows == 6 and "tools_json" in table.column_names
    assert table.to_pylist()[0]["messages"][1]["content"] == rows[0]["messages"][1]["content"]
    first = (tmp_path / "d" / "sft.parquet").read_bytes()
    _ok("dataset", "sft", str(tmp_path / "r" / "trajectories.jsonl"), "--out", str(tmp_path / "d"))
    assert (tmp_path / "d" / "sft.parquet").read_bytes() == first


def test_rl_prompts_feed_the_trl_environment(worlds, tmp_path):
    _ok("dataset", "rl", "--worlds", str(worlds), "--out", str(tmp_path))
    table = pq.read_table(tmp_path / "rl_prompts.parquet")
    assert {"prompt", "environment", "task_id"} <= set(table.column_names)
    rows = table.to_pylist()
    assert sorted({r["environment"] for r in rows}) == ["bank", "retail"] and len(rows) == 6
    loaded = {d: World.load(worlds / d) for d in ("retail", "bank")}
    envs = {d: environment_factory(worlds / d)() for d in loaded}
    for r in rows:
        assert [m["role"] for m in r["prompt"]] == ["system", "user"]
        env = envs[r["world"]]
        kwargs = {k: v for k, v in r.items() if k != "prompt"}  # what TRL passes to reset
        env.reset(**kwargs)
        task = loaded[r["world"]].task(r["task_id"])
        assert r["prompt"][1]["content"] == task.instruction and env.task.id == task.id


def test_nothing_to_export_is_one_line(tmp_path):
    (tmp_path / "t.jsonl").write_text(
        '{"passed": false, "messages": [], "task_id": "x", "domain": "d", "reward": 0}\n'
    )
    res = runner.invoke(
        app, ["dataset", "sft", str(tmp_path / "t.jsonl"), "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 1 and "no rows" in res.output and not (tmp_path / "o").exists()
    (tmp_path / "bad.jsonl").write_text("{oops\n")
    res = runner.invoke(app, ["dataset", "sft", str(tmp_path / "bad.jsonl")])
    assert res.exit_code == 1 and "bad.jsonl:1" in res.output
