"""OpenAI tools adapter, the scripted user, its stop contract and the episode harness, on a
small retail world: a gold episode through the harness reaches a direct session's reward."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from engine import World
from engine.adapters.episode import Episode
from engine.adapters.openai_tools import DONE, DONE_TOOL, agent_tools, apply_tool_calls
from engine.adapters.policies import GoldPolicy, RandomPolicy
from engine.adapters.usersim import STOP, ScriptedUser, StopContract, UserTurn
from synth.build import build_world


@pytest.fixture(scope="module")
def world(tmp_path_factory, domains_dir) -> World:
    out = tmp_path_factory.mktemp("w") / "retail"
    build_world(domains_dir / "retail.yaml", seed=1, rows=300, out=out, tasks=4, proctest=False)
    return World.load(out)


def _direct(world: World, task) -> float:
    s = world.session()
    s.reset(task)
    for a in task.gold_actions:
        assert s.call(a.tool, a.args).ok
    return s.evaluate(task, list(task.required_answers)).reward


def _play(world: World, task, agent, user=None) -> Episode:
    ep = Episode(world, task, user)
    msgs = ep.start()
    while not ep.ended:
        msgs += ep.act(agent.act(msgs))
    return ep


def test_tools_offer_done_and_never_the_verifier(world):
    task = world.tasks[0]
    s = world.session()
    tools = agent_tools(s, task)
    names = [t["function"]["name"] for t in tools]
    assert names[-1] == DONE and tools[-1] == DONE_TOOL
    assert set(names[:-1]) <= set(task.toolset) | set(world.spec.builtins)
    assert not {"evaluate", "verify", "reward", "score"} & set(names)
    assert all(t["function"]["strict"] for t in tools)
    out = apply_tool_calls(s, [{"id": "c1", "function": {"name": "evaluate", "arguments": "{}"}}])
    assert out[0]["tool_call_id"] == "c1" and out[0]["content"].startswith("unknown_tool")


def test_apply_tool_calls_runs_dicts_and_sdk_objects_in_order(world):
    task = world.tasks[0]
    s = world.session()
    s.reset(task)
    a0, a1 = task.gold_actions[:2]
    sdk_call = SimpleNamespace(
        id="b", function=SimpleNamespace(name=a1.tool, arguments=json.dumps(a1.args))
    )
    calls = [
        {"id": "a", "type": "function", "function": {"name": a0.tool, "arguments": a0.args}},
        sdk_call,
        {"id": "c", "function": {"name": DONE, "arguments": '{"message": "bye"}'}},
        {"id": "d", "function": {"name": a0.tool, "arguments": "{}"}},
    ]
    out = apply_tool_calls(s, calls, task.toolset)
    assert [m["tool_call_id"] for m in out] == ["a", "b", "c", "d"]
    assert all(m["role"] == "tool" for m in out)
    assert not out[0]["content"].startswith(("invalid", "unknown"))
    assert s.done and "ended" in out[3]["content"]
    assert len(s.history) == 2  # nothing ran after done
    outside = next(n for n in world.spec.tools if n not in task.toolset)
    s.reset(task)
    bad = apply_tool_calls(
        s, [{"id": "x", "function": {"name": outside, "arguments": "{}"}}], task.toolset
    )
    assert bad[0]["content"].startswith("unknown_tool")


def test_scripted_user_reveals_known_facts_and_never_invents(world):
    task = world.tasks[0]
    user = ScriptedUser(task)
    assert user.opening() == task.instruction
    email = task.user.known["email"]
    turn = user.reply("Could you tell me your email address?", None)
    assert email in turn.text and not turn.stop
    turn = user.reply("What is your mother's maiden name?", None)
    assert "don't have" in turn.text
    assert not any(str(v) in turn.text for v in task.user.known.values())
    assert user.reply("I will cancel it now. Shall I proceed?", None).text.startswith("Yes")
    assert user.reply("Done!", "goal_met") == UserTurn(
        f"Thank you, that is all I needed. {STOP}", True
    )


def test_stop_contract_is_the_state_diff(world):
    task = world.tasks[0]
    s = world.session()
    s.reset(task)
    contract = StopContract(task, max_turns=5)
    assert contract.check(s.evaluate(task), [], 1) is None
    assert contract.check(s.evaluate(task), [], 5) == "max_turns"
    for a in task.gold_actions:
        s.call(a.tool, a.args)
    assert (
        contract.check(s.evaluate(task, task.required_answers), task.required_answers, 1)
        == "goal_met"
    )


@pytest.mark.parametrize("index", range(4))
def test_gold_episode_reaches_the_direct_reward(world, index):
    task = world.tasks[index]
    ep = _play(world, task, GoldPolicy(task, world.spec))
    assert ep.stop_reason == "goal_met"
    assert ep.score().reward == _direct(world, task) == 1.0
    rec = ep.record()
    assert rec["passed"] and rec["user_early_stops"] == 0 and rec["user_missed_stops"] == 0
    writes = [st for st in rec["steps"] if st["changes"]]
    assert writes and all(c["after"] != c["before"] for st in writes for c in st["changes"])
    roles = [m["role"] for m in rec["messages"]]
    assert roles[:2] == ["system", "user"] and "tool" in roles
    assert json.loads(json.dumps(rec)) == rec


def test_random_episode_is_seeded(world):
    task = world.tasks[1]
    a = _play(world, task, RandomPolicy(task, world.spec, 7)).record()
    b = _play(world, task, RandomPolicy(task, world.spec, 7)).record()
    assert a == b and a["steps"]


class _Impatient:
    """A user that asks to stop at every turn, as an LLM user stopping too early would."""

    def __init__(self, task) -> None:
        self.task = task

    def opening(self) -> str:
        return self.task.instruction

    def reply(self, agent_text: str, allowed: str | None) -> UserTurn:
        return UserTurn(f"Thanks! {STOP}", stop=True)


def test_harness_refuses_a_stop_before_the_contract_allows(world):
    task = next(
        t
        for t in world.tasks
        if any(not world.spec.tools[a.tool].read_only for a in t.gold_actions)
    )
    ep = _play(world, task, GoldPolicy(task, world.spec), _Impatient(task))
    assert ep.early_stop_attempts >= 1  # the confirmation turn: nothing written yet
    assert ep.stop_reason == "goal_met" and ep.score().passed
    assert all(STOP not in (m["content"] or "") for m in ep.messages[:-1] if m["role"] == "user")


def test_max_turns_ends_an_idle_episode(world):
    task = world.tasks[0]
    ep = Episode(world, task, max_turns=3)
    ep.start()
    for _ in range(3):
        if not ep.ended:
            ep.act({"role": "assistant", "content": "Hmm."})
    assert ep.stop_reason == "max_turns" and not ep.score().passed
    with pytest.raises(RuntimeError):
        ep.act({"role": "assistant", "content": "more"})


def test_stop_contract_allows_a_stated_refusal(world):
    base = world.tasks[0]
    task = base.model_copy(
        update={
            "gold_actions": [],
            "gold_diff": [],
            "required_answers": ["same product"],
            "subgoals": [{"kind": "refusal", "answers": ["same product"]}],
        }
    )
    s = world.session()
    s.reset(task)
    contract = StopContract(task)
    said = ["Sorry, an exchange must be for the same product."]
    assert contract.check(s.evaluate(task, said), said, 1) == "refusal_stated"
    assert contract.check(s.evaluate(task, ["Done!"]), ["Done!"], 1) is None
    s.call(base.gold_actions[-1].tool, base.gold_actions[-1].args)  # acting anyway: no stop
    assert contract.check(s.evaluate(task, said), said, 1) is None


def test_episode_takes_the_openai_sdk_message_objects(world):
    types = pytest.importorskip("openai.types.chat")
    task = world.tasks[0]
    ep = Episode(world, task)
    ep.start()
    for i, a in enumerate(task.gold_actions):
        msg = types.ChatCompletionMessage.model_validate(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"c{i}",
                        "type": "function",
                        "function": {"name": a.tool, "arguments": json.dumps(a.args)},
                    }
                ],
            }
        )
        out = ep.act(msg)
        assert out[0]["tool_call_id"] == f"c{i}" and not out[0]["content"].startswith("unknown")
    answers = " ".join(task.required_answers)
    ep.act(types.ChatCompletionMessage(role="assistant", content=f"Done. {answers}"))
    assert ep.stop_reason == "goal_met" and ep.score().reward == 1.0
