"""The auditor's checks on one task. Each returns problem strings ``code: detail``.

* user: the user's stated facts identify exactly one row of the user entity;
* audience: a customer-service task never uses or asks for a staff tool;
* ownership: every row a gold action (or a refused call) names by key belongs to the user,
  checked in the state just before that action;
* refusal: the refused call, run in a fork of the gold final state, succeeds and the rule's
  own query says it breaks the rule (for this user, in that state);
* grounding: every gold argument is stated in the instruction or the user's facts, is the
  one value of its kind in an earlier gold result, or names a row a mention describes;
* unique: every mention's facts appear in the instruction and select exactly its row
  (among the user's rows when it says "my") in the start state, by query;
* outcome: gold passes, doing nothing fails, leaving out any single gold write fails.
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

from engine import Session, Task
from synth.audit.schema import AuditSchema, _qi

_TAG = "/*scaleenv:audit*/ "


def connect(state: bytes) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.deserialize(state)
    return conn


def _truthy(v: Any) -> bool:
    return v not in (None, 0, 0.0, "", "0", False)


def texts(value: Any) -> list[str]:
    """How a value may be written in an instruction (14 / 14.0 / 14.00; yes / true)."""
    if isinstance(value, bool):
        return ["yes", "true"] if value else ["no", "false"]
    if isinstance(value, int):
        return [str(value)]
    if isinstance(value, float):
        out = [f"{value:.2f}", str(value)]
        if value == int(value):
            out.append(str(int(value)))
        return out
    return [str(value)]


def said(value: Any, text: str) -> bool:
    """``value`` is written in ``text``; a JSON object of attributes (or an object of a list
    param: a passenger) when each value is."""
    if isinstance(value, dict) and value:
        return all(not isinstance(v, dict | list) and said(v, text) for v in value.values())
    if isinstance(value, str) and value.startswith("{"):
        try:
            obj = json.loads(value)
        except ValueError:
            obj = None
        if isinstance(obj, dict) and obj:
            return all(not isinstance(v, dict | list) and said(v, text) for v in obj.values())
    pats = [rf"(?<![\w]){re.escape(t)}(?![\w])" for t in texts(value) if t]
    return any(re.search(p, text) for p in pats)


def flatten(result: Any, path: str = "") -> list[tuple[str, Any]]:
    """(path, scalar) pairs of a tool result; list positions become ``[]``."""
    if isinstance(result, dict):
        out = []
        for k in sorted(result):
            out += flatten(result[k], f"{path}.{k}" if path else str(k))
        return out
    if isinstance(result, list):
        out = []
        for it in result:
            out += flatten(it, path + "[]")
        return out
    return [] if result is None else [(path, result)]


# ---- user, audience ---------------------------------------------------------------------------
def task_user(sch: AuditSchema, conn: sqlite3.Connection, task: Task) -> tuple[Any, list[str]]:
    cols = sch.spec.entities[sch.user].columns
    facts = {k: v for k, v in task.user.known.items() if k in cols and v is not None}
    if not facts:
        return None, ["user: the user states no fact of the user entity"]
    cond = " AND ".join(f"{_qi(c)} = ?" for c in facts)
    sql = f"SELECT {_qi(sch.user_pk[0])} FROM {_qi(sch.user)} WHERE {cond}"
    rows = conn.execute(_TAG + sql, list(facts.values())).fetchall()
    if len(rows) != 1:
        return None, [f"user: the user's facts {sorted(facts)} match {len(rows)} rows"]
    return rows[0][0], []


def check_audience(sch: AuditSchema, task: Task) -> list[str]:
    if sch.spec.agent_role == "staff":
        return []
    out = []
    names = [a.tool for a in task.gold_actions]
    names += [g["forbidden"]["tool"] for g in task.subgoals if g.get("forbidden")]
    for name in dict.fromkeys(names):
        if name in sch.spec.tools and sch.audience(name) == "staff":
            out.append(f"audience: staff tool {name} in a customer task")
    return out


# ---- ownership ---------------------------------------------------------------------------------
def arg_rows(sch: AuditSchema, tool: str, args: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(table, column, value) of every argument that names a row by key."""
    t = sch.spec.tools.get(tool)
    if t is None:
        return []
    out = []
    for name, value in args.items():
        p = t.params.get(name)
        if p is None:
            continue
        ref = p.references or (p.items.references if p.items is not None else None)
        if not ref or not sch.names_row(ref):
            continue
        table, _, col = ref.partition(".")
        for v in value if isinstance(value, list) else [value]:
            out.append((table, col, v))
    return out


def foreign(
    sch: AuditSchema, conn: sqlite3.Connection, user: Any, tool: str, args: dict[str, Any]
) -> list[str]:
    """Rows a call names that belong to someone other than ``user``."""
    out = []
    for table, col, v in arg_rows(sch, tool, args):
        if table != sch.user and not sch.owned(table):
            continue
        owners = sch.owners(conn, table, {col: v})
        if owners and owners != {user}:
            out.append(f"{tool} names {table}.{col}={v!r} of {sorted(map(str, owners))}")
    return out


def check_ownership(sch: AuditSchema, s: Session, task: Task, user: Any) -> list[str]:
    out = []
    s.reset(task)
    for a in task.gold_actions:  # each state read in place, before the call moves it on
        s.guard.internal()
        out += [f"ownership: gold {p}" for p in foreign(sch, s.conn, user, a.tool, a.args)]
        s.call(a.tool, a.args)
    s.guard.internal()
    for g in task.subgoals:
        f = g.get("forbidden")
        if f:
            out += [
                f"ownership: refused call {p}"
                for p in foreign(sch, s.conn, user, f["tool"], f["args"])
            ]
    return out


# ---- refusals ----------------------------------------------------------------------------------
def binds(sch: AuditSchema, conn: sqlite3.Connection, tool: str, args: dict[str, Any]) -> dict:
    t = sch.spec.tools[tool]
    b: dict[str, Any] = {"now": sch.spec.now}
    for name, p in t.params.items():
        v = args.get(name, p.default)
        b[name] = json.dumps(v) if isinstance(v, list) else v
    for g in t.generate:
        b.setdefault(g, None)
    for name, sql in t.let.items():
        row = conn.execute(_TAG + sql, b).fetchone()
        b[name] = None if row is None else row[0]
    return b


def check_refusals(sch: AuditSchema, s: Session, task: Task) -> list[str]:
    rules = {r.name: r for r in sch.spec.policy_rules}
    out = []
    for g in task.subgoals:
        if g.get("kind") != "refusal":
            continue
        f, rule = g.get("forbidden"), rules.get(str(g.get("rule")))
        if not f or rule is None or rule.tool != f["tool"]:
            out.append(f"refusal: no rule {g.get('rule')!r} for the refused call")
            continue
        s.reset(task)
        for a in task.gold_actions:
            s.call(a.tool, a.args)
        s.guard.internal()  # the state after the gold, read and called in place (a fork and
        # a snapshot copy were O(world) per refusal); the next check resets the session
        try:
            hit = s.conn.execute(
                _TAG + rule.violated, binds(sch, s.conn, f["tool"], f["args"])
            ).fetchone()
        except sqlite3.Error as exc:
            hit = None
            out.append(f"refusal: the rule's query fails: {exc}")
        if hit is None or not _truthy(hit[0]):
            out.append(f"refusal: {f['tool']} {f['args']} is allowed for this user ({rule.name})")
            continue
        r = s.call(f["tool"], f["args"])
        if not r.ok:
            out.append(f"refusal: the refused call fails anyway ({r.error_type})")
    return out


# ---- grounding and unique descriptions ---------------------------------------------------------
def mention_rows(
    sch: AuditSchema, conn: sqlite3.Connection, m: dict[str, Any], user: Any = None
) -> list[tuple]:
    """Keys of the rows of ``m['table']`` that its ``where`` facts select; with ``user``,
    only rows some path leads to that user from (the exact ownership check follows)."""
    table = m["table"]
    pk = sch.pk(table)
    joins, conds, vals = [], [], []
    to_one = True
    for i, (path, value) in enumerate(m.get("where", [])):
        col, _, pcol = path.partition(".")
        if pcol:
            lk = next((x for x in sch.links if x.table == table and x.column == col), None)
            if lk is None:
                return []
            to_one = to_one and sch.to_one(lk)
            joins.append(f"JOIN {_qi(lk.parent)} j{i} ON j{i}.{_qi(lk.pcol)} = t.{_qi(col)}")
            conds.append(f"j{i}.{_qi(pcol)} = ?")
        else:
            conds.append(f"t.{_qi(col)} = ?")
        vals.append(value)
    if user is not None:
        cond, binds = sch.mine_sql(table, "t")
        conds.append(cond)
        vals += [user] * binds
    # no DISTINCT over the key when no join can repeat a row: it would make SQLite walk
    # the table in key order instead of starting from the selective side
    keys = ", ".join("t." + _qi(c) for c in pk)
    sql = f"SELECT {'' if to_one else 'DISTINCT '}{keys} FROM {_qi(table)} t " + " ".join(joins)
    if conds:
        sql += " WHERE " + " AND ".join(conds)
    return conn.execute(_TAG + sql, vals).fetchall()


def check_mentions(sch: AuditSchema, conn: sqlite3.Connection, task: Task, user: Any) -> list[str]:
    out = []
    for m in task.meta.get("mentions", []):
        table, key = m["table"], m["key"]
        for _path, value in m.get("where", []):
            if not said(value, task.instruction) and not any(
                str(value) == str(v) for v in task.user.known.values()
            ):
                out.append(f"unique: {table} fact {value!r} is not in the instruction")
        rows = mention_rows(sch, conn, m, user if m.get("mine") else None)
        if m.get("mine"):
            pk = sch.pk(table)
            rows = [
                r for r in rows if sch.owners(conn, table, dict(zip(pk, r, strict=True))) == {user}
            ]
        want = tuple(key[c] for c in sch.pk(table))
        if len(rows) != 1 or tuple(rows[0]) != want:
            out.append(f"unique: the description of {table} {key} selects {len(rows)} rows")
    return out


def check_grounding(sch: AuditSchema, s: Session, task: Task) -> list[str]:
    known = [v for v in task.user.known.values() if v is not None]
    described = {
        (m["table"], str(v)) for m in task.meta.get("mentions", []) for v in m["key"].values()
    }
    results: list[list[tuple[str, Any]]] = []
    items: list[list[dict[str, Any]]] = []
    out = []
    s.reset(task)
    for i, a in enumerate(task.gold_actions):
        t = sch.spec.tools.get(a.tool)
        for name, value in a.args.items():
            p = t.params.get(name) if t else None
            ref = None
            if p is not None:
                ref = p.references or (p.items.references if p.items is not None else None)
            for x in value if isinstance(value, list) else [value]:
                if said(x, task.instruction) or any(str(x) == str(k) for k in known):
                    continue
                if ref and (ref.partition(".")[0], str(x)) in described:
                    continue
                if _from_result(results, x, bool(ref and sch.names_row(ref))):
                    continue
                if any(_picked(item, x, task.instruction) for item in items):
                    continue
                if isinstance(x, dict) and _object_said(p, x, task.instruction, known, described):
                    continue
                out.append(f"grounding: gold action {i} {a.tool}.{name}={x!r} is not derivable")
        r = s.call(a.tool, a.args)
        results.append(flatten(r.result) if r.ok else [])
        items += _lists(r.result) if r.ok else []
    return out


def _object_said(
    p: Any, obj: dict[str, Any], text: str, known: list[Any], described: set[tuple[str, str]]
) -> bool:
    """Each field of an object of a list is said, known, or names a row the instruction
    describes (a payment method said as 'my gift card', never by its id)."""
    props = p.items.properties if p is not None and p.items is not None else None
    for f, v in obj.items():
        if isinstance(v, dict | list):
            return False
        if said(v, text) or any(str(v) == str(k) for k in known):
            continue
        ref = props[f].references if props and f in props else None
        if not (ref and (ref.partition(".")[0], str(v)) in described):
            return False
    return True


def _lists(result: Any) -> list[list[dict[str, Any]]]:
    """Every list of objects in a result (the slots of a vet, the pets of an owner)."""
    if isinstance(result, dict):
        return [x for v in result.values() for x in _lists(v)]
    if isinstance(result, list):
        objs = [it for it in result if isinstance(it, dict)]
        return ([objs] if objs else []) + [x for it in result for x in _lists(it)]
    return []


def _picked(items: list[dict[str, Any]], x: Any, text: str) -> bool:
    """``x`` is in the one list item that a value stated in the instruction singles out
    (the slot at the time the user gave, among a vet's open slots)."""
    holders = [it for it in items if any(str(v) == str(x) for v in it.values())]
    for it in holders:
        for k, v in it.items():
            if isinstance(v, dict | list) or v is None or str(v) == str(x) or not said(v, text):
                continue
            if sum(1 for o in items if str(o.get(k)) == str(v)) == 1:
                return True
    return False


def _from_result(results: list[list[tuple[str, Any]]], x: Any, names_row: bool) -> bool:
    """A value an earlier result shows; a row key must be the only value at its path (the
    customer id of a login), else the agent cannot tell which one is meant."""
    for pairs in results:
        paths = {p for p, v in pairs if str(v) == str(x)}
        for path in paths:
            if not names_row or {str(v) for p, v in pairs if p == path} == {str(x)}:
                return True
    return False


# ---- outcome -----------------------------------------------------------------------------------
def check_outcome(s: Session, task: Task) -> list[str]:
    answers = list(task.required_answers)
    out = []
    s.reset(task)
    if (
        not all(s.call(a.tool, a.args).ok for a in task.gold_actions)
        or not s.evaluate(task, answers).passed
    ):
        out.append("outcome: gold does not pass")
    s.reset(task)
    if s.evaluate(task, []).passed:
        out.append("outcome: doing nothing passes")
    for i, a in enumerate(task.gold_actions):
        t = s.spec.tools.get(a.tool)
        if t is None or t.read_only:
            continue
        s.reset(task)
        for j, b in enumerate(task.gold_actions):
            if j != i:
                s.call(b.tool, b.args)
        if s.evaluate(task, answers).passed:
            out.append(f"outcome: leaving out gold write {i} {a.tool} still passes")
    return out
