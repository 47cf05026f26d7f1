"""The walk behind an information request: from the user (or a row they name by its key)
down through list results, each row picked by a value no sibling shares, to a question.

Why a walk: the agent must find the row the way the user describes it (my platform "P",
its channel "C"), so every id in the gold comes from a list where a value the user says
singles its row out. Questions are about numbers and dates (a value of a row, the largest
one among siblings, how many rows a parent has), the classes the rule against listing
candidates covers; a count is asked only when the list holds every child row.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

from engine.db import q
from engine.reward.match import answer_found
from synth.tasks.chain import Call
from synth.tasks.context import Ctx
from synth.tasks.domain import TAG
from synth.tasks.ownership import count_matching
from synth.tasks.render import fmt, singular, words

MAX_DEPTH = 4  # rows walked down from the user before the question
LIST_LIMIT = 100  # a list this long may be cut by the tool's LIMIT: never counted or searched
ANSWER_TYPES = ("decimal", "integer", "date")  # value classes the anti-dump rule covers


@dataclass
class Node:
    """One row on the way down: its table, key, the value the user names it by."""

    table: str
    key: dict[str, Any]
    col: str
    name: str
    mention: dict[str, Any] = field(default_factory=dict)  # the facts the auditor re-checks


@dataclass
class Walk:
    """The reads so far, the ids they gave, the rows picked and the row mentions."""

    steps: list[Call] = field(default_factory=list)
    avail: dict[str, Any] = field(default_factory=dict)  # value root -> the one value
    path: list[Node] = field(default_factory=list)
    mentions: list[dict[str, Any]] = field(default_factory=list)


def _callable(ctx: Ctx, tool: str, avail: dict[str, Any]) -> dict[str, Any] | None:
    """Args for ``tool`` from the ids walked so far (required params only), or None."""
    args: dict[str, Any] = {}
    for name, p in ctx.tools[tool].params.items():
        if not p.required:
            continue
        ref = ctx.sources[tool][name].ref
        if not ref or ctx.info.root(ref) not in avail or p.type == "array":
            return None
        args[name] = avail[ctx.info.root(ref)]
    return args or None


def _items(ctx: Ctx, tool: str, result: Any) -> tuple[str, str, list[dict[str, Any]]] | None:
    """(table, key field, rows) of a result that lists rows of one table (or shows one)."""
    for f, ref in sorted(ctx.outputs[tool].items()):
        table, _, col = ref.partition(".")
        if "." in f or "[]" in f or ctx.info.pk(table) != [col]:
            continue
        rows = result if isinstance(result, list) else [result]
        rows = [r for r in rows if isinstance(r, dict) and r.get(f) is not None]
        if rows:
            return table, f, rows
    return None


def walk_to_question(
    ctx: Ctx, walk: Walk, user: Any, rng: random.Random, depth: int = 0
) -> tuple[str, str, str, str] | None:
    """Go down from the user through list results, picking rows by a unique name, until a
    question is asked: (sentence, answer, tool, field). A row that leads nowhere (no
    children to ask about) is put back and the question is asked a level up."""
    used = {s.tool for s in walk.steps}
    last = walk.path[-1] if walk.path else None
    below = ctx.info.root(f"{last.table}.{next(iter(last.key))}") if last else None
    options = []
    for t in sorted(ctx.read_tools):
        args = _callable(ctx, t, walk.avail) if t not in used else None
        if args is None:
            continue
        if below is None or any(ctx.info.root(ctx.sources[t][n].ref or "") == below for n in args):
            options.append((t, args))
    rng.shuffle(options)
    for t, args in options[:4]:
        res = ctx.call(t, args)
        got = _items(ctx, t, res.result) if res.ok else None
        if got is None:
            continue
        table, keyf, rows = got
        shown = isinstance(res.result, list)
        if shown and len(rows) >= LIST_LIMIT:
            continue
        walk.steps.append(Call(t, args, res.result))
        for kind in _kinds(ctx, table, shown, depth, rng):
            if kind == "down":
                found = _down(ctx, walk, t, table, keyf, rows, user, rng, depth)
            else:
                found = _ask(ctx, walk, t, args, table, keyf, rows, shown, kind, user, rng)
            if found is not None:
                return found
        walk.steps.pop()
    ctx.fail = "no_question: no read from here gives a question"
    return None


def _down(
    ctx: Ctx,
    walk: Walk,
    tool: str,
    table: str,
    keyf: str,
    rows: list[dict[str, Any]],
    user: Any,
    rng: random.Random,
    depth: int,
) -> tuple[str, str, str, str] | None:
    """Pick a row the user can name and walk on from it (up to three rows are tried)."""
    root = ctx.info.root(f"{table}.{ctx.info.pk(table)[0]}")
    order = list(range(len(rows)))
    rng.shuffle(order)
    tried = 0
    for i in order:
        if tried >= 3:
            break
        node = _node(ctx, walk, tool, table, keyf, rows[i], rows, user)
        if node is None:
            continue
        tried += 1
        push(walk, node)
        walk.avail[root] = rows[i][keyf]
        found = walk_to_question(ctx, walk, user, rng, depth + 1)
        if found is not None:
            return found
        del walk.avail[root]
        walk.path.pop()
        walk.mentions.pop()
    return None


def _kinds(ctx: Ctx, table: str, shown: bool, depth: int, rng: random.Random) -> list[str]:
    """The question kinds to try on a read's rows, in order: mostly a walk further down when
    some read takes this table's rows, then a value of a row or the largest one, a count
    now and then (every list has one, so it would crowd the others out)."""
    if not shown:
        return ["field"]
    kinds = ["field", "largest"]
    rng.shuffle(kinds)
    kinds.insert(0 if rng.random() < 0.3 else 2, "count")
    root = ctx.info.root(f"{table}.{ctx.info.pk(table)[0]}")
    below = any(
        ctx.info.root(ctx.sources[t][n].ref or "") == root
        for t in ctx.read_tools
        for n, p in ctx.tools[t].params.items()
        if p.required
    )
    if below and depth < MAX_DEPTH - 1:
        kinds.insert(0 if rng.random() < 0.75 else len(kinds), "down")
    return kinds


def _ask(
    ctx: Ctx,
    walk: Walk,
    tool: str,
    args: dict[str, Any],
    table: str,
    keyf: str,
    rows: list[dict[str, Any]],
    shown: bool,
    kind: str,
    user: Any,
    rng: random.Random,
) -> tuple[str, str, str, str] | None:
    """One kind of question on the rows a read gave; None when this kind does not fit."""
    fields = _answer_fields(ctx, tool, table)
    where = _where(walk)
    plural = words(table)
    if kind == "count":
        if len(rows) < 2 or _db_count(ctx, table, args, tool) != len(rows):
            return None
        shown_text = [json.dumps(st.result, default=str) for st in walk.steps]
        if answer_found(str(len(rows)), shown_text):  # '3' read off a date: not a count
            return None
        subject = (
            f"How many {plural} do I have"
            if not walk.path
            else f"How many {plural} does {where} have"
        )
        return _final(ctx, walk, f"{subject}?", str(len(rows)), tool, keyf)
    if kind == "largest":
        rng.shuffle(fields)
        for f in fields:
            vals = [r.get(f) for r in rows if r.get(f) is not None]
            if len(vals) < 3 or len(vals) != len(rows):
                continue
            top = max(vals)
            ans = _answer(top)
            if ans is None:
                continue
            among = f"my {plural}" if not walk.path else f"the {plural} of {where}"
            text = f"What is the largest {words(f)} among {among}?"
            return _final(ctx, walk, text, ans, tool, f)
        return None
    order = list(range(len(rows)))
    rng.shuffle(order)
    for i in order[:6]:
        row = rows[i]
        node = _node(ctx, walk, tool, table, keyf, row, rows, user) if shown else None
        if shown and node is None:
            continue
        rng.shuffle(fields)
        for f in fields:
            ans = _answer(row.get(f))
            if ans is None:
                continue
            if node is not None:
                push(walk, node)
            text = f"What is the {words(f)} of {_where(walk)}?" if walk.path else None
            got = _final(ctx, walk, text, ans, tool, f) if text else None
            if got is not None:
                return got
            if node is not None:
                walk.path.pop()
                walk.mentions.pop()
    return None


def push(walk: Walk, node: Node) -> None:
    walk.path.append(node)
    walk.mentions.append(node.mention)


def _final(
    ctx: Ctx, walk: Walk, text: str, ans: str, tool: str, fieldname: str
) -> tuple[str, str, str, str] | None:
    """The question, unless the answer is already in it (a name with the number in it)."""
    if answer_found(ans, [text]) or any(answer_found(ans, [str(v)]) for v in walk.avail.values()):
        return None
    return text, ans, tool, fieldname


def _where(walk: Walk) -> str:
    """'the release "R1" of the version "V2" of my platform "P"' for the path walked."""
    parts = []
    for i, node in enumerate(reversed(walk.path)):
        top = i == len(walk.path) - 1
        parts.append(f'{"my" if top else "the"} {singular(node.table)} "{node.name}"')
    return " of ".join(parts)


def _node(
    ctx: Ctx,
    walk: Walk,
    tool: str,
    table: str,
    keyf: str,
    row: dict[str, Any],
    rows: list[dict[str, Any]],
    user: Any,
) -> Node | None:
    """The row as the user names it: by a text column whose value no sibling shares and that,
    with the parent's name, selects only it among the user's rows (the auditor re-checks)."""
    info = ctx.info
    ent = ctx.spec.entities[table]
    cands = []
    for f, ref in sorted(ctx.outputs[tool].items()):
        t, _, col = ref.partition(".")
        c = ent.columns.get(col)
        v = row.get(f)
        if t != table or c is None or c.type != "string" or c.primary_key or c.references:
            continue
        if not isinstance(v, str) or not 0 < len(v) <= 60 or '"' in v or v.strip() != v:
            continue
        if sum(1 for r in rows if r.get(f) == v) != 1:
            continue
        cands.append((0 if ("name" in col or "title" in col) else 1, col, v))
    pk = info.pk(table)[0]
    key = {pk: row[keyf]}
    parent = walk.path[-1] if walk.path else None
    link = None
    if parent is not None:
        link = next((fk for fk in info.parents(table) if fk.parent == parent.table), None)
        if link is None:
            return None
    mine = info.owned(table)
    for _rank, col, v in sorted(cands):
        where: list[tuple[str, Any]] = [(col, v)]
        if link is not None and parent is not None:
            where.append((f"{link.column}.{parent.col}", parent.name))
        if count_matching(ctx.conn, info, table, where, user if mine else None) != 1:
            continue
        mention = {
            "table": table,
            "key": dict(key),
            "where": [list(w) for w in where],
            "mine": mine,
        }
        return Node(table, key, col, v, mention)
    return None


def _answer_fields(ctx: Ctx, tool: str, table: str) -> list[str]:
    """Output fields of ``table`` that hold a number or a date the user may ask for."""
    out = []
    for f, ref in sorted(ctx.outputs[tool].items()):
        t, _, col = ref.partition(".")
        c = ctx.spec.entities[table].columns.get(col) if t == table else None
        if c is None or "." in f or "[]" in f or c.type not in ANSWER_TYPES:
            continue
        if c.primary_key or c.references or c.generated or c.match_policy == "exempt":
            continue
        out.append(f)
    return out


def _answer(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    text = fmt(value)
    if not text or len(text) > 40 or (isinstance(value, int) and abs(value) < 2):
        return None
    return text


def _db_count(ctx: Ctx, table: str, args: dict[str, Any], tool: str) -> int | None:
    """How many rows of ``table`` the call's id args own in the database (a list the tool
    filters or cuts is not a count of them)."""
    conds, vals = [], []
    for name, v in args.items():
        ref = ctx.sources[tool][name].ref or ""
        ptable = ref.partition(".")[0]
        fk = next((f for f in ctx.info.parents(table) if f.parent == ptable), None)
        if fk is None:
            return None
        conds.append(f"{q(fk.column)} = ?")
        vals.append(v)
    if not conds:
        return None
    sql = f"SELECT COUNT(*) FROM {q(table)} WHERE {' AND '.join(conds)}"
    return int(ctx.conn.execute(TAG + sql, vals).fetchone()[0])
