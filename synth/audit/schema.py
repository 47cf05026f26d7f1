"""The auditor's own reading of a spec: who the user is, who owns a row, who may ask for a tool.

Written apart from the task sampler on purpose (it shares no code with ``synth.tasks``): a
second, independent derivation from the spec's declarations only, so a sampler bug does not
pass its own test.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from engine.spec import DomainSpec

_TAG = "/*scaleenv:audit*/ "


def _qi(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Link:
    """A child -> parent foreign key: ``table.column`` references ``parent.pcol``."""

    table: str
    column: str
    parent: str
    pcol: str


class AuditSchema:
    """Foreign keys, the user entity, row ownership and tool audience of one spec."""

    def __init__(self, spec: DomainSpec) -> None:
        self.spec = spec
        self.links: list[Link] = []
        for table in sorted(spec.entities):
            for cname, col in spec.entities[table].columns.items():
                if col.references:
                    parent, _, pcol = col.references.partition(".")
                    if parent in spec.entities:
                        self.links.append(Link(table, cname, parent, pcol))
        self.user = spec.user_entity or self._infer_user()
        self.user_pk = self._pk(self.user)
        self._up: dict[str, list[tuple[Link, ...]]] = {}

    # ---- basics --------------------------------------------------------------------------------
    def _pk(self, table: str) -> list[str]:
        ent = self.spec.entities[table]
        return [n for n, c in ent.columns.items() if c.primary_key] or list(ent.columns)

    def pk(self, table: str) -> list[str]:
        return self._pk(table)

    def _infer_user(self) -> str:
        """The table that a tool looks up by a unique, non-key column (an email), and that most
        tables hang off; declared ``user_entity`` always wins."""
        looked_up: set[str] = set()
        for tool in self.spec.tools.values():
            for p in tool.params.values():
                if p.references:
                    t, _, c = p.references.partition(".")
                    ent = self.spec.entities.get(t)
                    col = ent.columns.get(c) if ent else None
                    if col is not None and col.unique and not col.primary_key:
                        looked_up.add(t)
        best = None
        for i, table in enumerate(self.spec.entities):
            below = len(self._below(table))
            score = (table in looked_up, below, -i)
            if best is None or score > best[0]:
                best = (score, table)
        assert best is not None
        return best[1]

    def _below(self, table: str) -> set[str]:
        seen: set[str] = set()
        todo = [table]
        while todo:
            t = todo.pop()
            for lk in self.links:
                if lk.parent == t and lk.table not in seen and lk.table != table:
                    seen.add(lk.table)
                    todo.append(lk.table)
        return seen

    # ---- ownership -----------------------------------------------------------------------------
    def up_paths(self, table: str) -> list[tuple[Link, ...]]:
        """Every child -> parent path from ``table`` to the user entity (at most 5 links)."""
        hit = self._up.get(table)
        if hit is not None:
            return hit
        out: list[tuple[Link, ...]] = []
        frontier: list[tuple[str, tuple[Link, ...]]] = [(table, ())]
        for _ in range(5):
            nxt = []
            for t, path in frontier:
                for lk in self.links:
                    if lk.table != t or any(p.table == lk.parent for p in path):
                        continue
                    np = (*path, lk)
                    if lk.parent == self.user:
                        out.append(np)
                    else:
                        nxt.append((lk.parent, np))
            frontier = nxt
        self._up[table] = out
        return out

    def owned(self, table: str) -> bool:
        return table != self.user and bool(self.up_paths(table))

    def owners(self, conn: sqlite3.Connection, table: str, where: dict[str, Any]) -> set[Any]:
        """The user keys that rows of ``table`` matching ``where`` belong to, over every path."""
        if table == self.user:
            cond = " AND ".join(f"{_qi(c)} = ?" for c in where)
            sql = f"SELECT {_qi(self.user_pk[0])} FROM {_qi(table)} WHERE {cond}"
            return {r[0] for r in conn.execute(_TAG + sql, list(where.values()))}
        found: set[Any] = set()
        for path in self.up_paths(table):
            joins = []
            for i, lk in enumerate(path):
                joins.append(
                    f"JOIN {_qi(lk.parent)} t{i + 1} ON t{i + 1}.{_qi(lk.pcol)} = t{i}.{_qi(lk.column)}"
                )
            cond = " AND ".join(f"t0.{_qi(c)} = ?" for c in where)
            sql = (
                f"SELECT DISTINCT t{len(path)}.{_qi(self.user_pk[0])} FROM {_qi(table)} t0 "
                + " ".join(joins)
                + f" WHERE {cond}"
            )
            found |= {r[0] for r in conn.execute(_TAG + sql, list(where.values()))}
        return found

    def to_one(self, lk: Link) -> bool:
        """The parent column names one row (its key or a unique column): a join on ``lk``
        cannot repeat the child row."""
        ent = self.spec.entities[lk.parent]
        col = ent.columns.get(lk.pcol)
        return self._pk(lk.parent) == [lk.pcol] or (col is not None and bool(col.unique))

    def mine_sql(self, table: str, alias: str) -> tuple[str, int]:
        """A condition on the row ``alias`` of ``table``: some child -> parent path leads to
        the user bound as ``?`` (and how many binds it takes). A necessary condition of
        ``owners(...) == {user}``, so SQL keeps only the candidates for that exact check."""
        if table == self.user:
            return f"{alias}.{_qi(self.user_pk[0])} = ?", 1
        paths = self.up_paths(table)
        if not paths:
            return "0", 0
        out = []
        for path in paths:
            first = path[0]
            joins = "".join(
                f" JOIN {_qi(lk.parent)} o{i + 1} ON o{i + 1}.{_qi(lk.pcol)} = o{i}.{_qi(lk.column)}"
                for i, lk in enumerate(path[1:], start=1)
            )
            out.append(
                f"EXISTS (SELECT 1 FROM {_qi(first.parent)} o1{joins} WHERE "
                f"o1.{_qi(first.pcol)} = {alias}.{_qi(first.column)} "
                f"AND o{len(path)}.{_qi(self.user_pk[0])} = ?)"
            )
        return "(" + " OR ".join(out) + ")", len(out)

    # ---- audience -----------------------------------------------------------------------------
    def audience(self, tool_name: str) -> str:
        """'customer' or 'staff': declared, else a write tool none of whose params names the
        user or a row the user owns is back-office work."""
        tool = self.spec.tools[tool_name]
        if tool.audience is not None:
            return tool.audience
        if tool.read_only:
            return "customer"
        for p in tool.params.values():
            ref = p.references or (p.items.references if p.items is not None else None)
            if ref:
                t = ref.partition(".")[0]
                if t == self.user or (t in self.spec.entities and self.owned(t)):
                    return "customer"
        return "staff"

    def names_row(self, ref: str) -> bool:
        """A param value that names a row (a key or a unique column), not one describing it."""
        table, _, col = ref.partition(".")
        ent = self.spec.entities.get(table)
        if ent is None or col not in ent.columns:
            return False
        c = ent.columns[col]
        return c.primary_key or c.unique or [col] in ent.unique or [col] == self._pk(table)
