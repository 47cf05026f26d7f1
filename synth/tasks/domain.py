"""What the task sampler reads from a spec: foreign-key paths, the user entity, what a user knows.

Everything is derived from declarations (references, keys, tool params), never from table or
tool names, so a new domain gets tasks without code. All lists are built in sorted or
declaration order so two runs walk the schema identically.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from engine.db import q
from engine.spec.models import Column, DomainSpec

TAG = "/*scaleenv:tasks*/ "  # our own SQL text: never shares a cached statement with a tool
MAX_PATH = 4
MAX_PATHS = 10
RELATED_LIMIT = 200


@dataclass(frozen=True)
class FK:
    table: str
    column: str
    parent: str
    pcol: str


@dataclass(frozen=True)
class Step:
    fk: FK
    up: bool  # child -> parent (else parent -> child)

    @property
    def src(self) -> str:
        return self.fk.table if self.up else self.fk.parent

    @property
    def dst(self) -> str:
        return self.fk.parent if self.up else self.fk.table


class SchemaInfo:
    """Foreign keys, the user entity and knowability rules of one spec."""

    def __init__(self, spec: DomainSpec) -> None:
        self.spec = spec
        self.fks: list[FK] = []
        for table, ent in spec.entities.items():
            for cname, col in ent.columns.items():
                if col.references:
                    parent, pcol = col.references.split(".", 1)
                    if parent in spec.entities:
                        self.fks.append(FK(table, cname, parent, pcol))
        self._paths: dict[tuple[str, str], list[tuple[Step, ...]]] = {}
        self._sql: dict[tuple, str] = {}
        self.counts: dict[str, int] | None = None  # the base's rows per table, when known

    # ---- basics ----------------------------------------------------------------------------
    def pk(self, table: str) -> list[str]:
        ent = self.spec.entities[table]
        return ent.primary_key or list(ent.columns)

    def column(self, ref: str) -> Column | None:
        table, _, col = ref.partition(".")
        ent = self.spec.entities.get(table)
        return ent.columns.get(col) if ent else None

    def root(self, ref: str) -> str:
        """Follow references to the column that owns the values (orders.user_id -> users.user_id)."""
        seen = {ref}
        while True:
            col = self.column(ref)
            if col is None or not col.references or col.references in seen:
                return ref
            ref = col.references
            seen.add(ref)

    def parents(self, table: str) -> list[FK]:
        return [f for f in self.fks if f.table == table]

    def children(self, table: str) -> list[FK]:
        return [f for f in self.fks if f.parent == table]

    @cached_property
    def fk_targets(self) -> set[str]:
        return {f"{f.parent}.{f.pcol}" for f in self.fks}

    def is_id_ref(self, ref: str) -> bool:
        """A key-like column: its value names a row (a person would not make one up)."""
        table, _, cname = self.root(ref).partition(".")
        col = self.column(f"{table}.{cname}")
        if col is None or col.type in ("date", "datetime", "boolean", "enum", "decimal"):
            return False
        ent = self.spec.entities[table]
        return (
            cname in ent.primary_key
            or col.unique
            or [cname] in ent.unique
            or f"{table}.{cname}" in self.fk_targets
        )

    def names_row(self, ref: str) -> bool:
        """A column whose value alone names one row (its key, a unique column), unlike an
        order item's variant id, which names a row only with the order beside it."""
        table, _, cname = ref.partition(".")
        ent = self.spec.entities.get(table)
        if ent is None or cname not in ent.columns:
            return False
        return self.pk(table) == [cname] or ent.columns[cname].unique or [cname] in ent.unique

    # ---- the user ---------------------------------------------------------------------------
    def descendants(self, table: str) -> list[str]:
        seen: list[str] = []
        todo = [table]
        while todo:
            t = todo.pop(0)
            for f in self.children(t):
                if f.table not in seen and f.table != table:
                    seen.append(f.table)
                    todo.append(f.table)
        return seen

    @cached_property
    def user_table(self) -> str:
        """The entity the simulated user is: the spec's ``user_entity``, else a table with an
        identifying column (unique, not the key) that some tool takes as a param; among
        those, the one most tables hang off."""
        if self.spec.user_entity:
            return self.spec.user_entity
        refs = self.param_refs
        scored = []
        for i, (table, ent) in enumerate(self.spec.entities.items()):
            ident = any(
                (c.unique or [n] in ent.unique) and not c.primary_key and f"{table}.{n}" in refs
                for n, c in ent.columns.items()
            )
            keyed = any(f"{table}.{n}" in refs for n in ent.primary_key)
            scored.append((ident, keyed, len(self.descendants(table)), -i, table))
        return max(scored)[-1]

    def audience(self, tool: str) -> str:
        """'customer' or 'staff': declared on the tool, else a write tool that names neither
        the user nor a row the user owns is back-office work (reads serve anyone)."""
        t = self.spec.tools[tool]
        if t.audience is not None:
            return t.audience
        if t.read_only:
            return "customer"
        for p in t.params.values():
            ref = p.references or (p.items.references if p.items else None)
            table = (ref or "").partition(".")[0]
            if table in self.spec.entities and (
                table == self.user_table or self.up_path(table, self.user_table) is not None
            ):
                return "customer"
        return "staff"

    def customer_tools(self) -> dict[str, Any]:
        """Tools a task may use: all active ones for a staff agent, customer ones otherwise."""
        active = self.spec.active_tools()
        if self.spec.agent_role == "staff":
            return active
        return {n: t for n, t in active.items() if self.audience(n) == "customer"}

    def owned(self, table: str) -> bool:
        """Rows that belong to a user (a child of the user entity by foreign keys)."""
        return table == self.user_table or self.up_path(table, self.user_table) is not None

    @cached_property
    def param_refs(self) -> set[str]:
        out: set[str] = set()
        for tool in self.spec.active_tools().values():
            for p in tool.params.values():
                ref = p.references or (p.items.references if p.items else None)
                if ref:
                    out.add(ref)
        return out

    @cached_property
    def login_groups(self) -> list[list[str]]:
        """Sets of user columns one tool takes together (email; first+last name+zip; the id)."""
        user = self.user_table
        groups: list[list[str]] = []
        for tool in self.spec.active_tools().values():
            cols = []
            for p in tool.params.values():
                if p.required and p.references and p.references.startswith(user + "."):
                    cols.append(p.references.split(".", 1)[1])
            req = [n for n, p in tool.params.items() if p.required]
            if cols and len(cols) == len(req) and sorted(cols) not in groups:
                groups.append(sorted(cols))
        pk = self.spec.entities[user].primary_key
        if sorted(pk) not in groups:
            groups.append(sorted(pk))
        return sorted(groups, key=lambda g: (g == sorted(pk), len(g), g))

    @cached_property
    def name_columns(self) -> list[str]:
        ent = self.spec.entities[self.user_table]
        names = [n for n in ("first_name", "last_name") if n in ent.columns]
        if names:
            return names
        return [n for n, c in ent.columns.items() if "name" in n and c.type == "string"][:1]

    @cached_property
    def knowable_tables(self) -> set[str]:
        """Tables whose key a user has on paper (an order number, a booking code): the key is
        the first param of a write tool. The user table itself is handled by login groups."""
        out: set[str] = set()
        for tool in self.customer_tools().values():
            if tool.read_only or not tool.params:
                continue
            first = next(iter(tool.params.values()))
            if first.references:
                table, _, col = first.references.partition(".")
                ent = self.spec.entities.get(table)
                if ent and [col] == ent.primary_key:
                    out.add(table)
        out.discard(self.user_table)
        return out

    def descriptive_columns(self, table: str) -> list[str]:
        """Columns that describe a row to a person: not keys, not links, not bookkeeping."""
        ent = self.spec.entities[table]
        out = []
        for n, c in ent.columns.items():
            if c.primary_key or c.references or c.match_policy == "exempt" or c.unique:
                continue
            if c.type in ("string", "enum", "date") and f"{table}.{n}" not in self.fk_targets:
                out.append(n)
        return out

    def describing_columns(self, table: str) -> list[str]:
        """Columns a person may use to single a row out: the descriptive ones and compared
        date-times (a slot's start), never keys, links or bookkeeping."""
        ent = self.spec.entities[table]
        out = self.descriptive_columns(table)
        for n, c in ent.columns.items():  # a unique name (a branch's city) names it too
            named = "name" in n or "title" in n
            if c.unique and named and c.type == "string" and not c.primary_key and n not in out:
                out = [*out, n]
        for n, c in ent.columns.items():
            if (
                n not in out
                and c.type == "datetime"
                and c.match_policy != "exempt"
                and not (c.unique or c.primary_key or c.references)
            ):
                out = [*out, n]
        for n, c in ent.columns.items():  # an object of attributes: {color: blue, size: M}
            if c.type == "json" and isinstance(c.default, dict) and c.match_policy != "exempt":
                out = [*out, n]
        return out

    # ---- foreign-key paths ----------------------------------------------------------------
    def paths(self, src: str, dst: str, max_len: int = MAX_PATH) -> list[tuple[Step, ...]]:
        """Join paths src -> dst, shortest first. Going down and straight back up one key is
        the row itself and is skipped; up then down is kept (siblings: other variants of
        the same product)."""
        key = (src, dst)
        hit = self._paths.get(key)
        if hit is not None:
            return hit
        out: list[tuple[Step, ...]] = []
        frontier: list[tuple[str, tuple[Step, ...]]] = [(src, ())]
        for _ in range(max_len):
            nxt = []
            for table, path in frontier:
                steps = [Step(f, True) for f in self.parents(table)]
                steps += [Step(f, False) for f in self.children(table)]
                for st in steps:
                    if path and path[-1].fk == st.fk and not path[-1].up and st.up:
                        continue
                    if path and path[-1].fk == st.fk and path[-1].up == st.up:
                        continue
                    np = (*path, st)
                    if st.dst == dst:
                        out.append(np)
                    nxt.append((st.dst, np))
            frontier = nxt[:200]
            if len(out) >= MAX_PATHS:
                break
        self._paths[key] = out[:MAX_PATHS]
        return self._paths[key]

    def path_sql(self, src: str, path: tuple[Step, ...], col: str) -> str:
        """The distinct values of ``col`` at the end of ``path`` from one ``src`` row, as
        nested IN semi-joins: the same values as the chain of joins, but a path through a
        shared row (every reservation at an airport, then their airports' reservations)
        costs the sum of the steps' distinct rows, not their product."""
        key = (src, path, col)
        sql = self._sql.get(key)
        if sql is None:
            table = q(src)
            where = " AND ".join(f"{q(c)} = ?" for c in self.pk(src))
            for st in path:
                out, mine = (st.fk.column, st.fk.pcol) if st.up else (st.fk.pcol, st.fk.column)
                where = f"{q(mine)} IN (SELECT {q(out)} FROM {table} WHERE {where})"
                table = q(st.dst)
            sql = self._sql[key] = (
                TAG + f"SELECT DISTINCT {q(col)} FROM {table} WHERE {where} "
                f"AND {q(col)} IS NOT NULL ORDER BY 1 LIMIT {RELATED_LIMIT}"
            )
        return sql

    def up_path(self, src: str, dst: str) -> tuple[Step, ...] | None:
        """The shortest child -> parent path (ownership: an item's order's user)."""
        for p in self.paths(src, dst):
            if all(s.up for s in p):
                return p
        return None


# ---- reading a state ---------------------------------------------------------------------------
def fetch_row(
    conn: sqlite3.Connection, info: SchemaInfo, table: str, key: dict[str, Any]
) -> dict[str, Any] | None:
    cols = list(info.spec.entities[table].columns)
    where = " AND ".join(f"{q(c)} IS ?" for c in key)
    cur = conn.execute(
        TAG + f"SELECT {', '.join(q(c) for c in cols)} FROM {q(table)} WHERE {where}",
        list(key.values()),
    )
    row = cur.fetchone()
    return None if row is None else dict(zip(cols, row, strict=True))


def rows_where(
    conn: sqlite3.Connection, info: SchemaInfo, table: str, col: str, value: Any, limit: int = 50
) -> list[dict[str, Any]]:
    cols = list(info.spec.entities[table].columns)
    order = ", ".join(q(c) for c in info.pk(table))
    cur = conn.execute(
        TAG + f"SELECT {', '.join(q(c) for c in cols)} FROM {q(table)} WHERE {q(col)} = ? "
        f"ORDER BY {order} LIMIT {int(limit)}",
        (value,),
    )
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def all_keys(conn: sqlite3.Connection, info: SchemaInfo, table: str) -> list[tuple]:
    pk = info.pk(table)
    cur = conn.execute(
        TAG
        + f"SELECT {', '.join(q(c) for c in pk)} FROM {q(table)} ORDER BY {', '.join(q(c) for c in pk)}"
    )
    return cur.fetchall()
