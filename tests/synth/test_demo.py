"""The main job: worlds are built, each episode's gold passes and the empty episode fails."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from engine.world import World
from synth.demo import run_demo


def test_demo_builds_worlds_and_plays_episodes(tmp_path: Path) -> None:
    console = Console(record=True, width=120)
    results = run_demo(tmp_path, domains=("retail",), rows=2000, tasks=4, console=console)
    assert [r.domain for r in results] == ["retail"]
    assert results[0].gold_reward == 1.0 and results[0].empty_reward < 1.0
    world = World.load(tmp_path / "retail-1")
    assert len(world.tasks) == 4
    assert not any(t.quarantined for t in world.spec.tools.values())
    text = console.export_text()
    assert "retail" in text and world.tasks[0].instruction.split()[0] in text
