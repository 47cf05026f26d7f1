"""``scaleenv rollout`` on the curated fixtures: gold passes every task, random at most 5%,
trajectories as JSONL and Parquet, the same bytes for any worker count, pass@k math."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from synth.build import build_world
from synth.cli import app
from synth.rollout import pass_at_k, pass_hat_k, run_rollouts

CURATED = ("airline", "bank", "retail")
runner = CliRunner()


@pytest.fixture(scope="module")
def worlds(tmp_path_factory, domains_dir) -> Path:
    root = tmp_path_factory.mktemp("worlds")
    for d in CURATED:
        build_world(
            domains_dir / f"{d}.yaml", seed=1, rows=400, out=root / d, tasks=8, proctest=False
        )
    return root


def _cli(*args: str) -> str:
    res = runner.invoke(app, ["rollout", *args])
    assert res.exit_code == 0, res.output
    return res.output


def test_gold_passes_every_task_through_the_cli(worlds, tmp_path):
    out = tmp_path / "gold"
    text = _cli("--worlds", str(worlds), "--policy", "scripted:gold", "--user", "scripted",
                "--k", "2", "--workers", "2", "--out", str(out))  # fmt: skip
    assert "pass@2" in text and "pass^2" in text
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["worlds"]) == set(CURATED)
    for g in [*summary["worlds"].values(), *summary["difficulty"].values()]:
        assert g["pass@1"] == g["pass^2"] == 1.0 and g["tasks"] > 0
    assert summary["all"]["episodes"] == 3 * 8 * 2
    lines = (out / "trajectories.jsonl").read_text().splitlines()
    rec = json.loads(lines[0])
    assert rec["stop_reason"] == "goal_met" and rec["reward"] == 1.0
    assert rec["elapsed_s"] > 0 and rec["tools"][-1]["function"]["name"] == "done"
    assert any(step["changes"] for r in map(json.loads, lines) for step in r["steps"])
    table = pq.read_table(out / "trajectories.parquet")
    assert table.num_rows == len(lines)
    assert {"reward", "partial", "messages_json", "steps_json", "task_id"} <= set(
        table.column_names
    )
    assert json.loads(table.column("messages_json")[0].as_py()) == rec["messages"]


def test_random_passes_at_most_five_percent(worlds, tmp_path):
    res = run_rollouts(worlds, policy="random", k=3, seed=0, out=tmp_path / "r")
    for name, g in res.summary["worlds"].items():
        assert g["episodes"] == 8 * 3
        assert g["pass@1"] <= 0.05, (name, g)
    assert any(r["steps"] for r in res.records)


def test_same_bytes_for_any_worker_count(worlds, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    common = ("--worlds", str(worlds), "--policy", "random", "--k", "2", "--no-timing")
    _cli(*common, "--workers", "1", "--out", str(one))
    _cli(*common, "--workers", "2", "--out", str(two))
    for name in ("trajectories.jsonl", "trajectories.parquet", "summary.json"):
        assert (one / name).read_bytes() == (two / name).read_bytes(), name


def test_bad_input_is_one_line(worlds, tmp_path):
    for args, needle in (
        (["--worlds", str(tmp_path / "none")], "no such folder"),
        (["--worlds", str(tmp_path)], "no world in it"),
        (["--worlds", str(worlds), "--policy", "clever"], "--policy 'clever'"),
        (["--worlds", str(worlds), "--user", "nobody"], "--user 'nobody'"),
        (["--worlds", str(worlds), "--k", "0"], "at least 1"),
        (["--worlds", str(worlds), "--backend", "slurm"], "--backend 'slurm'"),
    ):
        res = runner.invoke(app, ["rollout", *args, "--out", str(tmp_path / "o")])
        assert res.exit_code == 1 and needle in res.output, res.output
        assert len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_pass_at_k_estimators():
    assert pass_at_k(4, 0, 2) == 0.0 and pass_at_k(4, 4, 2) == 1.0
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)  # 1 - C(3,2)/C(4,2)
    assert pass_hat_k(4, 2, 2) == pytest.approx(1 / 6)
    assert pass_hat_k(4, 1, 2) == 0.0 and pass_hat_k(3, 3, 3) == 1.0


@pytest.mark.slow
def test_ray_backend_gives_the_same_bytes(worlds, tmp_path, monkeypatch):
    pytest.importorskip("ray", reason="ray is not installed (extra: ray)")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    common = ("--policy", "random", "--k", "1", "--no-timing", "--workers", "2")
    _cli("--worlds", str(worlds / "bank"), *common, "--out", str(tmp_path / "p"))
    _cli(
        "--worlds", str(worlds / "bank"), *common, "--backend", "ray", "--out", str(tmp_path / "r")
    )
    for name in ("trajectories.jsonl", "summary.json"):
        assert (tmp_path / "p" / name).read_bytes() == (tmp_path / "r" / name).read_bytes()
