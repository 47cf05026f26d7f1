"""The openai: policy and user against a tiny OpenAI-compatible HTTP server in the test (a
supplement: the real llama.cpp run is a separate job). The server's "model" replays the
task's gold calls as the agent and, as the user, says the stop token at every turn: the
harness must refuse each stop until the task's diff is met, and count them."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytest.importorskip("openai")

from engine import ScaleEnvError, World  # noqa: E402
from synth.build import build_world  # noqa: E402
from synth.rollout import run_rollouts  # noqa: E402


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory, domains_dir) -> Path:
    out = tmp_path_factory.mktemp("w") / "retail"
    build_world(domains_dir / "retail.yaml", seed=1, rows=300, out=out, tasks=2, proctest=False)
    return out


def _server(world: World) -> tuple[ThreadingHTTPServer, list[dict]]:
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(body)
            if body.get("tools"):
                message = self._agent(body["messages"])
            else:
                message = {"role": "assistant", "content": "Sounds good. ###STOP###"}
            reply = {
                "id": "cmpl-1", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }  # fmt: skip
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _agent(self, messages: list[dict]) -> dict:
            task = next(t for t in world.tasks if t.instruction == messages[1]["content"])
            if not any(m["role"] == "assistant" for m in messages):
                return {"role": "assistant", "content": "Sure, may I look into it?"}
            done = sum(len(m.get("tool_calls") or []) for m in messages if m["role"] == "assistant")
            if done < len(task.gold_actions):
                a = task.gold_actions[done]
                call = {"id": f"c{done}", "type": "function",
                        "function": {"name": a.tool, "arguments": json.dumps(a.args)}}  # fmt: skip
                return {"role": "assistant", "content": None, "tool_calls": [call]}
            return {"role": "assistant", "content": "Done. " + " ".join(task.required_answers)}

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


def test_llm_policy_and_user_through_an_endpoint(world_dir, tmp_path, monkeypatch):
    world = World.load(world_dir)
    server, seen = _server(world)
    try:
        monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{server.server_port}/v1")
        monkeypatch.setenv("OPENAI_API_KEY", "local")
        res = run_rollouts(
            world_dir, policy="openai:tiny", user="openai:tiny", k=1, out=tmp_path / "o"
        )
    finally:
        server.shutdown()
    assert res.summary["all"]["pass@1"] == 1.0
    for r in res.records:
        assert r["stop_reason"] == "goal_met" and r["user_early_stops"] >= 1
        assert r["policy"] == "openai:tiny"
    agent_calls = [b for b in seen if b.get("tools")]
    assert agent_calls and agent_calls[0]["tools"][-1]["function"]["name"] == "done"
    assert all(b["temperature"] == 0.0 and "seed" in b for b in seen)
    user_calls = [b for b in seen if not b.get("tools")]
    assert user_calls and "Facts you know" in user_calls[0]["messages"][0]["content"]


def test_unreachable_endpoint_is_one_clear_error(world_dir, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    with pytest.raises(ScaleEnvError, match="openai endpoint"):
        run_rollouts(world_dir, policy="openai:tiny", k=1)
    monkeypatch.delenv("OPENAI_BASE_URL")
    with pytest.raises(ScaleEnvError, match="OPENAI_BASE_URL"):
        run_rollouts(world_dir, policy="openai:tiny", k=1)
