"""Scoring an episode: the agent's row changes against the task's gold diff, plus answers.

Both change lists start from the same task start state, so comparing the changes is
comparing the final states, at O(changes) cost instead of O(world). Rows are matched on
each entity's match key (``engine.diff.match_key_columns``) and compared column by column
under the column's policy (``engine.reward.match``). Pure: it never touches a database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from engine.reward.diff import label_key, match_key_columns, row_key, sort_token
from engine.reward.match import answer_found, canonical, contradicting_values, rows_match
from engine.spec.models import Column, DomainSpec, Entity
from engine.spec.task import RowChange, Task

UNEXPECTED_PENALTY = 0.5  # partial credit lost per unexpected change, relative to the expected


class Score(BaseModel):
    """The verdict on one episode; ``reward`` is what a trainer uses."""

    passed: bool
    reward: float = Field(ge=0.0, le=1.0)
    partial: float = Field(ge=0.0, le=1.0)
    state_ok: bool
    answers_ok: bool
    expected: int = 0  # non-trivial expected row changes (keys)
    matched: int = 0
    unexpected: int = 0  # actual changes to non-exempt columns the gold does not make
    answers_expected: int = 0
    answers_found: int = 0
    explanation: list[str] = Field(default_factory=list)

    def summary(self) -> str:
        """One line: verdict, reward, counts and the first difference."""
        verdict = "PASS" if self.passed else "FAIL"
        line = (
            f"{verdict} reward={self.reward:.3f} changes={self.matched}/{self.expected} "
            f"unexpected={self.unexpected} answers={self.answers_found}/{self.answers_expected}"
        )
        if self.explanation:
            more = f" (+{len(self.explanation) - 1} more)" if len(self.explanation) > 1 else ""
            line += f": {self.explanation[0]}{more}"
        return line


@dataclass
class _Slot:
    """All rows of one table under one match key: start rows removed, final rows added."""

    label: dict[str, Any]
    befores: list[dict[str, Any]] = field(default_factory=list)
    afters: list[dict[str, Any]] = field(default_factory=list)

    @property
    def kind(self) -> str:
        if not self.befores and not self.afters:
            return "none"
        if not self.befores:
            return "insert"
        return "delete" if not self.afters else "update"


class _Table:
    def __init__(self, name: str, entity: Entity) -> None:
        self.name = name
        self.entity = entity
        self.columns = entity.columns
        self.key_cols = match_key_columns(entity)
        pk = entity.primary_key
        self.id_cols = pk or list(entity.columns)

    def key(self, row: dict[str, Any]) -> tuple[Any, ...]:
        return row_key(self.entity, self.key_cols, row)

    def row_id(self, row: dict[str, Any]) -> tuple[Any, ...]:
        """Identity of a start-state row (both runs share the start state)."""
        return tuple(canonical(self.columns[c], row.get(c)) for c in self.id_cols)

    def show(self, col: str, value: Any) -> str:
        c = self.columns.get(col)
        if value is not None and c is not None and c.type == "decimal":
            d = canonical(c, value)
            return str(d[1]) if d and d[0] == "num" else repr(value)
        return repr(value)

    def label(self, slot: _Slot) -> str:
        return label_key(self.name, slot.label)

    def key_desc(self, slot: _Slot) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in slot.label.items())


def _entity_for(spec: DomainSpec, table: str, changes: Iterable[RowChange]) -> Entity:
    if table in spec.entities:
        return spec.entities[table]
    names: dict[str, None] = {}
    for ch in changes:  # a table the spec does not know: compare its values as text, exactly
        for row in (ch.before, ch.after, ch.key):
            names.update(dict.fromkeys(row or {}))
    return Entity(columns={n: Column(type="string") for n in names or {"key": None}})


def _slots(t: _Table, changes: Iterable[RowChange]) -> dict[tuple, _Slot]:
    out: dict[tuple, _Slot] = {}
    for ch in changes:
        for row, side in ((ch.before, "befores"), (ch.after, "afters")):
            if row is None:
                continue
            k = t.key(row)
            slot = out.get(k)
            if slot is None:
                slot = out[k] = _Slot(label={c: row.get(c) for c in t.key_cols})
            getattr(slot, side).append(row)
    return out


def _pair(t: _Table, want: list[dict], got: list[dict]) -> tuple[list[dict], list[dict]]:
    """Greedy policy matching of two row multisets; returns the unmatched of each side.

    Same start-row identity is tried first so a 1:1 comparison pairs the obvious rows.
    """
    left = list(got)
    ids = [t.row_id(r) for r in left]
    missing: list[dict] = []
    for w in want:
        wid = t.row_id(w)
        order = sorted(range(len(left)), key=lambda i: ids[i] != wid)
        hit = next((i for i in order if not rows_match(t.columns, w, left[i])), None)
        if hit is None:
            missing.append(w)
        else:
            left.pop(hit)
            ids.pop(hit)
    return missing, left


def _finals(t: _Table, exp: _Slot, act: _Slot) -> tuple[list[dict], list[dict]]:
    """Final rows under the key in the gold state and in the agent's state (touched rows only).

    A start row that only one side touched is still there, unchanged, on the other side.
    """
    exp_ids = {t.row_id(r) for r in exp.befores}
    act_ids = {t.row_id(r) for r in act.befores}
    gold = exp.afters + [r for r in act.befores if t.row_id(r) not in exp_ids]
    got = act.afters + [r for r in exp.befores if t.row_id(r) not in act_ids]
    return gold, got


def _differences(
    t: _Table, slot: _Slot, exp: _Slot, act: _Slot, missing: list[dict], extra: list[dict]
) -> list[str]:
    label = t.label(slot)
    lines: list[str] = []
    for w, g in zip(missing, extra, strict=False):
        for col in rows_match(t.columns, w, g):
            lines.append(
                f"{label}.{col}: expected {t.show(col, w.get(col))}, got {t.show(col, g.get(col))}"
            )
    for _ in missing[len(extra) :]:
        if exp.kind == "insert" and act.kind == "none":
            lines.append(f"missing insert into {t.name} ({t.key_desc(slot)})")
        elif act.kind == "delete":
            lines.append(f"{label}: deleted, expected {exp.kind}")
        else:
            lines.append(f"{label}: expected row missing ({exp.kind} not done)")
    for _ in extra[len(missing) :]:
        if exp.kind == "delete":
            lines.append(f"{label}: expected delete, row still present")
        else:
            lines.append(f"{label}: extra row ({act.kind})")
    return lines


def _unexpected(t: _Table, act: _Slot, missing: list[dict], extra: list[dict]) -> str:
    kind = act.kind
    if kind == "insert":
        return f"unexpected insert into {t.name} ({t.key_desc(act)})"
    if kind == "delete":
        return f"unexpected delete from {t.label(act)}"
    if len(missing) == 1 and len(extra) == 1:
        before, after = missing[0], extra[0]
        cols = rows_match(t.columns, before, after)
        what = ", ".join(
            f"{c} {t.show(c, before.get(c))} -> {t.show(c, after.get(c))}" for c in cols
        )
        return f"unexpected update of {t.label(act)}: {what}"
    return f"unexpected changes to {t.label(act)} ({len(missing)} rows gone, {len(extra)} new)"


def _compare_table(
    t: _Table, expected: list[RowChange], actual: list[RowChange]
) -> tuple[int, int, int, list[str]]:
    """(expected, matched, unexpected, explanation) for one table."""
    exp_slots, act_slots = _slots(t, expected), _slots(t, actual)
    keys = list(dict.fromkeys([*exp_slots, *act_slots]))
    empty = _Slot(label={})
    n_exp = n_ok = n_bad = 0
    lines: list[str] = []

    def order(k: tuple) -> tuple:
        slot = exp_slots.get(k) or act_slots[k]
        return tuple(sort_token(v) for v in slot.label.values()), repr(k)

    for k in sorted(keys, key=order):
        exp, act = exp_slots.get(k, empty), act_slots.get(k, empty)
        slot = exp if exp is not empty else act
        gold, got = _finals(t, exp, act)
        missing, extra = _pair(t, gold, got)
        trivial = exp is empty or _pair(t, exp.afters, exp.befores) == ([], [])
        if not trivial:
            n_exp += 1
            if not missing and not extra:
                n_ok += 1
            else:
                lines.extend(_differences(t, slot, exp, act, missing, extra))
        elif missing or extra:
            n_bad += 1
            lines.append(_unexpected(t, act, missing, extra))
    return n_exp, n_ok, n_bad, lines


def evaluate_changes(
    spec: DomainSpec,
    task: Task,
    changes: list[RowChange],
    messages: list[str] | None = None,
) -> Score:
    """Score the agent's ``changes`` (start -> final) against ``task.gold_diff``.

    Passes when every expected change is present under the column policies, no other
    non-exempt column changed, and every required answer appears in ``messages`` while the
    messages state at most ``EXTRA_VALUES_ALLOWED`` other values of each answer's class
    (dates, decimals, integers, identifiers): listing candidates is not answering.
    """
    tables = list(
        dict.fromkeys(
            [t for t in spec.entities]
            + sorted({c.table for c in task.gold_diff} | {c.table for c in changes})
        )
    )
    n_exp = n_ok = n_bad = 0
    lines: list[str] = []
    for name in tables:
        exp = [c for c in task.gold_diff if c.table == name]
        act = [c for c in changes if c.table == name]
        if not exp and not act:
            continue
        t = _Table(name, _entity_for(spec, name, [*exp, *act]))
        e, m, u, more = _compare_table(t, exp, act)
        n_exp, n_ok, n_bad = n_exp + e, n_ok + m, n_bad + u
        lines.extend(more)

    # an agent turn without text (None: a tool-call-only turn) or of another type says nothing
    said = [m for m in messages or [] if isinstance(m, str)]
    found = 0
    for answer in task.required_answers:
        if answer_found(answer, said):
            found += 1
        else:
            lines.append(f"missing answer: {answer!r}")
    n_ans = len(task.required_answers)
    contradicted = contradicting_values(task.required_answers, said)
    for cls, others in contradicted.items():
        shown = ", ".join(others[:5]) + (" ..." if len(others) > 5 else "")
        lines.append(f"answers contradicted: the messages also state other {cls} values ({shown})")
    if contradicted:
        found = 0  # a dump of candidates is no answer

    state_ok = n_ok == n_exp and n_bad == 0
    answers_ok = found == n_ans
    total = n_exp + n_ans
    fraction = (n_ok + found) / total if total else 1.0
    partial = min(1.0, max(0.0, fraction - UNEXPECTED_PENALTY * n_bad / max(1, total)))
    passed = state_ok and answers_ok
    return Score(
        passed=passed,
        reward=1.0 if passed else partial,
        partial=1.0 if passed else partial,
        state_ok=state_ok,
        answers_ok=answers_ok,
        expected=n_exp,
        matched=n_ok,
        unexpected=n_bad,
        answers_expected=n_ans,
        answers_found=found,
        explanation=lines,
    )
