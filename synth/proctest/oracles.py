"""Oracles: what a tool call should do, derived from the spec alone, and whether it did.

``Oracle.expect`` predicts a call's outcome without running the tool: an argument problem
(an independent re-implementation of the published parameter rules), else the first
precondition that fails on the current state (its own SQL and message), else success.
``Oracle.check`` runs the call and classifies it the way the paper does:

- success: a call expected to succeed did, changed only declared tables and only rows the
  call addresses, kept every invariant, and gives the same result and state when repeated
  on the same state (read tools change nothing at all);
- anticipated rejection: an invalid call was refused with the expected error (the argument
  named, or the precondition's own message) and the state is byte-identical;
- unexpected failure: anything else, with a one-line reason.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.runtime.argcheck import DEFAULT_MAX_LENGTH, INT_MAX, INT_MIN, ArgError
from engine.runtime.call import invariant_checks, prepare_call
from engine.session import Session
from engine.spec.models import DATE_FMT, DATETIME_FMT, Param, Tool
from engine.spec.sql import parse_one_statement, tables_read
from engine.spec.task import RowChange
from synth.proctest.addressing import cascade_tables, unaddressed_at

SUCCESS, REJECTION, FAILURE = "success", "anticipated_rejection", "unexpected_failure"
_DATE_RE, _DT_RE = (
    re.compile(r"\d{4}-\d{2}-\d{2}"),
    re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"),
)
_INV_RE = re.compile(r"invariant '([^']+)'")


def short(value: Any, limit: int = 120) -> str:
    """One line, at most ``limit`` characters (for reasons)."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---- arguments: an independent statement of the parameter rules ------------------------------
def arg_problem(p: Param, v: Any) -> str | None:
    """Why ``v`` is not a valid value of ``p`` (None: valid)."""
    t = type(v)
    if p.type in ("integer", "number"):
        if t is bool or t not in (int, float) or (p.type == "integer" and t is float):
            return "type"
        if t is float and not math.isfinite(v):
            return "not finite"
        if t is int and not INT_MIN <= v <= INT_MAX:
            return "out of range"
        if (p.minimum is not None and v < p.minimum) or (p.maximum is not None and v > p.maximum):
            return "out of range"
        return None
    if p.type == "string":
        if t is not str:
            return "type"
        if len(v) > (p.max_length or DEFAULT_MAX_LENGTH) or len(v) < (p.min_length or 0):
            return "length"
        if "\x00" in v:
            return "NUL"
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            return "surrogate"
        return "pattern" if p.pattern and re.search(p.pattern, v) is None else None
    if p.type in ("date", "datetime"):
        rx, fmt = (_DATE_RE, DATE_FMT) if p.type == "date" else (_DT_RE, DATETIME_FMT)
        if t is not str or not rx.fullmatch(v):
            return "format"
        try:
            datetime.strptime(v, fmt)
        except ValueError:
            return "not a real date"
        return None
    if p.type == "enum":
        return None if any(type(x) is t and x == v for x in p.values or []) else "not a member"
    if p.type == "boolean":
        return None if t is bool else "type"
    if p.type == "object":
        if t is not dict:
            return "type"
        fields = p.properties or {}
        if any(k not in fields for k in v) or any(
            f not in v for f, fp in fields.items() if fp.required
        ):
            return "fields"
        bad = any(arg_problem(fields[k], x) for k, x in v.items() if x is not None)
        return "field" if bad else None
    if t is not list:  # array
        return "type"
    if len(v) < (p.min_items or 0) or len(v) > min(
        p.max_items or DEFAULT_MAX_LENGTH, DEFAULT_MAX_LENGTH
    ):
        return "items"
    assert p.items is not None
    if any(arg_problem(p.items, x) for x in v):
        return "item"
    if p.unique_items and len({json.dumps(x, sort_keys=True) for x in v}) != len(v):
        return "repeated item"
    return None


def bad_args(tool: Tool, args: dict[str, Any]) -> list[str]:
    """Names of the arguments that are missing, unknown or invalid."""
    out = [k for k in args if k not in tool.params]
    for name, p in tool.params.items():
        if name not in args or args[name] is None:
            if p.required:
                out.append(name)
        elif arg_problem(p, args[name]):
            out.append(name)
    return out


@dataclass
class Expectation:
    kind: str  # "arg" | "pre" | "ok" | "error" (the tool's own SQL fails on these inputs)
    names: tuple[str, ...] = ()
    index: int | None = None
    message: str = ""
    binds: dict[str, Any] | None = None


@dataclass
class Verdict:
    outcome: str
    reason: str = ""
    empty: bool = False  # a success whose result is empty (None / [] / {})
    result: Any = None
    index: int | None = None  # the precondition an anticipated rejection came from


def _empty(value: Any) -> bool:
    return value is None or value == [] or value == {}


class Oracle:
    """Predicts and judges calls on one session (its current state)."""

    def __init__(self, session: Session) -> None:
        self.s = session
        self.spec = session.spec
        self._memo: tuple[str, Any, dict[str, Any]] = ("", None, {})  # last valid args, checked
        self._inv: list[tuple[str, str, set[str] | None]] = []
        for inv in self.spec.invariants:
            try:
                tables: set[str] | None = set(tables_read(parse_one_statement(inv.violations)))
            except ValueError:
                tables = None
            self._inv.append((inv.name, inv.violations, tables))
        self._layout, self._checks = invariant_checks(self.spec)

    # ---- prediction ---------------------------------------------------------------------
    def _prepare(
        self, name: str, args: dict[str, Any], preconditions: bool
    ) -> tuple[dict[str, Any], tuple[int, str] | None]:
        """The runtime's own ``prepare_call`` on the session's prepared tool."""
        pt = self.s.prepared(name)
        assert pt is not None, name
        memo = self._memo
        if memo[0] == name and memo[1] is args:  # the same call again (a state being built)
            binds = dict(memo[2])
        else:
            binds = pt.validate(args)
            self._memo = (name, args, dict(binds))
        return prepare_call(
            self.s.conn, pt, binds, self.spec.now, self.spec.name, preconditions=preconditions
        )

    def binds(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """The bind dict of a call with valid ``args``: params, now, generated ids, lets."""
        return self._prepare(name, args, preconditions=False)[0]

    def expect(self, name: str, args: dict[str, Any]) -> Expectation:
        tool = self.spec.tools[name]
        bad = [] if self._memo[0] == name and self._memo[1] is args else bad_args(tool, args)
        if bad:
            return Expectation("arg", names=tuple(bad))
        try:
            binds, failed = self._prepare(name, args, preconditions=True)
            if failed is not None:
                return Expectation("pre", index=failed[0], message=failed[1], binds=binds)
        except ArgError as exc:  # our rules accept what the runtime's refuse: a finding
            return Expectation("ok", message=str(exc))
        except (sqlite3.Error, OverflowError, ValueError) as exc:
            return Expectation("error", message=f"{type(exc).__name__}: {exc}")
        return Expectation("ok", binds=binds)

    def first_failing(self, name: str, args: dict[str, Any]) -> int:
        """-1 for an argument problem, index of the first failing precondition, or the number
        of preconditions when all pass (the search ranks candidates by it)."""
        e = self.expect(name, args)
        if e.kind == "pre":
            assert e.index is not None
            return e.index
        return len(self.spec.tools[name].preconditions) if e.kind == "ok" else -1

    def violations(
        self, written: set[str] | None = None, changes: list[RowChange] | None = None
    ) -> list[str]:
        """Names of invariants that do not hold now (only those reading ``written``).

        With ``changes`` (every change since a state where they all held), an invariant
        with a scope is checked only on the keys those rows carry (before and after
        images, through the scope's links): O(changes), not O(world); the others in full."""
        if changes is not None:
            return self._scoped_violations(changes)
        out = []
        for inv, sql, tables in self._inv:
            if written is not None and tables is not None and not tables & written:
                continue
            if self.s.conn.execute(sql, {"now": self.spec.now}).fetchone() is not None:
                out.append(inv)
        return out

    def _scoped_violations(self, changes: list[RowChange]) -> list[str]:
        logged: dict[int, set[Any]] = {}
        for ch in changes:  # what the change log's triggers would log, over-approximated
            for _cols, slot, column, _rows in self._layout.entries.get(ch.table, ()):
                got = logged.setdefault(slot, set())
                if column is not None:
                    got.update(img[column] for img in (ch.before, ch.after) if img is not None)
        written = {ch.table for ch in changes}
        out = []
        conn, now = self.s.conn, self.spec.now
        for chk in self._checks:
            if chk.tables is not None and not chk.tables & written:
                continue
            if chk.violations(conn, logged, now, limit=1) is not None:
                out.append(chk.inv.name)
        return out

    # ---- judging ------------------------------------------------------------------------
    def check(self, name: str, args: Any, repeat: bool = True) -> Verdict:
        """Run ``name(args)`` on the current state and classify it; leaves the state after
        the call (a failed call: unchanged). ``repeat`` also checks determinism.

        O(rows the call changes), whatever the world's size: the call runs inside a
        savepoint (going back to the state before it is SQLite's rollback of the touched
        pages), and what it changed is read from the session's change log."""
        s = self.s
        conn = s.conn
        exp = (
            self.expect(name, args)
            if isinstance(args, dict) and name in self.spec.tools
            else Expectation("arg")
        )
        start = s.changes()  # since the last reset/restore: a case's setup (usually nothing)
        conn.execute(_SP)
        try:
            try:
                r = s.call(name, args)
            except BaseException as exc:  # noqa: BLE001 - that is the finding
                self._back()
                return Verdict(
                    FAILURE, f"exception out of the session: {type(exc).__name__}: {exc}"
                )
            if not conn.in_transaction:  # the session rolled everything back (an internal error)
                return Verdict(FAILURE, self._refusal(name, r.error_type or "", r.message))
            changes = call_changes(start, s.changes())
            if exp.kind != "ok":
                if r.ok:
                    what = "invalid argument " + ", ".join(exp.names) if exp.kind == "arg" else ""
                    what = (
                        what or f"precondition[{exp.index}] {short(exp.message, 80)!r} should fire"
                    )
                    if exp.kind == "error":
                        what = f"its SQL fails ({short(exp.message, 80)})"
                    self._back()
                    return Verdict(FAILURE, f"call accepted although {what}", result=r.result)
                if changes:
                    self._back()
                    return Verdict(FAILURE, f"state changed on a refused call ({r.error_type})")
                return self._rejection(exp, r.error_type or "", r.message)
            if not r.ok:
                if changes:
                    self._back()
                    return Verdict(FAILURE, f"state changed on a failed call ({r.error_type})")
                return Verdict(FAILURE, self._refusal(name, r.error_type or "", r.message))
            reason = self._success(name, exp.binds or {}, changes)
            if reason is None and changes:  # back to the state before: the rows it addresses
                self._back()
                stray = unaddressed_at(self.spec, conn, exp.binds or {}, changes)
                if stray is not None:
                    reason = f"effect writes a row the call does not address: {stray}"
                elif not repeat:
                    s.call(name, args)  # the state after the call again
            if reason is None and repeat:
                reason = self._repeatable(name, args, r.result, start, changes)
            if reason is not None:
                return Verdict(FAILURE, reason, result=r.result)
            return Verdict(SUCCESS, empty=_empty(r.result), result=r.result)
        finally:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.OperationalError):  # gone: rolled back
                    conn.execute(_RELEASE)  # keep the state the verdict left

    def _back(self) -> None:
        """Back to the state before the call (the savepoint stays open)."""
        self.s.guard.internal()
        self.s.conn.execute(_ROLLBACK_TO)

    def _rejection(self, exp: Expectation, etype: str, msg: str) -> Verdict:
        if exp.kind == "arg":
            if etype != "invalid_arguments":
                return Verdict(FAILURE, f"invalid argument gave {etype}: {short(msg)}")
            if exp.names and not any(f"'{n}" in msg for n in exp.names):
                return Verdict(
                    FAILURE, f"argument error does not name {exp.names[0]!r}: {short(msg)}"
                )
            return Verdict(REJECTION)
        if exp.kind == "error":
            return Verdict(FAILURE, f"tool SQL fails on these inputs: {short(msg)}")
        if etype != "precondition_failed" or msg != exp.message:
            return Verdict(
                FAILURE,
                f"wrong error: expected precondition[{exp.index}] {short(exp.message, 80)!r}, "
                f"got {etype}: {short(msg, 80)}",
            )
        return Verdict(REJECTION, index=exp.index)

    def _refusal(self, name: str, etype: str, msg: str) -> str:
        tool = self.spec.tools[name]
        if etype == "invariant_violated":
            m = _INV_RE.search(msg)
            return (
                f"valid call refused: effect violates invariant {m.group(1) if m else short(msg)}"
            )
        if etype == "internal" and not tool.writes and "may not" in msg:
            return f"read tool writes: {short(msg)}"
        if etype == "precondition_failed":
            return f"valid call refused: {short(msg)}"
        return f"valid call fails: {etype}: {short(msg)}"

    def _success(self, name: str, binds: dict[str, Any], changes: list) -> str | None:
        """Postconditions read from the changes alone (the rows addressed: see ``check``)."""
        tool = self.spec.tools[name]
        if not tool.writes:
            if changes:
                return f"read tool changed state: {changes[0].kind} {changes[0].table}"
            return None
        allowed = set(tool.writes) | cascade_tables(self.spec, set(tool.writes))
        for ch in changes:
            if ch.table not in allowed:
                return f"effect wrote undeclared table {ch.table} ({ch.kind} {ch.key})"
        bad = self.violations(changes=changes)
        if bad:
            return f"effect violates invariant {bad[0]} (the runtime let it through)"
        return None

    def _repeatable(
        self, name: str, args: Any, result: Any, start: list, changes: list
    ) -> str | None:
        """The same call on the same state: same result, same changes (hence the same state).
        Leaves the state after the second call."""
        s = self.s
        r2 = s.call(name, args)  # on the state before the first call (``check`` went back)
        if not r2.ok:
            return f"the same call on the same state failed the second time: {short(r2.text)}"
        if json.dumps(r2.result, sort_keys=True, default=str) != json.dumps(
            result, sort_keys=True, default=str
        ):
            return "result differs on the same state (nondeterministic)"
        if call_changes(start, s.changes()) != changes:
            return "state differs after the same call on the same state (nondeterministic)"
        return None


_SP = "/*scaleenv:oracle*/ SAVEPOINT scaleenv_oracle"
_ROLLBACK_TO = "/*scaleenv:oracle*/ ROLLBACK TO scaleenv_oracle"
_RELEASE = "/*scaleenv:oracle*/ RELEASE scaleenv_oracle"


def _ref(ch: RowChange) -> tuple[str, str]:
    return ch.table, json.dumps(ch.key, sort_keys=True, default=str)


def call_changes(start: list[RowChange], now: list[RowChange]) -> list[RowChange]:
    """The changes of one call, from the session's changes before it (``start``) and after
    it (``now``), both counted from the same state: O(changes), no copy of the database."""
    if not start:
        return now
    before = {_ref(c): c for c in start}
    out: list[RowChange] = []
    for ch in now:
        prev = before.pop(_ref(ch), None)
        old = ch.before if prev is None else prev.after
        if old != ch.after:
            out.append(RowChange(table=ch.table, key=ch.key, before=old, after=ch.after))
    for prev in before.values():  # the call put a row back the way the start found it
        out.append(RowChange(table=prev.table, key=prev.key, before=prev.after, after=prev.before))
    return out
