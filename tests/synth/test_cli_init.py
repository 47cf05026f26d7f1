"""``scaleenv init NAME``: a new, commented domain that builds with no quarantined tool and
yields at least five verified tasks; the CLI refuses bad names and never overwrites silently."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from engine import World
from engine.spec.validate import load_spec
from synth.build import build_world
from synth.cli import app

runner = CliRunner()
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "domains"


def test_init_writes_a_domain_that_builds_and_yields_tasks(tmp_path: Path) -> None:
    res = runner.invoke(app, ["init", "lending_desk", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    path = tmp_path / "lending_desk.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count("\n#") >= 5, "the spec explains itself in comments"
    spec = load_spec(path)
    assert spec.name == "lending_desk"
    fixture_names = {p.stem for p in FIXTURES.glob("*.yaml")}
    assert fixture_names and set(spec.entities).isdisjoint({"customers", "orders", "flights"})
    built = build_world(path, seed=3, out=tmp_path / "w", tasks=10)
    assert [n for n, t in built.spec.tools.items() if t.quarantined] == []
    tasks = World.load(tmp_path / "w").tasks
    assert len(tasks) >= 5, built.reports["tasks"].summary_line()
    assert len({t.gold_actions[0].tool for t in tasks if t.gold_actions}) >= 2  # not one tool
    again = build_world(path, seed=3, tasks=0, proctest=False)
    first = build_world(path, seed=3, tasks=0, proctest=False)
    assert again.db_bytes == first.db_bytes  # deterministic seeding


def test_init_refuses_to_overwrite_and_bad_names(tmp_path: Path) -> None:
    target = tmp_path / "mine.yaml"
    target.write_text("keep me", encoding="utf-8")
    res = runner.invoke(app, ["init", "mine", "--out", str(target)])
    assert res.exit_code == 1 and "--force" in res.output, res.output
    assert target.read_text(encoding="utf-8") == "keep me"
    res = runner.invoke(app, ["init", "mine", "--out", str(target), "--force"])
    assert res.exit_code == 0 and "name: mine" in target.read_text(encoding="utf-8")
    for bad in ("Bad-Name", "1shop", "a b", "shop\n"):
        res = runner.invoke(app, ["init", bad, "--out", str(tmp_path)])
        assert res.exit_code == 1 and "snake_case" in res.output, (bad, res.output)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.yaml"]
