"""Refusal sub-goals: a call a policy rule forbids although the tool would allow it, drawn
for the task's own user and kept only while the rule really applies to that call.

Gold is no change (any such call shows in the diff) plus the rule's key phrase as the
answer; when no row of the user breaks the rule, one column the rule tests is edited in
the start state (an order placed long ago), tried on the draft's patch first.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from engine.reward.match import normalize_answer
from engine.spec.models import PolicyRule
from engine.spec.task import Task
from synth.seed.repair import columns_in
from synth.tasks.chain import Call, sample_call
from synth.tasks.context import Ctx
from synth.tasks.draft import Draft, current, prepare
from synth.tasks.draw import primary_param
from synth.tasks.render import Ambiguous, request
from synth.tasks.start import Patch, StartBuilder


def key_phrase(rule: PolicyRule) -> str | None:
    """The words of the rule's name that its explanation repeats ('30 days', 'basic
    economy'): what an agent that explains the refusal will say."""
    tokens = [t for t in rule.name.split("_") if t]
    text = " " + normalize_answer(rule.explanation) + " "
    best = None
    for i in range(len(tokens)):
        for j in range(i + 2, len(tokens) + 1):
            phrase = " ".join(tokens[i:j])
            if f" {normalize_answer(phrase)} " in text and (
                best is None or len(phrase) > len(best)
            ):
                best = phrase
    return best


def try_refusal(ctx: Ctx, sb: StartBuilder, d: Draft) -> bool:
    rules = [r for r in ctx.spec.policy_rules if r.tool in ctx.tools]
    d.rng.shuffle(rules)
    for rule in rules[:3]:
        cur = current(ctx, d)
        if cur is None:
            return False

        def acc(res: Any, ch: Any, bad: list[str], rule: PolicyRule = rule) -> bool:
            return res.ok and rule.name in bad and ctx.meaningful(ch)

        call = sample_call(
            ctx, cur, rule.tool, d.rng, user=d.user, seek=rule.name, accept=acc, tries=8
        )
        if call is None:
            call = _prepared_refusal(ctx, sb, d, rule, acc)
        if call is None:
            continue
        rows = _named_rows(ctx, call.tool, call.args)
        if any(
            g.get("forbidden", {}).get("tool") == call.tool
            and _named_rows(ctx, call.tool, g["forbidden"]["args"]) == rows
            for g in d.subgoals
        ):
            continue  # the same refusal twice (another reason for one cancellation)
        ctx.at(current(ctx, d) or cur)
        phrase = key_phrase(rule)
        ctx.pending = []
        try:
            text = f"I would also like to {request(ctx, ctx.conn, call)}."
        except Ambiguous:
            continue
        d.subgoals.append(
            {
                "kind": "refusal",
                "tool": rule.tool,
                "rule": rule.name,
                "explanation": rule.explanation,
                "forbidden": {"tool": call.tool, "args": call.args},
                "answers": [phrase] if phrase else [],
                "steps": [],
                "description": text,
                "mentions": list(ctx.pending),
            }
        )
        return True
    return False


def _named_rows(ctx: Ctx, tool: str, args: dict[str, Any]) -> list[str]:
    """The rows a call names by key (its target), as comparable text."""
    out = []
    for name, v in sorted(args.items()):
        ref = ctx.sources[tool][name].ref
        if ref and ctx.info.is_id_ref(ref):
            out.append(f"{ref}={v!r}")
    return out


def _prepared_refusal(
    ctx: Ctx, sb: StartBuilder, d: Draft, rule: PolicyRule, acc: Any
) -> Call | None:
    """Make the rule apply by editing a column it tests on one of the user's rows (an order
    placed long ago), trying the edit first (``_trial_state``)."""

    pname = primary_param(ctx, rule.tool)
    if pname is None:
        return None
    ref = ctx.sources[rule.tool][pname].ref or ""
    table, _, col = ref.partition(".")
    if ctx.info.pk(table) != [col]:
        return None
    cols = [c for c in sorted(columns_in(rule.violated)) if c in ctx.spec.entities[table].columns]
    utable = ctx.info.user_table
    cands = [
        v
        for v, _n, _via in ctx.related(utable, {ctx.info.pk(utable)[0]: d.user}, ref)
        if v not in ctx.excluded.get(ref, ()) and ctx.owners(ref, v) in (set(), {d.user})
    ][:4]
    used = {repr(s.primary) for s in d.writes}
    for v in cands:
        key = {col: v}
        if repr((table, key)) in used:
            continue
        with _at_start(d):
            edits = sb.mutations(d.patch.conn, table, key, cols, d.rng)[:6]
        for c, value in edits:
            start = _trial_state(ctx, sb, d, table, key, c, value)
            if start is None:
                continue
            probe = Draft(
                d.index, d.rng, d.level, d.user, d.group, d.patch, start, d.facts, list(d.steps)
            )
            cur = current(ctx, probe)
            if cur is None:
                continue
            call = sample_call(
                ctx,
                cur,
                rule.tool,
                d.rng,
                user=d.user,
                primary=v,
                seek=rule.name,
                accept=acc,
                tries=4,
            )
            if call is not None and prepare(ctx, sb, d, table, key, c, value):
                return call
    return None


def _trial_state(
    ctx: Ctx, sb: StartBuilder, d: Draft, table: str, key: dict[str, Any], col: str, value: Any
) -> Task | None:
    """The start state with one column edited (None: the edit is not sound), made on the
    draft's own patch and taken back at once: no copy of the database."""
    trial = Patch(d.patch.conn, list(d.patch.inserted), dict(d.patch.updated))
    with _at_start(d):
        if not sb.set_column(trial, table, key, col, value):
            return None
        return ctx.state(trial.changes(ctx))


@contextmanager
def _at_start(d: Draft) -> Iterator[None]:
    """The draft's patch connection (it holds ``d.start``) inside a savepoint that is rolled
    back on exit."""
    conn = d.patch.conn
    conn.execute("SAVEPOINT refusal_trial")
    try:
        yield
    finally:
        conn.execute("ROLLBACK TO refusal_trial")
        conn.execute("RELEASE refusal_trial")
