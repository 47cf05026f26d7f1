"""Task generation: seed chain -> start state with distractors -> sub-goals -> toolset ->
user and instruction -> gold replay -> verification. Deterministic per (world, seed).

Each task index has its own ``random.Random`` derived from the seed, write tools are taken
in a seeded rotation so every write tool is the seed of some task, and a candidate that any
rule rejects is dropped (its reason counted) and the next index is tried.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from engine.runtime.shared import shared_state
from engine.spec.task import Task, dump_tasks
from engine.world import World
from synth.audit import Auditor
from synth.graph import build_graph
from synth.seed.repair import columns_in
from synth.seed.values import sub_rng
from synth.tasks.answers_only import answer_tasks
from synth.tasks.assemble import assemble, drop_unstable_info
from synth.tasks.chain import Call, sample_call, user_facts
from synth.tasks.context import Ctx, field_values
from synth.tasks.draft import Draft, current
from synth.tasks.draw import NoCandidates, primary_param
from synth.tasks.links import owner
from synth.tasks.quality import explain, quality_report
from synth.tasks.start import StartBuilder
from synth.tasks.subgoals import add_subgoals, add_write
from synth.tasks.toolset import complexity
from synth.tasks.verify import diff_digest, distractor_problem, reason_code, verify_task

LEVELS = ("easy", "medium", "hard")
LEVEL_WEIGHTS = (0.4, 0.35, 0.25)
DISTRACTORS = {"easy": (1, 2), "medium": (3, 5), "hard": (6, 10)}
SUBGOALS = {"easy": (0, 1), "medium": (1, 2), "hard": (2, 4)}
ATTEMPTS_PER_TASK = 6
log = logging.getLogger(__name__)


def task_rng(seed: int, domain: str, *parts: object) -> random.Random:

    return sub_rng(seed, "tasks", domain, *parts)


@dataclass
class TaskSet:
    """Generated tasks and the report of how they were made."""

    tasks: list[Task]
    report: dict[str, Any] = field(default_factory=dict)

    def to_jsonl(self) -> str:
        return dump_tasks(self.tasks)

    def summary_line(self) -> str:
        r = self.report
        pol = r.get("policies", {})
        rej = sum(r.get("rejections", {}).values())
        parts = [f"{len(self.tasks)} tasks", f"{rej} rejected"]
        if pol:
            parts.append(
                "gold {:.0%} random {:.0%} empty {:.0%}".format(
                    pol.get("gold", 0.0), pol.get("random", 0.0), pol.get("empty", 0.0)
                )
            )
        aud = r.get("audit")
        if aud:
            parts.append(f"audit {aud['passed']}/{aud['checked']} passed")
        ts = r.get("toolset_sizes", {})
        if ts:
            parts.append(f"median toolset {ts.get('median')}")
        return "tasks: " + ", ".join(parts)


def generate_tasks(
    world: World,
    n: int,
    seed: int = 0,
    graph: nx.DiGraph | None = None,
    *,
    policies: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> TaskSet:
    """``n`` verified tasks for ``world`` (fewer only if the domain cannot give more).
    ``progress(done, n)`` is called after each shipped task (a progress bar).

    Runs with the world's start-patch caches cut to a scratch size (``Shared.scratch``):
    the sampler enters thousands of throwaway states, and a cache sized for a training
    run's task set would make memory grow with the number of tasks (issue 21)."""
    with shared_state(world).scratch():
        return _generate(world, n, seed, graph, policies, progress)


def _generate(
    world: World,
    n: int,
    seed: int,
    graph: nx.DiGraph | None,
    policies: bool,
    progress: Callable[[int, int], None] | None,
) -> TaskSet:
    import time

    t0 = time.perf_counter()
    ctx = Ctx(world, graph if graph is not None else build_graph(world.spec), seed)
    sb = StartBuilder(ctx)
    domain = world.spec.name
    order = sorted(ctx.write_tools)
    task_rng(seed, domain, "order").shuffle(order)
    coverage: Counter = Counter()
    rejections: Counter = Counter()
    seen: dict[str, str] = {}
    tasks: list[Task] = []
    vs = world.session()
    auditor = Auditor(world, vs)  # verifier and auditor both reset to each task: one copy
    audit_rejected: Counter = Counter()
    why: dict[str, Counter] = {}
    attempt = 0
    while len(tasks) < n and order and attempt < n * ATTEMPTS_PER_TASK:
        tool = order[attempt % len(order)]
        tid = f"{domain}-{seed}-{len(tasks):04d}"
        ctx.why.clear()
        why.setdefault(tool, Counter())  # a seed attempt was made for this tool
        task, reason = build_task(ctx, sb, seed, attempt, tool, tid, coverage)
        attempt += 1
        if task is None:
            rejections[reason.split(":", 1)[0]] += 1
            detail = ctx.why.most_common(1)[0][0] if ctx.why and ":" not in reason else ""
            why[tool][f"{reason}: {detail}" if detail else reason] += 1
            continue
        problems = verify_task(world, task, vs)
        if problems:
            rejections[reason_code(problems[0])] += 1
            why[tool][f"verification: {problems[0][:120]}"] += 1
            log.debug("rejected %s: %s | %s", task.id, problems[0][:300], task.instruction[:300])
            continue
        digest = diff_digest(task)
        if digest in seen:
            rejections["duplicate_gold_diff"] += 1
            why[tool]["duplicate_gold_diff: the same gold diff as an earlier task"] += 1
            continue
        problem = distractor_problem(world, task, vs)
        if problem:
            rejections["distractors_change_gold"] += 1
            why[tool]["distractors_change_gold"] += 1
            log.debug("rejected %s: %s | %s", task.id, problem, task.instruction[:300])
            continue
        found = auditor.audit(task)
        if found:  # the independent auditor has the last word: a task it rejects is not shipped
            code = found[0].split(":", 1)[0]
            rejections[f"audit_{code}"] += 1
            why[tool][f"audit: {found[0][:120]}"] += 1
            audit_rejected[code] += 1
            log.debug("audit rejected %s: %s | %s", task.id, found[0][:300], task.instruction[:300])
            continue
        seen[digest] = task.id
        coverage[tool] += 1
        tasks.append(task)
        if progress is not None:
            progress(len(tasks), n)
    if not order and len(tasks) < n:  # no write tool (none, or all quarantined): questions
        answer_tasks(ctx, sb, tasks, n, seed, auditor, rejections, audit_rejected, progress)
    vs.close()
    auditor.close()

    report = quality_report(world, tasks, seed, policies=policies, ctx=ctx)
    report["rejections"] = dict(sorted(rejections.items()))
    report["explain"] = explain(ctx, report, why)
    report["audit"] = {
        "checked": len(tasks) + sum(audit_rejected.values()),
        "passed": len(tasks),
        "rejected": dict(sorted(audit_rejected.items())),
    }
    report["attempts"] = attempt
    report["seconds"] = round(time.perf_counter() - t0, 2)
    return TaskSet(tasks, report)


# ---- one task ---------------------------------------------------------------------------------
def _login_tool(ctx: Ctx, group: list[str]) -> str | None:
    """The read tool that finds the user's id from exactly the facts of ``group``."""
    utable = ctx.info.user_table
    pk = f"{utable}.{ctx.info.pk(utable)[0]}"
    for t in sorted(ctx.read_tools):
        params = ctx.tools[t].params
        req = sorted(
            p.references.split(".", 1)[1] for p in params.values() if p.required and p.references
        )
        if (
            req == sorted(group)
            and all(p.references for p in params.values() if p.required)
            and any(ctx.info.root(r) == pk for r in ctx.outputs[t].values())
        ):
            return t
    return None


def _prepared_seed(
    ctx: Ctx, sb: StartBuilder, tool: str, rng: random.Random
) -> tuple[Any, Call] | None:
    """When no row passes a write's own checks (no account has a zero balance to close),
    edit one column those checks read on a row, in the start-state patch, and try again."""

    pname = primary_param(ctx, tool)
    if pname is None:
        return None
    ref = ctx.sources[tool][pname].ref or ""
    table, _, col = ref.partition(".")
    if ctx.info.pk(table) != [col]:
        return None
    cols: list[str] = []
    for sql, rule, used in ctx.checks[tool]:
        if rule is None and used == {pname}:
            cols += [
                c
                for c in sorted(columns_in(sql))
                if c in ctx.spec.entities[table].columns and c not in cols
            ]
    keys = ctx.keys(table)
    for key in rng.sample(keys, min(6, len(keys))):
        kd = ctx.key_dict(table, key)
        probe = sb.open(ctx.base)
        edits = sb.mutations(probe.conn, table, kd, cols, rng)[:6]
        probe.close()
        for c, value in edits:
            patch = sb.open(ctx.base)
            if sb.set_column(patch, table, kd, c, value):
                try:
                    state = ctx.state(patch.changes(ctx))
                    call = sample_call(ctx, state, tool, rng, primary=kd[col], tries=4)
                except NoCandidates:
                    call = None
                if call is not None:
                    return patch, call
            patch.close()
    return None


def _distractors(
    ctx: Ctx, sb: StartBuilder, call: Call, count: int, rng: random.Random, patch: Any = None
) -> tuple[Any, list]:

    utable = ctx.info.user_table
    targets = [(utable, {ctx.info.pk(utable)[0]: call.user})]
    if call.primary is not None and call.primary[0] != utable:
        targets.append(call.primary)
    for r in call.rows:
        if r not in targets and (
            r[0] in ctx.info.knowable_tables or ctx.info.up_path(r[0], utable) is None
        ):
            targets.append(r)
    patch = patch or sb.open(ctx.base)
    keys: list[tuple[str, dict]] = []
    for i in range(count * 2):
        if len(keys) >= count:
            break
        table, key = targets[i % len(targets)]
        own = owner(patch.conn, ctx.info, table, key)
        depths = (0,) if table == utable else (1, 0, 2)
        for depth in depths:
            new = sb.distractors.copy(patch, table, key, rng, depth, own)
            if new is not None:
                keys.append((table, new))
                break
    return patch, keys


def build_task(
    ctx: Ctx, sb: StartBuilder, seed: int, index: int, tool: str, tid: str, coverage: Counter
) -> tuple[Task | None, str]:
    """One candidate task seeded by a call of ``tool``, or (None, why not)."""
    rng = task_rng(seed, ctx.spec.name, "task", index)
    level = rng.choices(LEVELS, LEVEL_WEIGHTS)[0]
    ctx.exclude([])
    ctx.user, ctx.fail = None, None
    try:
        call = sample_call(ctx, ctx.base, tool, rng)
    except NoCandidates:
        call = None
    prepared = None
    if call is None:
        found = _prepared_seed(ctx, sb, tool, rng)
        if found is None:
            return None, "no_seed_call"
        prepared, call = found
    groups = ctx.info.login_groups
    group = rng.choices(groups, [1.0] * (len(groups) - 1) + [0.5])[0]
    lo, hi = DISTRACTORS[level]
    count = rng.randint(lo, hi)
    try:  # a prepared start stays open under the distractors' patch (a nested savepoint)
        for _ in range(3):  # distractors that block the seed call are drawn again, fewer
            patch = sb.child(prepared) if prepared is not None else sb.open(ctx.base)
            patch, keys = _distractors(ctx, sb, call, count, rng, patch)
            start = ctx.state(patch.changes(ctx))
            ctx.at(start)
            r = ctx.call(tool, call.args)
            if keys and r.ok:
                break
            patch.close()
            count = max(1, count // 2)
        else:
            return None, "distractors_block_seed"
        call = Call(tool, call.args, r.result, ctx.s.changes(), call.user, call.primary, call.rows)
        ctx.user = call.user
        d = Draft(
            index,
            rng,
            level,
            call.user,
            group,
            patch,
            start,
            user_facts(ctx, start, call.user, group),
        )
        d.distractor_keys = keys
        ctx.exclude(patch.inserted)
        try:
            return _finish(ctx, sb, d, call, tid, coverage)
        finally:
            patch.close()
    finally:
        if prepared is not None:
            prepared.close()


def _finish(
    ctx: Ctx, sb: StartBuilder, d: Draft, call: Call, tid: str, coverage: Counter
) -> tuple[Task | None, str]:
    utable = ctx.info.user_table
    login = _login_tool(ctx, d.group) if d.group != sorted(ctx.info.pk(utable)) else None
    if login is not None:
        ctx.at(d.start)
        args = {
            n: d.facts.by_root[ctx.info.root(p.references or "")][0]
            for n, p in ctx.tools[login].params.items()
            if p.required
        }
        r = ctx.call(login, args)
        if not r.ok:
            return None, "login_failed"
        d.steps.append(Call(login, args, r.result))
        for f, ref in ctx.outputs[login].items():
            for v in field_values(r.result, f):
                d.facts.add(ctx.info.root(ref), v)
    if not add_write(ctx, d, call.tool, call):
        return None, ctx.fail or "unresolvable_argument"
    d.chain = [s.tool for s in d.steps]
    if d.subgoals and login is not None:
        d.subgoals[0]["steps"] = list(range(0, len(d.steps)))
    lo, hi = SUBGOALS[d.level]
    gate = 1 + int(complexity(ctx, list(ctx.tools)) * 2)
    add_subgoals(ctx, sb, d, min(d.rng.randint(lo, hi), gate), coverage)
    if current(ctx, d) is None:
        return None, "replay_failed"
    drop_unstable_info(ctx, d)
    return assemble(ctx, d, tid)
