"""More sub-goals for a seed chain: another write, a conditional step, a question, a refusal.

* write: another write tool (one not used yet in the task, least covered overall), on the
  same user's rows, with the reads that produce its arguments;
* conditional: "do W on A; if that is not possible, do W on B" where whether A works is a
  fact of the database (its preconditions), so the agent has to look before acting;
* info: a question whose answer is a value of a read result (an order's total, a flight's
  status) or of the write's own result (the amount refunded): a required answer;
* refusal: a call a policy rule forbids although the tool would allow it: gold is no
  change (any such call shows in the diff) plus the rule's key phrase as the answer.

Each kind is tried against the running state and kept only if the gold so far still
replays; the caller gates how many are tried (difficulty and domain complexity).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from engine.reward.match import answer_found
from engine.spec.models import Column
from synth.tasks.chain import Call, arg_options, describe_facts, resolve, sample_call
from synth.tasks.context import Ctx, field_values, meaningful_result
from synth.tasks.domain import fetch_row
from synth.tasks.draft import Draft, current
from synth.tasks.draw import primary_param
from synth.tasks.refusal import try_refusal
from synth.tasks.render import Ambiguous, describe, fmt, request, singular, words
from synth.tasks.start import StartBuilder

KINDS = ("info", "write", "conditional", "refusal")


def add_write(
    ctx: Ctx, d: Draft, tool: str, call: Call, kind: str = "write", sentence: str | None = None
) -> bool:
    """Resolve the reads for ``call`` from the running state and append them and the call."""
    cur = current(ctx, d)
    if cur is None:
        return False
    if sentence is None:
        ctx.pending = []
        try:
            sentence = f"I'd like to {request(ctx, ctx.conn, call)}."
        except Ambiguous as exc:
            ctx.fail = f"ambiguous_description: {exc}"
            return False
    mentions = list(ctx.pending)
    touched = {_row_id(c) for w in d.writes for c in w.changes}
    if any(_row_id(c) in touched for c in call.changes):
        return False  # two writes on one row: undo each other or depend on their order
    facts = d.facts.copy()
    describe_facts(ctx, cur, call.rows, facts)
    res = resolve(ctx, cur, call, facts)
    if res is None:
        return False
    reads, edges = res
    first = len(d.steps)
    d.steps += reads + [call]
    d.facts = facts
    for fieldname, ref in ctx.outputs[call.tool].items():
        for v in field_values(call.result, fieldname):
            d.facts.add(ctx.info.root(ref), v)
    d.edges += [e for e in edges if e not in d.edges]
    ctx.at(cur)
    d.subgoals.append(
        {
            "kind": kind,
            "tool": call.tool,
            "description": sentence,
            "steps": list(range(first, len(d.steps))),
            "mentions": mentions,
        }
    )
    return True


def _row_id(change: Any) -> str:
    return f"{change.table}:{sorted(change.key.items())!r}"


def _fresh(answer: str, asked: set[str]) -> bool:
    """An answer that no other answer (or profile fact) already says, nor contains."""

    others = sorted(asked)
    return not answer_found(answer, others) and not any(answer_found(a, [answer]) for a in others)


def try_write(ctx: Ctx, d: Draft, coverage: Counter) -> bool:
    used = {s.tool for s in d.steps}
    tools = sorted(
        (t for t in ctx.write_tools if t not in used), key=lambda t: (coverage[t], d.rng.random())
    )
    targets = {repr(s.primary) for s in d.writes}
    cur = current(ctx, d)
    if cur is None:
        return False
    for tool in tools[:3]:
        call = sample_call(ctx, cur, tool, d.rng, user=d.user, tries=15)
        if call is None or repr(call.primary) in targets:
            continue
        if add_write(ctx, d, tool, call):
            coverage[tool] += 1
            return True
    return False


def _conditional_ok(ctx: Ctx, tool: str) -> str | None:
    """The primary param of a tool fit for 'W on A, else W on B': it names a knowable row
    and no other argument depends on that row (items of an order)."""

    pname = primary_param(ctx, tool)
    if pname is None:
        return None
    ref = ctx.sources[tool][pname].ref or ""
    table = ref.split(".")[0]
    if table not in ctx.info.knowable_tables:
        return None
    below = set(ctx.info.descendants(table))
    for name in ctx.tools[tool].params:
        r = ctx.sources[tool][name].ref
        if name != pname and r and ctx.info.is_id_ref(r) and r.split(".")[0] in below:
            return None
    return pname


def try_conditional(ctx: Ctx, d: Draft) -> bool:
    cur = current(ctx, d)
    if cur is None:
        return False
    tools = [t for t in ctx.write_tools if _conditional_ok(ctx, t)]
    d.rng.shuffle(tools)
    targets = {repr(s.primary) for s in d.writes}
    utable = ctx.info.user_table
    for tool in tools[:2]:
        pname = _conditional_ok(ctx, tool) or ""
        ref = ctx.sources[tool][pname].ref or ""
        b = sample_call(ctx, cur, tool, d.rng, user=d.user, tries=12)
        if b is None or repr(b.primary) in targets:
            continue
        others = [
            v
            for v, _n, _via in ctx.related(utable, {ctx.info.pk(utable)[0]: d.user}, ref)
            if v != b.args[pname]
            and v not in ctx.excluded.get(ref, ())
            and ctx.owners(ref, v) in (set(), {d.user})
            and repr((ref.split(".")[0], {ref.split(".")[1]: v})) not in targets
        ]
        d.rng.shuffle(others)
        failing, working = None, None
        for a in others[:6]:
            args = dict(b.args)
            args[pname] = a
            ctx.at(cur)
            bad = ctx.violated(tool, args)
            r = ctx.call(tool, args)
            table = ref.split(".")[0]
            acall = Call(
                tool,
                args,
                r.result,
                ctx.s.changes() if r.ok else [],
                d.user,
                (table, {ref.split(".")[1]: a}),
                [(table, {ref.split(".")[1]: a})],
            )
            if not r.ok and r.error_type == "precondition_failed" and failing is None:
                failing = acall
            elif r.ok and not bad and ctx.meaningful(acall.changes) and working is None:
                working = acall
        ctx.at(cur)
        conn = ctx.conn
        ctx.pending = []
        if failing is not None and (working is None or d.rng.random() < 0.6):
            try:
                text = f"Please {request(ctx, conn, failing)}. If that is not possible, please {request(ctx, conn, b)} instead."
            except Ambiguous:
                continue
            if add_write(ctx, d, tool, b, "conditional", text):
                d.subgoals[-1]["wrong"] = {"tool": tool, "args": failing.args}
                d.subgoals[-1]["branch"] = "else"
                return True
        elif working is not None:
            try:
                text = f"Please {request(ctx, conn, working)}. If that is not possible, please {request(ctx, conn, b)} instead."
            except Ambiguous:
                continue
            if add_write(ctx, d, tool, working, "conditional", text):
                d.subgoals[-1]["wrong"] = {"tool": tool, "args": b.args}
                d.subgoals[-1]["branch"] = "then"
                return True
    return False


def _answerable(ctx: Ctx, ref: str) -> bool:
    col = ctx.info.column(ref)
    if col is None or ctx.info.is_id_ref(ref) or col.type in ("boolean", "datetime", "text"):
        return False
    return not col.generated


def _answer(value: Any) -> str | None:
    text = fmt(value)
    if not text or len(text) > 40 or (isinstance(value, int) and abs(value) < 2):
        return None
    return text


def _own_values(ctx: Ctx, d: Draft) -> set[str]:
    """What the user knows about themself (their profile): never a question."""

    utable = ctx.info.user_table
    row = fetch_row(ctx.conn, ctx.info, utable, {ctx.info.pk(utable)[0]: d.user}) or {}
    return {fmt(v) for v in row.values() if v is not None}


def try_info(ctx: Ctx, d: Draft) -> bool:
    cur = current(ctx, d)
    if cur is None:
        return False
    ctx.at(d.start)
    asked = {a for g in d.subgoals for a in g.get("answers", [])} | _own_values(ctx, d)
    ctx.at(cur)
    if d.writes and d.rng.random() < 0.4:
        w = d.writes[-1]
        fields = [
            f
            for f, r in sorted(ctx.outputs[w.tool].items())
            if _answerable(ctx, r)
            and (ctx.info.column(r) or Column(type="text")).type in ("decimal", "integer")
        ]
        d.rng.shuffle(fields)
        argtext = {fmt(v) for v in w.args.values()}
        for f in fields:
            vals = field_values(w.result, f)
            ans = _answer(vals[0]) if len(vals) == 1 else None
            if ans and ans not in argtext and _fresh(ans, asked):
                d.subgoals.append(
                    {
                        "kind": "info",
                        "tool": w.tool,
                        "field": f,
                        "answers": [ans],
                        "steps": [d.steps.index(w)],
                        "description": f"After you {words(w.tool)}, please tell me the {words(f.split('.')[-1].replace('[]', ''))}.",
                    }
                )
                return True
    seeds = [s for s in d.writes if s.primary is not None]
    hint = None
    if seeds:
        table, key = seeds[0].primary  # type: ignore[misc]
        hint = (ctx.info.root(f"{table}.{next(iter(key))}"), next(iter(key.values())))
    tools = [t for t in ctx.read_tools if any(p.required for p in ctx.tools[t].params.values())]
    d.rng.shuffle(tools)
    for t in tools:
        for args in arg_options(ctx, t, d.facts, hint, limit=2):
            ctx.at(cur)
            r = ctx.call(t, args)
            if not r.ok or not meaningful_result(r.result):
                continue
            fields = [
                f
                for f, ref in sorted(ctx.outputs[t].items())
                if _answerable(ctx, ref) and "[]" not in f
            ]
            d.rng.shuffle(fields)
            for f in fields:
                vals = field_values(r.result, f)
                ans = _answer(vals[0]) if len(vals) == 1 else None
                if not ans or not _fresh(ans, asked):
                    continue
                ctx.pending = []
                try:
                    subject = _subject(ctx, t, args, ctx.outputs[t][f].split(".")[0])
                except Ambiguous:
                    subject = None
                if subject is None or answer_found(ans, [subject]):
                    continue  # the question must not say its own answer
                d.steps.append(Call(t, args, r.result))
                d.subgoals.append(
                    {
                        "kind": "info",
                        "tool": t,
                        "field": f,
                        "answers": [ans],
                        "steps": [len(d.steps) - 1],
                        "description": f"Could you also tell me the {words(f.split('.')[-1])} of {subject}?",
                        "mentions": list(ctx.pending),
                    }
                )
                return True
    return False


def _subject(ctx: Ctx, tool: str, args: dict[str, Any], of: str) -> str | None:
    """What the question is about: the row the call names ('order #W123'), or a row of
    the answer's own table under it ('my order', 'the payment of order #W123')."""

    for name, v in args.items():
        ref = ctx.sources[tool][name].ref
        if ref and ctx.info.is_id_ref(ref) and not isinstance(v, list):
            table, _, col = ref.partition(".")
            if ctx.info.pk(table) == [col]:
                text = describe(ctx, ctx.conn, table, {col: v})
                if of != table:
                    text = (
                        f"my {singular(of)}"
                        if text == "my account"
                        else f"the {singular(of)} of {text}"
                    )
                rest = [f"{words(k)} {fmt(x)}" for k, x in args.items() if k != name]
                return text + (f" ({', '.join(rest)})" if rest else "")
    return None


def add_subgoals(ctx: Ctx, sb: StartBuilder, d: Draft, n: int, coverage: Counter) -> None:
    """Try up to ``n`` more sub-goals, kinds drawn by the task's rng."""
    kinds = list(KINDS)
    weights = {"info": 3, "write": 3, "conditional": 2, "refusal": 2}
    order: list[str] = []
    if d.level == "hard":
        order.append(d.rng.choice(["conditional", "refusal"]))
    while len(order) < n:
        order.append(d.rng.choices(kinds, [weights[k] for k in kinds])[0])
    for kind in order[:n]:
        if kind == "info":
            try_info(ctx, d)
        elif kind == "write":
            try_write(ctx, d, coverage)
        elif kind == "conditional":
            try_conditional(ctx, d)
        elif kind == "refusal":
            try_refusal(ctx, sb, d)
