"""Information requests: tasks whose success is a stated answer, with no change to the state.

Why: a read-only world (a report API, a catalog) has no write tool, so the write-chain
sampler builds no task there; an information request still makes the agent log the user
in, walk the user's rows by the names the user says, and read one value. The user asks
"what is the X of my Y named N", "how many Z does W have" or "what is the largest X among
W's Z"; each row on the way is named by a value unique among its siblings (and the auditor
re-checks it against the database), the gold is the reads that find it, and the answer is
a number or a date, so the engine's rule against listing candidates applies. A candidate
whose gold results, dumped as text, would already pass is dropped.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

from engine.db import q
from engine.spec.task import Task
from synth.audit import Auditor
from synth.seed.values import sub_rng
from synth.tasks.answers_walk import Node, Walk, push, walk_to_question
from synth.tasks.assemble import assemble
from synth.tasks.chain import Call, user_facts
from synth.tasks.context import Ctx
from synth.tasks.domain import TAG
from synth.tasks.draft import Draft
from synth.tasks.start import StartBuilder
from synth.tasks.verify import reason_code, verify_task

ATTEMPTS_PER_TASK = 12  # candidates are cheap (reads only); many fail for want of rows


def answer_tasks(
    ctx: Ctx,
    sb: StartBuilder,
    tasks: list[Task],
    n: int,
    seed: int,
    auditor: Auditor,
    rejections: Counter,
    audit_rejected: Counter,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Append information requests to ``tasks`` until it holds ``n`` (or attempts run out);
    each is verified like any task, must not pass with its gold results dumped, and is
    audited. Rejection reasons are counted into ``rejections``."""
    domain = ctx.spec.name
    vs = ctx.world.session()
    seen: set[str] = {json.dumps([t.instruction, t.required_answers]) for t in tasks}
    try:
        for attempt in range(n * ATTEMPTS_PER_TASK):
            if len(tasks) >= n:
                break
            tid = f"{domain}-{seed}-{len(tasks):04d}"
            task, reason = build_answer_task(ctx, sb, seed, attempt, tid)
            if task is None:
                rejections[f"answer_{reason.split(':', 1)[0]}"] += 1
                continue
            problems = verify_task(ctx.world, task, vs)
            if problems:
                rejections[reason_code(problems[0])] += 1
                continue
            if dump_passes(vs, task):
                rejections["answer_dump_passes"] += 1
                continue
            digest = json.dumps([task.instruction, task.required_answers])
            if digest in seen:
                rejections["answer_duplicate"] += 1
                continue
            found = auditor.audit(task)
            if found:
                code = found[0].split(":", 1)[0]
                rejections[f"audit_{code}"] += 1
                audit_rejected[code] += 1
                continue
            seen.add(digest)
            tasks.append(task)
            if progress is not None:
                progress(len(tasks), n)
    finally:
        vs.close()


def dump_passes(s: Any, task: Task) -> bool:
    """Whether stating every list the gold reads verbatim (all candidates) passes."""
    s.reset(task)
    said = []
    for a in task.gold_actions:
        r = s.call(a.tool, a.args)
        if isinstance(r.result, list):  # the candidates; one row's record is an answer
            said.append(json.dumps(r.result, default=str, sort_keys=True))
    s.reset(task)
    return bool(s.evaluate(task, said).passed)


# ---- one task -------------------------------------------------------------------------------------
def build_answer_task(
    ctx: Ctx, sb: StartBuilder, seed: int, index: int, tid: str
) -> tuple[Task | None, str]:
    """One information request for a random user, or (None, why not)."""
    rng = sub_rng(seed, "tasks", ctx.spec.name, "answer", index)
    info = ctx.info
    utable = info.user_table
    upk = info.pk(utable)[0]
    users = ctx.keys(utable)
    if not users:
        return None, "no_users"
    keyed = _keyed(ctx)
    modes = ["user", "key"] if keyed else ["user"]
    rng.shuffle(modes)
    groups = info.login_groups
    group = rng.choices(groups, [1.0] * (len(groups) - 1) + [0.5])[0]
    patch = sb.open(ctx.base)
    try:
        start = ctx.state(patch.changes(ctx))
        ctx.exclude([])
        for mode in modes:
            user = ctx.key_dict(utable, rng.choice(users))[upk]
            by_key = _start_key(ctx, keyed, rng) if mode == "key" else None
            if by_key is not None and by_key[0] is not None:
                user = by_key[0]  # the row's owner asks about it
            ctx.user, ctx.fail = user, None
            ctx.at(start)
            facts = user_facts(ctx, start, user, group)
            walk = Walk()
            if not _login(ctx, walk, user, group):
                return None, "login_failed"
            if by_key is not None:  # the user names the row by its key, as the API's callers do
                node = by_key[1]
                push(walk, node)
                walk.avail[info.root(f"{node.table}.{node.col}")] = node.key[node.col]
            elif mode == "key":
                continue
            question = walk_to_question(ctx, walk, user, rng, depth=len(walk.path))
            if question is not None:
                break
        else:
            return None, ctx.fail or "no_question"
        text, ans, tool, fieldname = question
        d = Draft(index, rng, "easy", user, group, patch, start, facts)
        d.steps = list(walk.steps)
        d.chain = [s.tool for s in d.steps]
        d.subgoals.append(
            {
                "kind": "info",
                "tool": tool,
                "field": fieldname,
                "answers": [ans],
                "steps": list(range(len(d.steps))),
                "description": text,
                "mentions": walk.mentions,
            }
        )
        task, reason = assemble(ctx, d, tid)
        if task is not None:
            task.meta["answer_only"] = True
        return task, reason
    finally:
        patch.close()


def _keyed(ctx: Ctx) -> list[tuple[str, str]]:
    """(get tool, table) for tables that no read lists: the API's callers have the row's
    name already (a place id, a domain), as the user here has its key; a walk may start
    there instead of at the user."""
    info = ctx.info
    out = []
    for t in sorted(ctx.read_tools):
        req = [n for n, p in ctx.tools[t].params.items() if p.required]
        ref = ctx.sources[t][req[0]].ref or "" if len(req) == 1 else ""
        table, _, col = ref.partition(".")
        if not table or table == info.user_table or info.pk(table) != [col]:
            continue
        root = info.root(ref)
        listed = any(
            info.root(r) == root
            and all(info.root(ctx.sources[u][n].ref or "") != root for n in ctx.tools[u].params)
            for u in ctx.read_tools
            if u != t and ctx.tools[u].returns is not None and ctx.tools[u].returns.shape == "list"
            for r in ctx.outputs[u].values()
        )
        if not listed:
            out.append((t, table))
    return out


def _start_key(
    ctx: Ctx, keyed: list[tuple[str, str]], rng: random.Random
) -> tuple[Any, Node] | None:
    """(its owner or None, the row): a row of a keyed table that at most one user owns."""
    tool, table = rng.choice(keyed)
    pk = ctx.info.pk(table)[0]
    keys = ctx.keys(table)
    for k in rng.sample(keys, min(4, len(keys))):
        value = ctx.key_dict(table, k)[pk]
        owners = ctx.owners(f"{table}.{pk}", value)
        if len(owners) > 1 or not isinstance(value, str | int) or '"' in str(value):
            continue
        owner = next(iter(owners)) if owners else None
        mention = {"table": table, "key": {pk: value}, "where": [[pk, value]], "mine": bool(owners)}
        return owner, Node(table, {pk: value}, pk, str(value), mention)
    return None


def _login(ctx: Ctx, walk: Walk, user: Any, group: list[str]) -> bool:
    """Call the read tool that finds the user's id from the login facts (their email); a user
    who knows their id needs none."""
    info = ctx.info
    utable = info.user_table
    pk = f"{utable}.{info.pk(utable)[0]}"
    walk.avail[info.root(pk)] = user
    if group == sorted(info.pk(utable)):
        return True
    row = ctx.conn.execute(
        TAG
        + f"SELECT {', '.join(q(c) for c in group)} FROM {q(utable)} WHERE {q(info.pk(utable)[0])} = ?",
        (user,),
    ).fetchone()
    if row is None:
        return False
    known = {info.root(f"{utable}.{c}"): v for c, v in zip(group, row, strict=True)}
    for t in sorted(ctx.read_tools):
        params = ctx.tools[t].params
        req = {n: p.references for n, p in params.items() if p.required}
        if (
            sorted(r.split(".", 1)[1] for r in req.values() if r and r.startswith(utable + "."))
            != group
        ):
            continue
        if not all(req.values()) or not any(info.root(r) == pk for r in ctx.outputs[t].values()):
            continue
        args = {n: known[info.root(r or "")] for n, r in req.items()}
        res = ctx.call(t, args)
        if res.ok and str(user) in {str(v) for v in _flat(res.result)}:
            walk.steps.append(Call(t, args, res.result))
            return True
    return False


def _flat(result: Any) -> list[Any]:
    if isinstance(result, dict):
        return [x for v in result.values() for x in _flat(v)]
    if isinstance(result, list):
        return [x for v in result for x in _flat(v)]
    return [result]
