"""The toolset offered with a task: the chain's tools grown by dependency-aware BFS.

A tool joins only when the tools already in the set (or the user) can supply every required
input: a param that names a row needs a value the user knows or a data edge from a tool in
the set; other params (reasons, texts, numbers) the agent can fill itself. Each newcomer is
run once from the start state and must return a meaningful result. Growth stops at the
target size or when no tool can join; complexity is (nodes + 0.5 edges) / 50 of the
induced subgraph, as in the paper.
"""

from __future__ import annotations

import random
from typing import Any

from engine.spec.task import Task
from synth.tasks.chain import Facts, arg_options, sample_call
from synth.tasks.context import Ctx, field_values, meaningful_result

TARGET_TOOLS = 20


def complexity(ctx: Ctx, tools: list[str]) -> float:
    sub = ctx.graph.subgraph(tools)
    return round((sub.number_of_nodes() + 0.5 * sub.number_of_edges()) / 50.0, 4)


def _supplied(ctx: Ctx, tool: str, have: list[str], facts: Facts) -> bool:
    feeds = {
        p
        for u in have
        if ctx.graph.has_edge(u, tool)
        for _f, p in ctx.graph.edges[u, tool]["feeds"]
    }
    for name, p in ctx.tools[tool].params.items():
        if not p.required:
            continue
        ref = ctx.sources[tool][name].ref
        if not ref or name in feeds:
            continue
        if not ctx.info.is_id_ref(ref) or facts.by_root.get(ctx.info.root(ref)):
            continue
        return False
    return True


def grow_toolset(
    ctx: Ctx,
    state: bytes | Task,
    seed_tools: list[str],
    facts: Facts,
    user: Any,
    rng: random.Random,
    target: int = TARGET_TOOLS,
) -> tuple[list[str], dict[str, Any]]:
    """(toolset in join order, trial calls {tool: args}) grown from ``seed_tools``."""
    tools = [t for t in dict.fromkeys(seed_tools) if t in ctx.tools]
    known = facts.copy()
    trials: dict[str, Any] = {}
    rest = sorted(t for t in ctx.tools if t not in tools)
    rng.shuffle(rest)
    failed: set[str] = set()
    grew = True
    while grew and len(tools) < target:
        grew = False
        near = [
            t
            for t in rest
            if t not in tools and t not in failed and any(ctx.graph.has_edge(u, t) for u in tools)
        ]
        far = [t for t in rest if t not in tools and t not in failed and t not in near]
        for t in near + far:
            if not _supplied(ctx, t, tools, known):
                continue
            args, result = _trial(ctx, state, t, known, user, rng)
            if args is None:
                failed.add(t)
                continue
            tools.append(t)
            trials[t] = args
            for fieldname, ref in ctx.outputs[t].items():
                for v in field_values(result, fieldname)[:20]:
                    known.add(ctx.info.root(ref), v)
            grew = True
            break
    ctx.at(state)
    return tools, trials


def _trial(
    ctx: Ctx, state: bytes | Task, tool: str, known: Facts, user: Any, rng: random.Random
) -> tuple[Any, Any]:
    """Run ``tool`` once from ``state``: (args, result) of a meaningful call, or (None, None).
    A read first tries values the set already knows (one call), then drawn arguments."""
    read = ctx.tools[tool].read_only
    for args in arg_options(ctx, tool, known, limit=2, free=rng):
        ctx.at(state)
        r = ctx.call(tool, args)
        if r.ok and (meaningful_result(r.result) if read else ctx.meaningful(ctx.s.changes())):
            return args, r.result
    call = sample_call(ctx, state, tool, rng, user=user, tries=2)
    if call is None and read:
        call = sample_call(ctx, state, tool, rng, tries=2)
    return (call.args, call.result) if call is not None else (None, None)
