"""``scaleenv tasks gen`` / ``tasks report`` on a world directory, and the curated domains'
acceptance numbers (200 tasks each: time, policies, toolsets, distractors, coverage)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.world import World
from synth.build import build_world
from synth.cli import app
from synth.tasks import generate_tasks

runner = CliRunner()


def test_tasks_gen_and_report(tmp_path: Path, domains_dir: Path) -> None:
    out = tmp_path / "w"
    build_world(domains_dir / "tiny_shop.yaml", seed=2, out=out, proctest=False)
    before = World.load(out).manifest
    res = runner.invoke(app, ["tasks", "gen", str(out), "--n", "6", "--seed", "5"])
    assert res.exit_code == 0, res.output
    for word in ("gold", "random", "empty", "rejected candidates by rule", "write tools"):
        assert word in res.output
    w = World.load(out)
    assert len(w.tasks) == 6
    assert w.report("graph.json") is not None
    assert w.manifest["seed"] == before["seed"] and w.manifest["task_seed"] == 5
    first = (out / "tasks.jsonl").read_bytes()
    res = runner.invoke(app, ["tasks", "gen", str(out), "--n", "6", "--seed", "5"])
    assert res.exit_code == 0, res.output
    assert (out / "tasks.jsonl").read_bytes() == first
    res = runner.invoke(app, ["tasks", "report", str(out)])
    assert res.exit_code == 0, res.output
    assert "re-verified" in res.output and "100.0%" in res.output


def test_tasks_gen_missing_world_fails_in_one_line(tmp_path: Path) -> None:
    res = runner.invoke(app, ["tasks", "gen", str(tmp_path / "nope"), "--n", "2"])
    assert res.exit_code == 1
    assert res.output.startswith("error:"), res.output


CURATED = ["retail", "airline", "bank"]


@pytest.mark.slow
@pytest.mark.parametrize("domain", CURATED)
def test_curated_domain_meets_the_bar(domain: str, domains_dir: Path) -> None:
    path = domains_dir / f"{domain}.yaml"
    world = build_world(path, seed=1, proctest=False).world()
    ts = generate_tasks(world, 200, seed=1)
    rep = ts.report
    assert len(ts.tasks) == 200, rep["rejections"]
    pol = rep["policies"]
    assert pol["gold"] == 1.0 and pol["empty"] == 0.0 and pol["random"] <= 0.05, pol
    assert rep["toolset_sizes"]["median"] >= min(15, rep["domain_tools"]), rep["toolset_sizes"]
    assert rep["tasks_without_distractors"] == 0
    assert rep["uncovered_write_tools"] == [], rep["write_tools"]
    again = generate_tasks(world, 25, seed=1, policies=False)
    assert again.to_jsonl() == "".join(ts.to_jsonl().splitlines(keepends=True)[:25])
