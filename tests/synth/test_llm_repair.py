"""LLM synthesis against a scripted OpenAI-compatible endpoint on loopback: the corner cases
a real small model hits only by chance (invalid drafts, SQL repair rounds, forbidden
statements, leaky rewrites, cache replay with the endpoint gone). The main path runs
against a real llama.cpp server in test_llm_server.py."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("instructor")

from engine import ScaleEnvError, World  # noqa: E402
from synth.generate.llm import LLM, StageError, load_config, synth_domain  # noqa: E402
from synth.generate.llm.draft import EXAMPLE  # noqa: E402

Script = Callable[[dict[str, Any]], str]  # request -> the assistant's content


class FakeEndpoint:
    """A chat-completions server whose answers a test scripts; it records every request."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                content = outer.script(body)
                reply = {
                    "id": f"fake-{len(outer.requests)}",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": content},
                        }
                    ],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
                }
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def schema_name(req: dict[str, Any]) -> str:
    return req["response_format"]["json_schema"]["name"]


GOOD_TOOL = {
    "name": "dentist_roster",
    "kind": "read",
    "description": "List the dentists of the practice with their kind.",
    "params": [],
    "sql": "SELECT dentist_id, name FROM dentists ORDER BY dentist_id LIMIT 20",
}
BAD_COLUMN = {
    "name": "find_treatment",
    "kind": "read",
    "description": "Find treatments whose name contains a text.",
    "params": [{"name": "text", "type": "string", "column": ""}],
    "sql": "SELECT treatment_id, nam FROM treatments WHERE name LIKE '%' || :text || '%'",
}
FIXED_COLUMN = {**BAD_COLUMN, "sql": BAD_COLUMN["sql"].replace(", nam ", ", name ")}
DROPPER = {
    "name": "purge_patients",
    "kind": "write",
    "description": "Remove every patient record from the practice.",
    "params": [],
    "sql": "DROP TABLE patients",
}


def standard_script(req: dict[str, Any]) -> str:
    """A good sketch; three tools: valid, fixable (bad column), forbidden (DROP, twice)."""
    name = schema_name(req)
    if name == "SketchDraft":
        return EXAMPLE.model_dump_json()
    if name == "ToolsDraft":
        return json.dumps({"tools": [GOOD_TOOL, BAD_COLUMN, DROPPER]})
    if name == "ToolDraft":
        last = req["messages"][-1]["content"]
        return json.dumps(FIXED_COLUMN if "find_treatment" in last else DROPPER)
    raise AssertionError(name)


@pytest.fixture
def endpoint() -> Iterator[Callable[[Script], FakeEndpoint]]:
    made: list[FakeEndpoint] = []

    def start(script: Script) -> FakeEndpoint:
        made.append(FakeEndpoint(script))
        return made[-1]

    yield start
    for e in made:
        e.close()


def client(url: str, cache: Path, **extra: Any) -> LLM:
    env = {"SCALEENV_LLM_BASE_URL": url, "SCALEENV_LLM_MODEL": "fake-model"}
    return LLM(load_config(env=env, overrides={"cache_dir": cache, "retries": 0, **extra}))


def tree(path: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


def test_repair_loop_validation_and_cached_replay(endpoint, tmp_path: Path) -> None:
    ep = endpoint(standard_script)
    llm = client(ep.url, tmp_path / "cache")
    res = synth_domain(
        "a family dentist", llm, out=tmp_path / "w1", rows=400, tasks=12, min_tasks=5, extra_tools=3
    )
    status = {t.name: (t.status, t.rounds) for t in res.tools}
    assert status["dentist_roster"] == ("survived", 0)
    assert status["find_treatment"] == ("survived", 1)  # repaired with the exact error
    assert status["purge_patients"] == ("rejected", 2)
    dropper = next(t for t in res.tools if t.name == "purge_patients")
    assert "DROP" in dropper.reason
    repair = [r for r in ep.requests if schema_name(r) == "ToolDraft"]
    assert any("no such column: nam" in r["messages"][-1]["content"] for r in repair)
    world = World.load(res.path)
    assert {"dentist_roster", "find_treatment"} <= set(world.spec.tools)
    assert "purge_patients" not in world.spec.tools
    assert res.tasks >= 5
    assert llm.ledger.stages["tools"].calls == 4  # the list + one fix + two failed fixes
    assert llm.ledger.total().tokens == 120 * len(ep.requests)
    record = json.loads((res.path / "llm.json").read_text())
    assert record["sketch"]["name"] == "family_dental_practice"

    # the endpoint is gone: a rerun replays the cache, makes no call, writes the same bytes
    n = len(ep.requests)
    ep.close()
    again = client(ep.url, tmp_path / "cache")
    synth_domain(
        "a family dentist",
        again,
        out=tmp_path / "w2",
        rows=400,
        tasks=12,
        min_tasks=5,
        extra_tools=3,
    )
    assert len(ep.requests) == n
    assert again.ledger.total().calls == 0 and again.ledger.total().cached == n
    assert tree(tmp_path / "w1") == tree(tmp_path / "w2")


def test_invalid_draft_is_retried_with_its_error(endpoint, tmp_path: Path) -> None:
    def script(req: dict[str, Any]) -> str:
        bad = EXAMPLE.model_dump()
        bad["mechanisms"] = ["time_travel"]
        first = len(req["messages"]) == 2
        return json.dumps(bad) if first else EXAMPLE.model_dump_json()

    ep = endpoint(script)
    llm = client(ep.url, tmp_path / "cache")
    res = synth_domain("a dentist", llm, rows=400, tasks=10, min_tasks=5)
    assert res.path is None and res.sketch.name == "family_dental_practice"
    assert len(ep.requests) == 2
    assert "time_travel" in ep.requests[1]["messages"][-1]["content"]  # the error went back


def test_stage_failure_is_one_line_and_writes_nothing(endpoint, tmp_path: Path) -> None:
    ep = endpoint(lambda req: '{"sector": "health"}')  # never a whole sketch
    llm = client(ep.url, tmp_path / "cache", max_tries=2)
    out = tmp_path / "world"
    with pytest.raises(StageError) as info:
        synth_domain("a dentist", llm, out=out)
    msg = str(info.value)
    assert msg.startswith("sketch: no valid SketchDraft after 2 tries") and "\n" not in msg
    assert len(ep.requests) == 2
    assert not out.exists()


def test_too_few_tasks_fails_the_tasks_stage(endpoint, tmp_path: Path) -> None:
    ep = endpoint(lambda req: EXAMPLE.model_dump_json())
    llm = client(ep.url, tmp_path / "cache")
    out = tmp_path / "world"
    with pytest.raises(StageError, match=r"^tasks: \d+ verified tasks, fewer than 500"):
        synth_domain("a dentist", llm, out=out, rows=400, tasks=3, min_tasks=500)
    assert not out.exists()


def test_offline_miss_and_unconfigured_refuse(tmp_path: Path) -> None:
    with pytest.raises(ScaleEnvError, match="LLM not configured: set SCALEENV_LLM_BASE_URL"):
        load_config(env={})
    env = {"SCALEENV_LLM_BASE_URL": "http://127.0.0.1:9/v1", "SCALEENV_LLM_MODEL": "m"}
    llm = LLM(load_config(env=env, overrides={"cache_dir": tmp_path}), offline=True)
    with pytest.raises(StageError, match="sketch: .*not in the LLM cache"):
        synth_domain("a dentist", llm)


@pytest.fixture(scope="module")
def dental_world() -> tuple[World, list]:
    from synth.build import build_world
    from synth.generate import generate_spec
    from synth.generate.llm.draft import to_sketch

    res = build_world(generate_spec(to_sketch(EXAMPLE), 0), seed=0, rows=400, tasks=12)
    return res.world(), list(res.reports["tasks"].tasks)


def test_rewrites_that_drop_or_leak_facts_fall_back(endpoint, tmp_path: Path, dental_world) -> None:
    from synth.audit import Auditor
    from synth.generate.llm.tasktext import rephrase_tasks

    world, tasks = dental_world
    plain = tasks[:3]
    # a gold answer the template does not state (the sampler's answers come from tool results)
    answered = tasks[3].model_copy(update={"required_answers": ["Marigold Suite"]})
    dropped = next(v for v in plain[1].user.known.values() if str(v) in plain[1].instruction)
    picks = [plain[0], plain[1], plain[2], answered]
    rewrites = {
        plain[0].instruction: "Hello there! " + plain[0].instruction,
        plain[1].instruction: plain[1].instruction.replace(str(dropped), "the usual one"),
        plain[2].instruction: plain[2].instruction + " My other booking is ZQ998877.",
        answered.instruction: answered.instruction
        + f" (I believe it is {answered.required_answers[0]}.)",
    }

    def script(req: dict[str, Any]) -> str:
        text = req["messages"][-1]["content"]
        request = text.split("\nAbout the customer: ")[0].removeprefix("Request: ")
        return json.dumps({"request": rewrites[request], "persona": "A busy parent of two."})

    ep = endpoint(script)
    llm = client(ep.url, tmp_path / "cache")
    auditor = Auditor(world)
    try:
        out, outcomes = rephrase_tasks(llm, picks, audit=auditor.audit)
    finally:
        auditor.close()
    used = [o.used for o in outcomes]
    assert used == ["llm", "template", "template", "template"], outcomes
    assert out[0].instruction.startswith("Hello there!")
    assert out[0].meta["template_instruction"] == plain[0].instruction
    assert out[0].user.persona == "A busy parent of two."
    assert outcomes[1].reason.startswith("drops ")
    assert "zq998877" in outcomes[2].reason
    assert outcomes[3].reason == "leaks the answer 'Marigold Suite'"
    assert [t.instruction for t in out[1:]] == [t.instruction for t in picks[1:]]


def test_config_file_env_and_options_layer(tmp_path: Path) -> None:
    cfg = tmp_path / "llm.yaml"
    cfg.write_text(
        "base_url: https://api.example.test/v1/\nmodel: file-model\napi_key_env: MY_KEY\n"
        "mode: tools\nconcurrency: 4\ntimeout_s: 30\n"
    )
    env = {"MY_KEY": "sk-test", "SCALEENV_LLM_MODEL": "env-model"}
    c = load_config(cfg, env=env, overrides={"max_tries": 1, "base_url": None})
    assert (c.base_url, c.model, c.api_key, c.mode) == (
        "https://api.example.test/v1",
        "env-model",  # the variable wins over the file
        "sk-test",
        "tools",
    )
    assert (c.concurrency, c.timeout_s, c.max_tries) == (4, 30.0, 1)
    assert "sk-test" not in repr(c)
    with pytest.raises(ScaleEnvError, match="api_key_env names 'MY_KEY', which is not set"):
        load_config(cfg, env={})
    with pytest.raises(
        ScaleEnvError, match=r"LLM config concurrency: .*greater than or equal to 1"
    ):
        load_config(cfg, env=env, overrides={"concurrency": 0})


def test_a_failed_tool_proposal_keeps_the_world(endpoint, tmp_path: Path) -> None:
    def script(req: dict[str, Any]) -> str:
        if schema_name(req) == "SketchDraft":
            long = EXAMPLE.model_dump()
            long["title"] = "Brightsmile Family Dental " * 4  # runs on: cut at a word
            return json.dumps(long)
        return '{"tools": []}'  # never a valid proposal

    ep = endpoint(script)
    res = synth_domain(
        "a dentist", client(ep.url, tmp_path / "c"), rows=400, tasks=10, min_tasks=5, extra_tools=2
    )
    assert len(res.sketch.title) <= 40 and res.sketch.title.startswith("Brightsmile Family Dental")
    [proposal] = res.tools
    assert proposal.status == "rejected" and proposal.reason.startswith(
        "tools: no valid ToolsDraft"
    )
    assert res.tasks >= 5
