"""A wheel that works: built from the checkout, installed into a fresh venv outside the repo,
it runs ``scaleenv demo`` and builds a curated domain by name (the Alembic environment and
the curated domains are package data). And ``from engine import World`` type-checks as the
real class (``engine/__init__.py`` resolves names lazily, with ``TYPE_CHECKING`` imports).

Slow (the venv installs the dependencies through pip: about a minute)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"{' '.join(cmd)}\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res


def _build_wheel(dist: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)]
    try:
        import hatchling  # noqa: F401 - the backend is here: build offline, without isolation

        cmd.insert(4, "--no-build-isolation")
    except ImportError:
        pass
    _run(cmd, cwd=dist)
    (wheel,) = dist.glob("scaleenv-*.whl")
    return wheel


def test_wheel_installs_and_runs_outside_the_repo(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    wheel = _build_wheel(dist)
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "synth/_data/migrations/env.py",
        "synth/_data/migrations/script.py.mako",
        "synth/_data/domains/retail.yaml",
        "synth/templates/domain.yaml",
        "engine/py.typed",
        "synth/py.typed",
    ):
        assert required in names, required
    assert not [n for n in names if "__pycache__" in n or n.startswith("tests/")]

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    _run(
        [str(bin_dir / "pip"), "install", "-q", "--no-compile", str(wheel)],
        cwd=tmp_path,
        timeout=600,
    )

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    where = _run([str(bin_dir / "python"), "-c", "import engine; print(engine.__file__)"], outside)
    assert str(venv) in where.stdout and str(ROOT) not in where.stdout

    scaleenv = str(bin_dir / "scaleenv")
    res = _run([scaleenv, "demo", "--out", "d", "--rows", "300", "--tasks", "1"], outside)
    assert "gold" in res.stdout, res.stdout
    assert sorted(p.name for p in (outside / "d").iterdir()) == ["airline-1", "bank-1", "retail-1"]

    res = _run(
        [scaleenv, "world", "build", "retail", "--seed", "1", "--rows", "300", "--out", "w"],
        outside,
    )
    assert (outside / "w" / "manifest.json").is_file(), res.stdout
    assert "quarantined: none" in " ".join(res.stdout.split())

    _run([scaleenv, "init", "desk"], outside)
    assert "ok desk" in _run([scaleenv, "world", "validate", "desk.yaml"], outside).stdout
    assert sorted(p.name for p in outside.iterdir()) == ["d", "desk.yaml", "w"]


def test_engine_exports_type_check_as_the_real_classes(tmp_path: Path) -> None:
    pytest.importorskip("mypy")  # a dev tool, not a project module
    snippet = (
        "from engine import ErrorType, Session, World\n"
        "reveal_type(World)\n"
        "s: Session = World.load('w').session()\n"
        "reveal_type(s.call('t', {}).error_type)\n"
        "reveal_type(ErrorType.INTERNAL)\n"
    )
    cmd = [sys.executable, "-m", "mypy", "--follow-imports=silent", "--no-error-summary"]
    res = subprocess.run(
        [*cmd, "--cache-dir", str(tmp_path / "cache"), "-c", snippet],
        cwd=tmp_path,  # not the checkout: its [tool.mypy] names files to check
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "-> engine.world.World" in res.stdout, res.stdout
    assert "engine.runtime.call.ErrorType | None" in res.stdout, res.stdout
    assert "Any" not in res.stdout.splitlines()[0].split("->")[-1], res.stdout
