"""The README's quick tour runs as written (only the output directory is moved)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tour() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quick tour (Python)", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README has a quick tour code block"
    return match.group(1)


def test_quick_tour_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    code = _tour().replace('"worlds/retail-1"', repr(str(tmp_path / "retail-1")))
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["score"].passed
    assert not namespace["empty"].passed
    assert len(namespace["tools"]) >= 15
    assert "True" in capsys.readouterr().out
