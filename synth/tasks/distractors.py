"""Distractors: near-miss copies of the rows a task talks about, in a start-state patch.

A distractor is the user with the same name but another email and zip, a similar order of
theirs with another status, the same flight on another day. Copies get fresh keys (drawn
from the shape of the existing keys), their derived columns are recomputed with the spec's
own ``faker.sql`` fills (an order's total from its copied items), and they are kept only
when they are sound (``StartBuilder.sound``: foreign keys and invariants on the copied rows).
"""

from __future__ import annotations

import datetime as dt
import random
import re
import sqlite3
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from engine.db import q
from engine.spec.models import DATE_FMT, DATETIME_FMT
from engine.spec.sql import parse_one_statement
from synth.seed.repair import fill_plan
from synth.seed.values import Pattern
from synth.tasks.domain import FK, TAG, fetch_row

if TYPE_CHECKING:
    from synth.tasks.start import Patch, StartBuilder

MAX_COPY_ROWS = 40


def pattern_of(value: Any) -> str | None:
    """The key shape of a stored value: 'usr_0738578' -> 'usr_#######', 'QKJXRT' -> '??????'."""
    if not isinstance(value, str) or not re.search(r"[0-9A-Z]", value):
        return None
    return re.sub(r"[A-Z]", "?", re.sub(r"[0-9]", "#", value))


class Distractors:
    """Makes near-miss copies for the patches of one world."""

    def __init__(self, sb: StartBuilder) -> None:
        self.sb = sb
        self.spec = sb.spec
        self.info = sb.info
        self.base = sb.ctx.base_conn  # the world's base state, for per-world look-ups
        self._values: dict[tuple[str, str], list[Any]] = {}

    @cached_property
    def fills(self) -> list[tuple[str, str, str]]:
        """The spec's fills of derived columns, rerun on a copy's own rows (an order's
        total from its copied items). A fill that ranks rows (a window function: every
        10th order is cancelled) says where a row sits in the seeded table, not what it
        derives from: a copy keeps the original's value (rerun, it would also read the whole
        table for one row, and a copied payment ranked past the orders became a refund)."""
        out = []
        for table, col, stmt, _reads in fill_plan(self.spec):
            c = self.spec.entities[table].columns[col]
            if c.primary_key or c.references:
                continue
            if parse_one_statement(stmt).find(exp.Window) is not None:
                continue
            out.append((table, col, stmt))
        return out

    # ---- keys ------------------------------------------------------------------------------
    def _new_value(
        self,
        conn: sqlite3.Connection,
        table: str,
        col: str,
        old: Any,
        rng: random.Random,
        taken: set,
    ) -> Any:
        c = self.spec.entities[table].columns[col]
        if c.type == "integer" and isinstance(old, int):
            top = conn.execute(TAG + f"SELECT MAX({q(col)}) FROM {q(table)}").fetchone()[0] or 0
            v = int(top) + 1
            while v in taken:
                v += 1
            return v
        pattern = (c.faker.pattern if c.faker and c.faker.pattern else None) or pattern_of(old)
        if pattern and ("#" in pattern or "?" in pattern):
            pat = Pattern(pattern)
            for _ in range(50):
                v = pat.draw(rng, 1)[0]
                if v in taken:
                    continue
                if (
                    conn.execute(
                        TAG + f"SELECT 1 FROM {q(table)} WHERE {q(col)} = ?", (v,)
                    ).fetchone()
                    is None
                ):
                    return v
        if isinstance(old, str):
            if "@" in old:
                local, _, domain = old.partition("@")
                return f"{local}.{rng.randint(10, 99)}@{domain}"
            return f"{old}-{rng.randint(2, 99)}"
        return None

    # ---- copies ------------------------------------------------------------------------------
    def copy(
        self,
        patch: Patch,
        table: str,
        key: dict[str, Any],
        rng: random.Random,
        depth: int,
        owner: Any,
    ) -> dict[str, Any] | None:
        """Insert a near-miss copy of ``table[key]`` (and of its dependent rows up to
        ``depth``) into the patch connection; the new key, or None (nothing kept)."""
        conn = patch.conn
        conn.execute("SAVEPOINT distractor")
        try:
            mapping: dict[tuple[str, str, Any], Any] = {}
            made: list[tuple[str, dict[str, Any]]] = []
            new_key = self._copy_row(conn, table, key, rng, mapping, made, depth, owner)
            if new_key is None or len(made) > MAX_COPY_ROWS:
                raise _Skip
            self._refill(conn, made)
            self._near_miss(conn, table, new_key, rng)
            if not self.sb.sound(conn, made):
                raise _Skip
            conn.execute("RELEASE distractor")
            patch.inserted.extend(made)
            return new_key
        except (_Skip, sqlite3.Error):
            conn.execute("ROLLBACK TO distractor")
            conn.execute("RELEASE distractor")
            return None

    def _copy_row(
        self,
        conn: sqlite3.Connection,
        table: str,
        key: dict[str, Any],
        rng: random.Random,
        mapping: dict,
        made: list,
        depth: int,
        owner: Any,
    ) -> dict[str, Any] | None:
        ent = self.spec.entities[table]
        row = fetch_row(conn, self.info, table, key)
        if row is None:
            return None
        new = dict(row)
        fk_cols = {f.column: f for f in self.info.parents(table)}
        for col, f in fk_cols.items():
            hit = mapping.get((f.parent, f.pcol, row.get(col)))
            if hit is not None:
                new[col] = hit
        taken = {v for (t, _c, _o), v in mapping.items() if t == table}
        for col in ent.primary_key:
            if col in fk_cols and new[col] != row[col]:
                continue  # a key that is a link to a copied parent: already new
            if col in fk_cols:
                return None  # a link table keyed by an uncopied parent: would collide
            new[col] = self._new_value(conn, table, col, row[col], rng, taken)
            if new[col] is None:
                return None
        for col, c in ent.columns.items():
            if c.unique and not c.primary_key and col not in fk_cols and row[col] is not None:
                new[col] = self._new_value(conn, table, col, row[col], rng, taken)
        for col in ent.columns:
            if row[col] is not None and (
                ent.columns[col].primary_key
                or ent.columns[col].unique
                or self._is_target(table, col)
            ):
                mapping[(table, col, row[col])] = new[col]
        cols = list(new)
        conn.execute(
            TAG
            + f"INSERT INTO {q(table)} ({', '.join(q(c) for c in cols)}) VALUES ({', '.join('?' for _ in cols)})",
            [new[c] for c in cols],
        )
        new_key = {c: new[c] for c in self.info.pk(table)}
        made.append((table, new_key))
        if depth > 0:
            for f in self.info.children(table):
                if f.table == table or not self._may_copy_child(f, owner):
                    continue
                for child in conn.execute(
                    TAG
                    + f"SELECT {', '.join(q(c) for c in self.info.pk(f.table))} FROM {q(f.table)} "
                    f"WHERE {q(f.column)} = ? ORDER BY 1 LIMIT 12",
                    (row[f.pcol],),
                ).fetchall():
                    ckey = dict(zip(self.info.pk(f.table), child, strict=True))
                    if any(t == f.table and k == ckey for t, k in made):
                        continue
                    if (
                        self._copy_row(conn, f.table, ckey, rng, mapping, made, depth - 1, owner)
                        is None
                    ):
                        raise _Skip
        return new_key

    def _is_target(self, table: str, col: str) -> bool:
        return any(f.parent == table and f.pcol == col for f in self.info.fks)

    def _may_copy_child(self, f: FK, owner: Any) -> bool:
        """Dependent rows of a user's row are copied along (an order's items and payments);
        those of a shared row are not when they link to users' rows (the bookings of other
        members on a copied flight)."""
        if owner is not None:
            return True
        user = self.info.user_table
        for other in self.info.parents(f.table):
            if other != f and (
                other.parent == user or self.info.up_path(other.parent, user) is not None
            ):
                return False
        return True

    def _refill(self, conn: sqlite3.Connection, made: list[tuple[str, dict[str, Any]]]) -> None:
        """Recompute derived columns of the copies with the spec's ``faker.sql`` fills."""
        by_table: dict[str, list[dict[str, Any]]] = {}
        for t, k in made:
            by_table.setdefault(t, []).append(k)
        for table, _col, stmt in self.fills:
            for key in by_table.get(table, []):
                where = " AND ".join(f"{q(c)} = ?" for c in key)
                conn.execute(TAG + f"{stmt} WHERE {where}", list(key.values()))

    def _near_miss(
        self,
        conn: sqlite3.Connection,
        table: str,
        key: dict[str, Any],
        rng: random.Random,
    ) -> None:
        """Change one describing column of the copy (another zip, status or date), keeping
        the change only if the copy stays sound; names stay the same on purpose."""
        cols = [c for c in self.info.descriptive_columns(table) if c not in self.info.name_columns]
        if table == self.info.user_table:
            group_cols = {c for g in self.info.login_groups for c in g}
            cols = [c for c in cols if c in group_cols] + [c for c in cols if c not in group_cols]
        else:
            rng.shuffle(cols)
        row = fetch_row(conn, self.info, table, key)
        if row is None:
            return
        where = " AND ".join(f"{q(c)} = ?" for c in key)
        for col in cols[:3]:
            value = self._other_value(conn, table, col, row.get(col), rng)
            if value is None:
                continue
            conn.execute("SAVEPOINT near_miss")
            try:
                conn.execute(
                    TAG + f"UPDATE {q(table)} SET {q(col)} = ? WHERE {where}",
                    [value, *key.values()],
                )
                if self.sb.sound(conn, [(table, key)]):
                    conn.execute("RELEASE near_miss")
                    return
            except sqlite3.Error:
                pass
            conn.execute("ROLLBACK TO near_miss")
            conn.execute("RELEASE near_miss")

    def _other_value(
        self, conn: sqlite3.Connection, table: str, col: str, old: Any, rng: random.Random
    ) -> Any:
        c = self.spec.entities[table].columns[col]
        if c.type == "enum":
            others = [v for v in c.values or [] if v != old]
            return rng.choice(others) if others else None
        if c.type in ("date", "datetime") and isinstance(old, str):
            fmt = DATE_FMT if c.type == "date" else DATETIME_FMT
            try:
                d = dt.datetime.strptime(old, fmt)
            except ValueError:
                return None
            return (d + dt.timedelta(days=rng.choice([-3, -2, -1, 1, 2, 3, 7]))).strftime(fmt)
        if isinstance(old, str):
            if re.fullmatch(r"\d+", old):
                n = int(old) + rng.randint(1, 9)
                return str(n).zfill(len(old))[-len(old) :]
            vals = [v for v in self._some_values(table, col) if v != old][:50]
            return rng.choice(vals) if vals else None
        return None

    def _some_values(self, table: str, col: str) -> list[Any]:
        """The first 51 distinct values of a column in the base state, once per world (a
        DISTINCT over an unindexed column per copy was O(world)). A patch adds no values a
        near miss would draw here: its copies repeat base values, its edits are dates,
        numbers and enum members."""
        got = self._values.get((table, col))
        if got is None:
            got = self._values[(table, col)] = [
                r[0]
                for r in self.base.execute(
                    TAG + f"SELECT DISTINCT {q(col)} FROM {q(table)} WHERE {q(col)} IS NOT NULL "
                    "ORDER BY 1 LIMIT 51"
                )
            ]
        return got


class _Skip(Exception):
    pass
