"""kill -9 during a build (issue 27, item 9): the target holds the old world or nothing, never
a half-written one, and the next build cleans up what the killed one left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.world import World
from synth.build import build_world

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "fixtures" / "domains" / "tiny_shop.yaml"
CODE = """
import sys
from synth.build import build_world
for seed in range(1000):
    build_world(sys.argv[1], seed=seed, rows=300, proctest=False, tasks=0, out=sys.argv[2])
"""


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.4, 0.9, 1.6, 2.5])
def test_kill_during_builds_never_leaves_a_broken_world(tmp_path: Path, delay: float) -> None:
    out = tmp_path / "w"
    build_world(SPEC, seed=0, rows=300, proctest=False, tasks=0, out=out)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", CODE, str(SPEC), str(out)], env=env)
    time.sleep(delay)  # lands somewhere in seeding, writing or renaming; any point must be safe
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    if out.exists():
        World.load(out)  # a complete world, hash- and schema-verified
    build_world(SPEC, seed=5, rows=300, proctest=False, tasks=0, out=out)
    assert World.load(out).manifest["seed"] == 5
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "w"]
    assert leftovers == []
