"""Finishing a draft into a task: drop sub-goals that lost their meaning, then the user,
the instruction, the toolset and the row mentions the auditor re-checks.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from engine.errors import TaskError
from engine.spec.task import Action, Task
from synth.tasks.context import Ctx, field_values
from synth.tasks.draft import Draft, current
from synth.tasks.ownership import foreign_args
from synth.tasks.render import fmt, greeting, words
from synth.tasks.toolset import complexity, grow_toolset
from synth.tasks.verify import rule_order


def drop_unstable_info(ctx: Ctx, d: Draft) -> None:
    """A question about a value the task's writes change has two answers, and a refusal of a
    call that later writes made impossible forbids nothing: drop both."""
    final = current(ctx, d)
    keep = []
    for g in d.subgoals:
        if g["kind"] == "refusal" and final is not None:
            f = g["forbidden"]
            ctx.at(final)  # in the state the user asks in: still against the rule, for them
            rules = {r.name for r in ctx.violated(f["tool"], f["args"])}
            if g["rule"] not in rules or foreign_args(
                ctx.conn, ctx.info, f["tool"], f["args"], d.user
            ):
                continue
            if not ctx.call(f["tool"], f["args"]).ok:
                continue
        if g["kind"] == "info" and ctx.tools[g["tool"]].read_only and final is not None:
            step = d.steps[g["steps"][0]]
            answers = []
            for state in (d.start, final):
                ctx.at(state)
                r = ctx.call(step.tool, step.args)
                vals = field_values(r.result, g["field"]) if r.ok else []
                answers.append(fmt(vals[0]) if len(vals) == 1 else None)
            if answers[0] != g["answers"][0] or answers[1] != g["answers"][0]:
                idx = g["steps"][0]
                d.steps.pop(idx)
                for h in d.subgoals:
                    h["steps"] = [i if i < idx else i - 1 for i in h.get("steps", []) if i != idx]
                continue
        keep.append(g)
    d.subgoals = keep


def assemble(ctx: Ctx, d: Draft, tid: str) -> tuple[Task | None, str]:
    spec = ctx.spec
    toolset, _trials = grow_toolset(ctx, d.start, d.tools(), d.facts, d.user, d.rng)
    ctx.at(d.start)
    conn = ctx.conn
    opening, user = greeting(ctx, conn, d.user, d.group)
    sentences = [opening] + [g["description"] for g in d.subgoals]
    known, lookups, extra = _knowledge(ctx, d, user.known)
    user.known.update(known)
    text = " ".join(sentences)
    missing = [(k, v) for k, v in extra if fmt(v) not in text]
    if missing:
        text += " For reference: " + ", ".join(f"{words(k)} {fmt(v)}" for k, v in missing) + "."
    answers = list(dict.fromkeys(a for g in d.subgoals for a in g.get("answers", [])))
    writes = len(d.writes)
    kinds = Counter(g["kind"] for g in d.subgoals)
    score = (
        len(d.steps)
        + 2 * max(0, writes - 1)
        + 2 * kinds["conditional"]
        + 2 * kinds["refusal"]
        + kinds["info"]
        + len(d.distractor_keys) / 3
    )
    label = "easy" if score < 6 else "medium" if score < 10 else "hard"
    subgoals = [{k: v for k, v in g.items() if k != "mentions"} for g in d.subgoals]
    for g in subgoals:
        g["actions"] = g.pop("steps", [])
    mentions: list[dict[str, Any]] = []
    for g in d.subgoals:
        for m in g.get("mentions", []):
            if m not in mentions:
                mentions.append(m)
    task = Task(
        id=tid,
        domain=spec.name,
        instruction=text,
        user=user,
        start_patch=d.patch.changes(ctx),
        distractors=len(d.patch.inserted),
        toolset=toolset,
        gold_actions=[Action(tool=s.tool, args=s.args) for s in d.steps],
        required_answers=answers,
        difficulty=label,
        complexity=complexity(ctx, toolset),
        chain=d.chain,
        subgoals=subgoals,
        meta={
            "level": d.level,
            "difficulty_score": round(score, 2),
            "user_key": d.user,
            "login": d.group,
            "distractor_entities": [[t, k] for t, k in d.distractor_keys],
            "distractor_rows": [[t, k] for t, k in d.patch.inserted],
            "edges": d.edges,
            "lookup_ids": lookups,
            "mentions": mentions,
        },
    )
    s = ctx.s
    try:
        s.reset(task)
    except TaskError:
        return None, "replay_failed"
    for a in task.gold_actions:
        if not s.call(a.tool, a.args).ok:
            return None, "replay_failed"
    task.gold_diff = s.changes()
    ctx.token = None
    if rule_order(s, task):
        task.order_matters = True
        task.instruction += " Please do these in the order I gave them."
    return task, ""


def _knowledge(
    ctx: Ctx, d: Draft, known: dict[str, Any]
) -> tuple[dict[str, Any], list[Any], list[tuple[str, Any]]]:
    """(facts the user states, ids the agent must look up, user facts for read steps).

    A gold argument is the user's when no earlier step's result holds it."""
    produced: set[str] = set()
    out: dict[str, Any] = {}
    lookups: list[Any] = []
    extra: list[tuple[str, Any]] = []
    mine = {str(v) for v in known.values()}
    user_cols = set(ctx.spec.entities[ctx.info.user_table].columns)  # a new phone is not theirs
    for st in d.steps:
        is_write = bool(st.changes)
        for name, v in st.args.items():
            ref = ctx.sources[st.tool][name].ref
            for x in v if isinstance(v, list) else [v]:
                if str(x) in produced:
                    knowable = ref and ref.split(".")[0] in ctx.info.knowable_tables
                    if (
                        ref
                        and ctx.info.is_id_ref(ref)
                        and not knowable
                        and str(x) not in mine
                        and x not in lookups
                    ):
                        lookups.append(x)
                    continue
                if str(x) not in mine:
                    taken = name in out or name in known or name in user_cols
                    key = f"{st.tool}.{name}" if taken else name
                    out[key] = v
                    mine.add(str(x))
                    if not is_write:
                        extra.append((name, x))
        for f in ctx.outputs[st.tool]:
            produced.update(str(x) for x in field_values(st.result, f))
    return out, lookups, extra
