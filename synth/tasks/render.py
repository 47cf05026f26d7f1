"""The user and the instruction, rendered offline from templates and the gold chain only.

Rows are named the way a person names them: by the number on their paper for knowable
tables (an order number, a booking code, a flight number) and otherwise by what they look
like (the Polo Shirt, blue, size M). Ids the agent must look up never appear; values the
user supplies (a new address, a reason) appear verbatim. An LLM may rephrase the text later;
nothing here needs one.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from engine.spec.task import UserProfile
from synth.tasks.chain import Call
from synth.tasks.context import Ctx
from synth.tasks.domain import fetch_row
from synth.tasks.ownership import count_matching


def words(name: str) -> str:
    return name.replace("_", " ").strip()


def singular(table: str) -> str:
    t = words(table)
    if t.endswith("ies"):
        return t[:-3] + "y"
    if t.endswith(("sses", "xes", "ches", "shes", "zes")):
        return t[:-2]
    return t[:-1] if t.endswith("s") and not t.endswith("ss") else t


def fmt(value: Any) -> str:
    """A value as a person writes it (2 decimals for money-like floats)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}" if round(value, 2) != int(value) else str(int(value))
    if isinstance(value, dict):  # an object of a list (a passenger): its fields in words
        return ", ".join(f"{words(str(k))} {fmt(v)}" for k, v in value.items())
    if isinstance(value, list):
        sep = "; " if any(isinstance(v, dict) for v in value) else ", "
        return sep.join(fmt(v) for v in value)
    return str(value)


def attributes(value: Any) -> str | None:
    """A JSON object of short scalars as a person says it ('color blue, size M'); None for
    anything else (a list, a nested object, a long text)."""
    if not isinstance(value, str) or not value.startswith("{"):
        return None
    try:
        obj = json.loads(value)
    except ValueError:
        return None
    if not isinstance(obj, dict) or not obj:
        return None
    if any(isinstance(v, dict | list) or v is None or len(str(v)) > 40 for v in obj.values()):
        return None
    return ", ".join(f"{words(str(k))} {fmt(v)}" for k, v in obj.items())


def _sayable(ctx: Ctx, table: str, col: str, value: Any) -> bool:
    if value is None:
        return False
    if ctx.spec.entities[table].columns[col].type == "json":
        return attributes(value) is not None
    return len(str(value)) <= 40


class Ambiguous(Exception):
    """No set of facts the user could state names exactly one row: the candidate is dropped."""


def _facts(
    ctx: Ctx, conn: sqlite3.Connection, table: str, row: dict[str, Any]
) -> tuple[list[tuple[str, str, Any]], list[tuple[str, str, Any]], str]:
    """(facts always said, facts to add until unique, the row's name) as (path, label, value);
    a path is a column of the row or ``fk.col`` of the parent that ``fk`` names."""
    info = ctx.info
    said: list[tuple[str, str, Any]] = []
    extra: list[tuple[str, str, Any]] = []
    name = None
    for col in info.describing_columns(table):
        v = row.get(col)
        if not _sayable(ctx, table, col, v):
            continue
        if name is None and ("name" in col or "title" in col) and col not in info.name_columns:
            name = str(v)
            said.append((col, "", v))
        else:
            extra.append((col, words(col), v))
    for fk in info.parents(table):
        if info.pk(fk.parent) != [fk.pcol] or fk.parent == info.user_table:
            continue
        v = row.get(fk.column)
        if v is None:
            continue
        if fk.parent in info.knowable_tables:
            said.append((fk.column, "of", v))
            continue
        prow = fetch_row(conn, info, fk.parent, {fk.pcol: v})
        if prow is None:
            continue
        for col in info.describing_columns(fk.parent):
            pv = prow.get(col)
            if not _sayable(ctx, fk.parent, col, pv):
                continue
            path = f"{fk.column}.{col}"
            if name is None and ("name" in col or "title" in col) and col not in info.name_columns:
                name = f"{singular(table)} of {singular(fk.parent)} {pv}"
                said.append((path, "", pv))
            else:
                extra.append((path, f"{singular(fk.parent)} {words(col)}", pv))
    ent = ctx.spec.entities[table]
    for col, c in ent.columns.items():  # a plate or a serial number: said only if needed
        v = row.get(col)
        if c.unique and not c.primary_key and not c.references and isinstance(v, str):
            extra.append((col, words(col), v))
    return said, extra, name or singular(table)


def describe(ctx: Ctx, conn: sqlite3.Connection, table: str, key: dict[str, Any]) -> str:
    """How the user names a row: 'order 4W4817420', 'my account', 'the Polo Shirt (color
    blue, size M) of order 4W4817420'. The facts said must select exactly this row (among
    the user's own rows for a row a user owns) in ``conn``, else ``Ambiguous``; the facts
    go to ``ctx.pending`` as a mention the auditor re-checks."""
    info = ctx.info
    if table == info.user_table:
        return "my account"
    pk = info.pk(table)
    if table in info.knowable_tables and len(pk) == 1:
        ctx.pending.append(
            {"table": table, "key": dict(key), "where": [[pk[0], key[pk[0]]]], "mine": False}
        )
        return f"{singular(table)} {key[pk[0]]}"
    row = fetch_row(conn, info, table, key)
    if row is None:
        raise Ambiguous(f"{table} {key} is not in the state")
    said, extra, name = _facts(ctx, conn, table, row)
    mine = info.owned(table) and ctx.user is not None
    user = ctx.user if mine else None
    chosen = list(said)
    uniq = {p for p, c in ctx.spec.entities[table].columns.items() if c.unique}
    n = count_matching(conn, info, table, [(p, v) for p, _l, v in chosen], user)
    while n > 1:  # add the fact that narrows most; one that narrows nothing is never said
        scored = []
        for f in extra:
            where = [(p, v) for p, _l, v in chosen] + [(f[0], f[2])]
            scored.append((f[0] in uniq, count_matching(conn, info, table, where, user), f))
        useful = [x for x in scored if x[1] < n]
        if not useful:
            raise Ambiguous(f"no facts the user knows name one {table}")
        _u, n, best = min(useful, key=lambda x: (x[0], x[1]))
        extra.remove(best)
        chosen.append(best)
    ctx.pending.append(
        {
            "table": table,
            "key": {c: row[c] for c in pk},
            "where": [[p, v] for p, _l, v in chosen],
            "mine": bool(mine),
        }
    )
    attrs = [
        attributes(v) or f"{label} {fmt(v)}" for _p, label, v in chosen if label and label != "of"
    ]
    where = "".join(
        f" of {singular(_parent(ctx, table, p))} {fmt(v)}"
        for p, label, v in chosen
        if label == "of"
    )
    inner = f" ({', '.join(attrs)})" if attrs else ""
    return f"{'my ' if mine else 'the '}{name}{inner}{where}"


def _parent(ctx: Ctx, table: str, col: str) -> str:
    return next(f.parent for f in ctx.info.parents(table) if f.column == col)


def _label(name: str) -> str:
    """A param named after the ids it takes, said of the rows: 'item ids' -> 'items'."""
    w = words(name)
    for suffix, plural in ((" ids", "s"), (" id", "")):
        if w.endswith(suffix) and len(w) > len(suffix):
            return w[: -len(suffix)] + plural
    return w


def _row_named(
    ctx: Ctx, conn: sqlite3.Connection, call: Call, table: str, col: str, x: Any, used: list
) -> dict[str, Any] | None:
    """The row the call's value ``x`` of ``table.col`` came from (the item of the order, not
    its variant id), each row once; None if the draw recorded none."""
    for t, key in call.rows:
        if t != table or key in used:
            continue
        row = fetch_row(conn, ctx.info, t, key)
        if row is not None and str(row.get(col)) == str(x):
            used.append(key)
            return key
    return None


def _object(ctx: Ctx, conn: sqlite3.Connection, call: Call, p: Any, obj: Any, used: list) -> str:
    """An object of a list as a user says it: a field naming a row the user owns is said of
    that row ('my payment method (source gift_card)'), never by its id; others by value."""
    props = p.items.properties if p.items is not None else None
    if not isinstance(obj, dict) or not props:
        return fmt(obj)
    parts = []
    for f, v in obj.items():
        ref = props[f].references if f in props else None
        table, _, col = (ref or "").partition(".")
        key = None
        if ref and table != ctx.info.user_table and ctx.info.owned(table):
            key = _row_named(ctx, conn, call, table, col, v, used)
        parts.append(describe(ctx, conn, table, key) if key is not None else f"{words(f)} {fmt(v)}")
    return ", ".join(parts)


def request(ctx: Ctx, conn: sqlite3.Connection, call: Call) -> str:
    """'cancel pending order for order 4W4817420 (reason: no longer needed)'."""
    t = ctx.tools[call.tool]
    srcs = ctx.sources[call.tool]
    target = ""
    details = []
    utable = ctx.info.user_table
    for name in t.params:
        if name not in call.args:
            continue
        v = call.args[name]
        ref = srcs[name].ref
        if ref and ctx.info.is_id_ref(ref):
            table, _, col = ref.partition(".")
            if table == utable:
                continue
            pk = ctx.info.pk(table)
            vals = v if isinstance(v, list) else [v]
            used: list[dict[str, Any]] = []
            descs = []
            rowwise = True  # every value said as a row: 'items', not 'item ids'
            for x in vals:
                key = (
                    {pk[0]: x} if pk == [col] else _row_named(ctx, conn, call, table, col, x, used)
                )
                rowwise = rowwise and key is not None
                descs.append(
                    describe(ctx, conn, table, key) if key is not None else f"{words(col)} {fmt(x)}"
                )
            if (
                call.primary is not None
                and call.primary[0] == table
                and not target
                and not isinstance(v, list)
            ):
                target = descs[0]
            else:
                details.append(f"{_label(name) if rowwise else words(name)}: {'; '.join(descs)}")
        elif v and isinstance(v, list) and all(isinstance(x, dict) for x in v):
            used_rows: list[dict[str, Any]] = []
            said = [_object(ctx, conn, call, t.params[name], x, used_rows) for x in v]
            details.append(f"{words(name)}: {'; '.join(said)}")
        else:
            details.append(f"{words(name)}: {fmt(v)}")
    text = words(call.tool)
    if target:
        text += f" for {target}"
    if details:
        text += " (" + ", ".join(details) + ")"
    return text


def greeting(
    ctx: Ctx, conn: sqlite3.Connection, user: Any, group: list[str]
) -> tuple[str, UserProfile]:
    """The opening lines and the user profile (who they are and what they know)."""
    info = ctx.info
    utable = info.user_table
    row = fetch_row(conn, info, utable, {info.pk(utable)[0]: user}) or {}
    name = " ".join(str(row.get(c)) for c in info.name_columns if row.get(c)) or "a customer"
    known: dict[str, Any] = {}
    lines = [f"Hi, I'm {name}."]
    for col in group:
        known[col] = row.get(col)
        if col not in info.name_columns:
            lines.append(f"My {words(col)} is {fmt(row.get(col))}.")
    for col in info.name_columns:
        known.setdefault(col, row.get(col))
    ent = ctx.spec.entities[utable]
    traits = [
        f"{words(c)} {row.get(c)}"
        for c, col in ent.columns.items()
        if col.type == "enum" and row.get(c) is not None and c not in group
    ]
    persona = f"{name}, a {singular(utable)}" + (f" ({', '.join(traits)})" if traits else "")
    persona += f" who knows their {', '.join(words(c) for c in group)}."
    return " ".join(lines), UserProfile(name=name, known=known, persona=persona)
