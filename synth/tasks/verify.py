"""Executable verification of a task, and the rules that reject one (fail closed).

Every rule is a function returning problem strings (empty: fine). ``verify_task`` runs them
all in a fresh session: the gold actions are replayed from the task's start state and every
call must succeed; nothing here is a warning. Reasons start with a short code (the text
before ':') so rejections can be counted per rule.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from engine.errors import TaskError
from engine.reward.evaluate import evaluate_changes
from engine.session import Session
from engine.spec.task import Action, RowChange, Task
from engine.world import World

REPLAY = "replay_failed"
MISSING = "missing_entity"
NO_CHANGE = "no_change"
ORDER = "order_dependent"
EMPTY = "empty_passes"
DUPLICATE = "duplicate_gold_diff"
UNCHECKED = "unchecked_required_action"
GOLD_FAILS = "gold_fails_rubric"
LEAK = "instruction_leaks_id"


def reason_code(problem: str) -> str:
    return problem.split(":", 1)[0]


def _changes_json(changes: list[RowChange]) -> list[dict[str, Any]]:
    return [c.model_dump(mode="json") for c in changes]


def diff_digest(task: Task) -> str:
    """Identity of a task's gold diff (two tasks with one gold diff are one task twice)."""
    blob = json.dumps(_changes_json(task.gold_diff), sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _replay(s: Session, task: Task, actions: list[Action], check_refs: bool = False) -> list[str]:
    """Reset to the start state and run ``actions``; the problems (empty: all succeeded)."""
    try:
        s.reset(task)
    except TaskError as exc:
        return [f"{REPLAY}: start state does not apply: {exc}"]
    out: list[str] = []
    for i, a in enumerate(actions):
        if check_refs:
            out += [f"{MISSING}: {m}" for m in missing_refs(s, a)]
        r = s.call(a.tool, a.args)
        if not r.ok:
            out.append(
                f"{REPLAY}: gold action {i} {a.tool} failed: {r.error_type}: {r.message[:160]}"
            )
            break
    return out


def missing_refs(s: Session, action: Action) -> list[str]:
    """Argument values naming a row (a param with ``references``) that is not there."""
    tool = s.spec.tools.get(action.tool)
    if tool is None:
        return [f"unknown tool {action.tool!r}"]
    out = []
    for name, value in action.args.items():
        p = tool.params.get(name)
        if p is None:
            continue
        ref = p.references or (p.items.references if p.items is not None else None)
        if not ref or value is None or not _names_row(s.spec, ref):
            continue
        table, _, col = ref.partition(".")
        for v in value if isinstance(value, list) else [value]:
            s.guard.internal()
            hit = s.conn.execute(
                f'/*scaleenv:tasks*/ SELECT 1 FROM "{table}" WHERE "{col}" = ? LIMIT 1', (v,)
            ).fetchone()
            if hit is None:
                out.append(f"{action.tool}.{name} = {v!r} names no row of {ref}")
    return out


def _names_row(spec: Any, ref: str) -> bool:
    """Whether values of ``ref`` name a row (a key, a unique column, the target of a foreign
    key) rather than describe one (a limit, a first name)."""
    table, _, col = ref.partition(".")
    ent = spec.entities.get(table)
    if ent is None or col not in ent.columns:
        return False
    c = ent.columns[col]
    if col in ent.primary_key or c.unique or [col] in ent.unique:
        return True
    return any(x.references == ref for e in spec.entities.values() for x in e.columns.values())


def _same_but_new_columns(got: list[RowChange], stored: list[RowChange]) -> bool:
    """The replay made the stored changes; it only also shows columns a later migration
    added (absent from every stored row): the task is still valid, its gold unchanged."""
    if len(got) != len(stored):
        return False

    def key(c: RowChange) -> str:
        return json.dumps([c.table, c.key], sort_keys=True, default=str)

    for g, o in zip(sorted(got, key=key), sorted(stored, key=key), strict=True):
        if g.table != o.table or g.key != o.key or g.kind != o.kind:
            return False
        for mine, theirs in ((g.before, o.before), (g.after, o.after)):
            if (mine is None) != (theirs is None):
                return False
            if (
                mine is not None
                and theirs is not None
                and (
                    any(mine.get(c) != v for c, v in theirs.items()) or not set(theirs) <= set(mine)
                )
            ):
                return False
    return True


# ---- rules ----------------------------------------------------------------------------------
def rule_replay(s: Session, task: Task) -> list[str]:
    """Gold replays from the start state, every call succeeds, every named row exists, and
    the stored gold diff is what the replay produces."""
    problems = _replay(s, task, task.gold_actions, check_refs=True)
    if problems:
        return problems
    got = s.changes()
    if _changes_json(got) != _changes_json(task.gold_diff) and not _same_but_new_columns(
        got, task.gold_diff
    ):
        return [
            f"{REPLAY}: the replay's changes differ from the stored gold diff ({len(got)} vs {len(task.gold_diff)} rows)"
        ]
    score = s.evaluate(task, list(task.required_answers))
    if not score.passed:
        return [f"{GOLD_FAILS}: gold does not pass its own rubric: {score.summary()}"]
    return []


def rule_no_change(s: Session, task: Task) -> list[str]:
    """A task that asks for a change must change a compared column."""
    asks = any(
        not s.spec.tools[a.tool].read_only for a in task.gold_actions if a.tool in s.spec.tools
    )
    asks = asks or any(g.get("kind") in ("write", "conditional") for g in task.subgoals)
    if not asks:
        return []
    if not task.gold_diff:
        return [f"{NO_CHANGE}: the gold final state equals the start state"]
    probe = task.model_copy(update={"required_answers": []})
    if evaluate_changes(s.spec, probe, [], []).passed:
        return [f"{NO_CHANGE}: the gold changes touch only exempt columns"]
    return []


def rule_empty(s: Session, task: Task) -> list[str]:
    if evaluate_changes(s.spec, task, [], []).passed:
        return [f"{EMPTY}: doing nothing already passes"]
    return []


def _write_slots(s: Session, task: Task) -> list[int]:
    return [
        i
        for i, a in enumerate(task.gold_actions)
        if a.tool in s.spec.tools and not s.spec.tools[a.tool].read_only
    ]


def rule_order(s: Session, task: Task) -> list[str]:
    """Unless order matters, the writes done in reverse order (when that is valid) must
    reach a final state the rubric accepts."""
    slots = _write_slots(s, task)
    if task.order_matters or len(slots) < 2:
        return []
    actions = list(task.gold_actions)
    writes = [actions[i] for i in slots]
    for i, a in zip(slots, reversed(writes), strict=True):
        actions[i] = a
    if _replay(s, task, actions):
        return []  # not a valid order: only one order can be carried out
    score = s.evaluate(task, list(task.required_answers))
    if not score.passed:
        return [
            f"{ORDER}: the writes in another valid order give another final state ({score.explanation[:1]})"
        ]
    return []


def rule_checked(s: Session, task: Task) -> list[str]:
    """Every required step is checked: leaving out any write of the gold fails, a refusal's
    forbidden call fails, the wrong branch of a conditional fails, every answer is needed."""
    out: list[str] = []
    answers = list(task.required_answers)
    for i in _write_slots(s, task):
        rest = [a for j, a in enumerate(task.gold_actions) if j != i]
        if _replay(s, task, rest):
            continue  # later steps need this one: leaving it out fails anyway
        if s.evaluate(task, answers).passed:
            out.append(
                f"{UNCHECKED}: gold action {i} {task.gold_actions[i].tool} can be left out and the task still passes"
            )
    for g in task.subgoals:
        extra = g.get("forbidden") or g.get("wrong")
        if not extra:
            continue
        act = Action.model_validate(extra)
        if _replay(s, task, task.gold_actions):
            break
        r = s.call(act.tool, act.args)
        if g.get("kind") == "refusal" and not r.ok:
            out.append(
                f"{UNCHECKED}: refusal of {act.tool}: the forbidden call cannot even be made ({r.message[:80]})"
            )
        elif r.ok and s.evaluate(task, answers).passed:
            out.append(f"{UNCHECKED}: {g.get('kind')}: calling {act.tool} {act.args} still passes")
    for k, ans in enumerate(answers):
        others = answers[:k] + answers[k + 1 :]
        probe = task.model_copy(update={"required_answers": [ans]})
        if evaluate_changes(s.spec, probe, task.gold_diff, others).answers_ok:
            out.append(f"{UNCHECKED}: answer {ans!r} is already said by the other answers")
    return out


def rule_leak(s: Session, task: Task) -> list[str]:
    """The instruction names no id that the user does not know (values the agent has to
    look up)."""
    known = {str(v) for v in task.user.known.values() for v in (v if isinstance(v, list) else [v])}
    text = task.instruction
    out = []
    for ident in task.meta.get("lookup_ids", []):
        hit = re.search(rf"(?<![\w.-]){re.escape(str(ident))}(?![\w-])", text)
        if str(ident) not in known and hit is not None:
            out.append(f"{LEAK}: the instruction names {ident!r}, which the user cannot know")
    return out


RULES = (rule_replay, rule_no_change, rule_empty, rule_order, rule_checked, rule_leak)


def verify_task(world: World, task: Task, session: Session | None = None) -> list[str]:
    """Every problem of ``task`` on ``world`` (empty list: the task is sound)."""
    s = session or world.session()
    try:
        for rule in RULES:
            problems = rule(s, task)
            if problems:
                return problems
        return []
    finally:
        if session is None:
            s.close()


def duplicates(tasks: list[Task]) -> dict[str, str]:
    """Task id -> the earlier task id whose gold diff it repeats."""
    seen: dict[str, str] = {}
    out: dict[str, str] = {}
    for t in tasks:
        d = diff_digest(t)
        if d in seen:
            out[t.id] = seen[d]
        else:
            seen[d] = t.id
    return out


# ---- distractors ------------------------------------------------------------------------------
def distractor_problem(world: World, task: Task, session: Any) -> str | None:
    """Gold with and without the distractor rows must succeed and change the other rows
    alike: equal as changes once inserted rows drop their new keys (a generated id depends on
    how many rows a table has), or equal under the rubric's own matching (a surrogate key
    reused after a delete)."""
    rows = {(t, repr(sorted(k.items()))) for t, k in task.meta.get("distractor_rows", [])}
    plain = task.model_copy(
        update={
            "id": "scaleenv-plain-probe",
            "start_patch": [
                c for c in task.start_patch if (c.table, repr(sorted(c.key.items()))) not in rows
            ],
        }
    )
    got = []
    for t in (task, plain):
        session.reset(t)
        for a in t.gold_actions:
            if not session.call(a.tool, a.args).ok:
                return "gold fails without the distractors"
        got.append(session.changes())  # gold never touches a distractor row: no filter
    if _outcome(world.spec, got[0]) == _outcome(world.spec, got[1]):
        return None

    answers = list(task.required_answers)
    for mine, other in ((got[0], got[1]), (got[1], got[0])):
        if not evaluate_changes(
            world.spec, task.model_copy(update={"gold_diff": mine}), other, answers
        ).passed:
            return "distractors change the gold outcome"
    return None


def _outcome(spec: Any, changes: list[Any]) -> list[str]:
    """Changes as comparable text; inserted rows without their keys and links to new rows."""
    import json

    new_keys = {
        (ch.table, c, repr(v)) for ch in changes if ch.before is None for c, v in ch.key.items()
    }
    drawn = {(g.table, g.column) for t in spec.tools.values() for g in t.generate.values()}
    fks = {
        (t, c): tuple(col.references.split(".", 1))
        for t, e in spec.entities.items()
        for c, col in e.columns.items()
        if col.references
    }
    out = []
    for ch in changes:
        if ch.before is not None:
            out.append(
                json.dumps([ch.table, ch.key, ch.before, ch.after], sort_keys=True, default=str)
            )
            continue
        ent = spec.entities.get(ch.table)
        row = {}
        for c, v in (ch.after or {}).items():
            col = ent.columns.get(c) if ent else None
            ref = fks.get((ch.table, c))
            if (
                c in ch.key
                or (ch.table, c) in drawn
                or (col is not None and col.match_policy == "exempt")
                or (ref and (ref[0], ref[1], repr(v)) in new_keys)
            ):
                continue
            row[c] = v
        out.append(json.dumps([ch.table, "insert", row], sort_keys=True, default=str))
    return sorted(out)
