"""The README's "Train with scaleenv" snippets run as written (only the world path moves):
every adapter's gold episode earns reward 1.0."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("gymnasium")
pytest.importorskip("mcp")


def _snippets() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Train with scaleenv", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) >= 7, "the section has a snippet per adapter"
    return "\n".join(blocks)


def test_train_snippets_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    code = _snippets().replace('"worlds/retail-1"', repr(str(tmp_path / "retail-1")))
    monkeypatch.chdir(ROOT)
    ns: dict = {}
    exec(compile(code, "README.md", "exec"), ns)
    assert ns["ep"].score().passed and ns["ep"].stop_reason == "goal_met"
    assert ns["trl_reward"] == ns["vf_reward"] == ns["gym_reward"] == 1.0
    assert ns["openenv_reward"] == ns["mcp_score"].reward == 1.0
    assert "goal_met 1.0" in capsys.readouterr().out
