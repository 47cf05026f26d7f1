"""The task quality report, and the three policies every task set is run against.

* gold: replay the gold actions and state the required answers - must pass 100%;
* empty: do nothing, say nothing - must pass 0%;
* random: K schema-valid calls of tools in the toolset with arguments drawn from the live
  database and the user's facts (K = max(5, 2 x gold length)), its messages are the tool
  results - must pass rarely (the acceptance bound is 5%).
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from typing import Any

from engine.spec.task import Task
from engine.world import World
from synth.graph import load_world_graph
from synth.seed.values import sub_rng
from synth.tasks.context import Ctx
from synth.tasks.domain import SchemaInfo
from synth.tasks.draw import NoCandidates, draw_args


def _rate(hits: int, total: int) -> float:
    return round(hits / total, 4) if total else 0.0


def gold_passes(s: Any, t: Task) -> bool:
    """Whether replaying ``t``'s gold actions and stating its answers passes (on ``s``)."""
    s.reset(t)
    return (
        all(s.call(a.tool, a.args).ok for a in t.gold_actions)
        and s.evaluate(t, list(t.required_answers)).passed
    )


def empty_passes(s: Any, t: Task) -> bool:
    """Whether doing and saying nothing passes ``t`` (on ``s``)."""
    s.reset(t)
    return s.evaluate(t, []).passed


def random_passes(ctx: Any, t: Task, seed: int) -> bool:
    """Whether K random valid calls (on ``ctx``'s session), their results said, pass ``t``."""
    rng = sub_rng(seed, "random-policy", t.id)
    s = ctx.s
    s.reset(t)
    ctx.token = None
    k = max(5, 2 * len(t.gold_actions))
    said: list[str] = []
    tools = [n for n in t.toolset if n in ctx.tools]
    for _ in range(k):
        if not tools:
            break
        tool = rng.choice(tools)
        user = t.meta.get("user_key") if rng.random() < 0.5 else None
        try:
            args = draw_args(ctx, tool, rng, user)[0]
        except NoCandidates:
            continue
        r = s.call(tool, args)
        if r.ok:
            said.append(json.dumps(r.result, default=str))
    return s.evaluate(t, said).passed


def gold_policy(world: World, tasks: list[Task], session: Any = None) -> float:
    s = session or world.session()
    return _rate(sum(gold_passes(s, t) for t in tasks), len(tasks))


def empty_policy(world: World, tasks: list[Task], session: Any = None) -> float:
    s = session or world.session()
    return _rate(sum(empty_passes(s, t) for t in tasks), len(tasks))


def random_policy(world: World, tasks: list[Task], seed: int, ctx: Any = None) -> float:
    """Share of tasks a policy of random valid calls passes."""
    if ctx is None:
        ctx = Ctx(world, load_world_graph(world), seed)
    return _rate(sum(random_passes(ctx, t, seed) for t in tasks), len(tasks))


def policy_rates(world: World, tasks: list[Task], seed: int, ctx: Any = None) -> dict[str, float]:
    """The gold, random and empty pass rates, the three policies run task by task: a task's
    start patch is built once and entered from the world's bounded patch cache by the next
    two (three passes over all tasks would build every patch three times, issue 21)."""
    if ctx is None:
        ctx = Ctx(world, load_world_graph(world), seed)
    hits = {"gold": 0, "random": 0, "empty": 0}
    s = ctx.s  # every policy enters its task by reset: one session (a copy of the world) serves all
    for t in tasks:
        hits["gold"] += gold_passes(s, t)
        hits["random"] += random_passes(ctx, t, seed)
        hits["empty"] += empty_passes(s, t)
    ctx.token = None  # the session moved under the sampler's state memo
    return {k: _rate(v, len(tasks)) for k, v in hits.items()}


def _stats(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"median": 0, "min": 0, "max": 0}
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def quality_report(
    world: World, tasks: list[Task], seed: int = 0, *, policies: bool = True, ctx: Any = None
) -> dict[str, Any]:
    """Counts by difficulty, write-tool coverage, toolset sizes, distractors, sub-goal kinds
    and (``policies``) the gold / random / empty pass rates."""
    spec = world.spec

    info = SchemaInfo(spec)
    writes = sorted(n for n, t in info.customer_tools().items() if not t.read_only)
    staff = sorted(n for n, t in spec.active_tools().items() if not t.read_only and n not in writes)
    used = Counter(tool for t in tasks for tool in {a.tool for a in t.gold_actions})
    forbidden = Counter(
        g["forbidden"]["tool"] for t in tasks for g in t.subgoals if g.get("forbidden")
    )
    report: dict[str, Any] = {
        "domain": spec.name,
        "tasks": len(tasks),
        "difficulty": {
            k: sum(1 for t in tasks if t.difficulty == k) for k in ("easy", "medium", "hard")
        },
        "write_tools": {w: used.get(w, 0) for w in writes},
        "write_coverage": _rate(sum(1 for w in writes if used.get(w)), len(writes)),
        "uncovered_write_tools": [w for w in writes if not used.get(w)],
        "staff_write_tools": staff,  # never customer requests: not counted in coverage
        "refused_tools": dict(sorted(forbidden.items())),
        "toolset_sizes": _stats([len(t.toolset) for t in tasks]),
        "domain_tools": len(spec.active_tools()),
        "complexity": _stats([t.complexity for t in tasks]),
        "distractors": _stats([t.distractors for t in tasks]),
        "tasks_without_distractors": sum(1 for t in tasks if t.distractors == 0),
        "gold_actions": _stats([len(t.gold_actions) for t in tasks]),
        "subgoals": dict(sorted(Counter(g["kind"] for t in tasks for g in t.subgoals).items())),
        "required_answers": sum(len(t.required_answers) for t in tasks),
    }
    if policies and tasks:
        report["policies"] = policy_rates(world, tasks, seed, ctx)
    return report


def explain(ctx: Any, report: dict[str, Any], why: dict[str, Counter]) -> dict[str, str]:
    """Per write tool of the spec: covered by how many tasks, or the concrete reason not."""
    used = report.get("write_tools", {})
    out: dict[str, str] = {}
    for name, t in sorted(ctx.spec.tools.items()):
        if t.read_only:
            continue
        if t.quarantined:
            out[name] = f"not covered: quarantined by procedural testing ({t.quarantined[:120]})"
        elif name not in ctx.tools:
            out[name] = (
                "not covered: a staff tool (audience staff), never a customer request"
                if ctx.info.audience(name) == "staff"
                else "not covered: not in the tool graph"
            )
        elif used.get(name):
            out[name] = f"covered by {used[name]} tasks"
        else:
            top = why.get(name, Counter()).most_common(1)
            out[name] = "not covered: " + (
                top[0][0]
                if top
                else "its seed candidates failed verification"
                if name in why
                else "not reached (fewer tasks than write tools)"
            )
    return out
