"""The user and the instruction, rendered offline from templates and the gold chain only.

Rows are named the way a person names them: by the number on their paper for knowable
tables (an order number, a booking code, a flight number) and otherwise by what they look
like (the Polo Shirt, blue, size M). Ids the agent must look up never appear; values the
user supplies (a new address, a reason) appear verbatim. An LLM may rephrase the text later;
nothing here needs one.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from engine.spec.task import UserProfile
from synth.tasks.chain import Call
from synth.tasks.context import Ctx
from synth.tasks.domain import fetch_row


def words(name: str) -> str:
    return name.replace("_", " ").strip()


def singular(table: str) -> str:
    t = words(table)
    if t.endswith("ies"):
        return t[:-3] + "y"
    if t.endswith("ses") or t.endswith("xes"):
        return t[:-2]
    return t[:-1] if t.endswith("s") and not t.endswith("ss") else t


def fmt(value: Any) -> str:
    """A value as a person writes it (2 decimals for money-like floats)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}" if round(value, 2) != int(value) else str(int(value))
    if isinstance(value, list):
        return ", ".join(fmt(v) for v in value)
    return str(value)


def _name_of(
    ctx: Ctx, conn: sqlite3.Connection, table: str, row: dict[str, Any], depth: int = 2
) -> str | None:
    for col in ctx.info.descriptive_columns(table):
        if ("name" in col or "title" in col) and row.get(col) and col not in ctx.info.name_columns:
            return str(row[col])
    if depth == 0:
        return None
    for fk in ctx.info.parents(table):
        if (
            ctx.info.pk(fk.parent) != [fk.pcol]
            or fk.parent == ctx.info.user_table
            or fk.parent in ctx.info.knowable_tables
        ):
            continue
        prow = fetch_row(conn, ctx.info, fk.parent, {fk.pcol: row.get(fk.column)})
        if prow is not None:
            name = _name_of(ctx, conn, fk.parent, prow, depth - 1)
            if name:
                return name
    return None


def describe(ctx: Ctx, conn: sqlite3.Connection, table: str, key: dict[str, Any]) -> str:
    """How the user names a row: 'order 4W4817420', 'my account', 'the Polo Shirt (color
    blue, size M) in order 4W4817420'."""
    info = ctx.info
    if table == info.user_table:
        return "my account"
    pk = info.pk(table)
    if table in info.knowable_tables and len(pk) == 1:
        return f"{singular(table)} {key[pk[0]]}"
    row = fetch_row(conn, info, table, key)
    if row is None:
        return f"the {singular(table)}"
    attrs = _attributes(ctx, table, row)
    where = ""
    for fk in info.parents(table):
        prow = (
            fetch_row(conn, info, fk.parent, {fk.pcol: row.get(fk.column)})
            if info.pk(fk.parent) == [fk.pcol]
            else None
        )
        if prow is None:
            continue
        if fk.parent in info.knowable_tables:
            where = f" of {singular(fk.parent)} {row.get(fk.column)}"
        elif not attrs:
            attrs = _attributes(ctx, fk.parent, prow)
    name = _name_of(ctx, conn, table, row) or singular(table)
    inner = f" ({', '.join(attrs)})" if attrs else ""
    return f"the {name}{inner}{where}"


def _attributes(ctx: Ctx, table: str, row: dict[str, Any]) -> list[str]:
    out = []
    for col in ctx.info.descriptive_columns(table):
        v = row.get(col)
        if v is None or "name" in col or "title" in col or len(str(v)) > 40:
            continue
        out.append(f"{words(col)} {fmt(v)}")
    return out[:3]


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
            descs = [
                describe(ctx, conn, table, {pk[0]: x}) if pk == [col] else f"{words(col)} {fmt(x)}"
                for x in vals
            ]
            if (
                call.primary is not None
                and call.primary[0] == table
                and not target
                and not isinstance(v, list)
            ):
                target = descs[0]
            else:
                details.append(f"{words(name)}: {'; '.join(descs)}")
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
