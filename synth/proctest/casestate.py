"""States for test cases: rows updated in place, and states reached by running tools.

Seeded data does not hold every state a precondition talks about (an account with a zero
balance, a transfer made in the last 30 minutes). Two ways to get there, both replayable:
``construct_state`` updates rows the call addresses (one column, or two numeric columns
shifted together so ledger-style invariants keep holding) and keeps only states in which
every invariant holds; ``States`` runs seeded random walks of valid calls of the write
tools, the way agents would change the world.

When neither reaches a state where a precondition fires, ``falsifiable`` (in
``synth.proctest.falsify``) decides between "hard to reach" and "never
fires".
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.db import q
from engine.spec.task import RowChange, Task
from synth.proctest.addressing import key_columns, read_columns
from synth.proctest.casegen import Sampler
from synth.proctest.oracles import Oracle
from synth.proctest.sampling import RowSample

MAX_ROWS = 40


def apply_setup(conn: sqlite3.Connection, setup: list[dict[str, Any]]) -> None:
    """Apply a case's row updates (the session's runtime must be idle: internal mode)."""
    for st in setup:
        sets = ", ".join(f"{q(c)} = ?" for c in st["set"])
        where = " AND ".join(f"{q(c)} = ?" for c in st["key"])
        conn.execute(
            f"UPDATE {q(st['table'])} SET {sets} WHERE {where}",
            [*st["set"].values(), *st["key"].values()],
        )


def param_values(binds: dict[str, Any], names: Any) -> list[Any]:
    """The ids a call names: its params' values (array items included)."""
    out: list[Any] = []
    for k in names:
        v = binds.get(k)
        if isinstance(v, str) and v.startswith("["):
            try:
                out += [x for x in json.loads(v) if isinstance(x, str | int)]
                continue
            except ValueError:
                pass
        if isinstance(v, str | int) and not isinstance(v, bool):
            out.append(v)
    return list(dict.fromkeys(out))


def rows_near(
    oracle: Oracle, sampler: Sampler, vals: list[Any], tables: set[str] | None
) -> list[tuple[str, int]]:
    """Rows whose key or foreign-key columns hold one of ``vals``, their parents, and the
    children of those rows (restricted to ``tables`` when given)."""
    spec, conn = oracle.spec, oracle.s.conn
    if not vals:
        return []
    marks = ", ".join("?" for _ in vals)
    seeds: list[tuple[str, int]] = []
    for table in spec.entities:
        for col in key_columns(spec, table):
            cond, binds = sampler.rows.restrict(table, col)  # no full scan of a large table
            sql = f"SELECT rowid FROM {q(table)} WHERE {q(col)} IN ({marks}){cond} ORDER BY rowid LIMIT 3"
            seeds += [(table, r[0]) for r in conn.execute(sql, [*vals, *binds])]
    near = list(seeds)
    for table, rid in seeds:
        near += sampler.parents(table, rid)
    for table, rid in list(dict.fromkeys(near)):
        for c, cc, p, pc in sampler.edges:
            if p == table and (tables is None or c in tables):
                sql = f"SELECT c.rowid FROM {q(c)} c JOIN {q(p)} p ON c.{q(cc)} = p.{q(pc)} WHERE p.rowid = ? ORDER BY c.rowid LIMIT 3"
                near += [(c, r[0]) for r in conn.execute(sql, (rid,))]
    near = [r for r in dict.fromkeys(near) if tables is None or r[0] in tables][:MAX_ROWS]
    for table in sorted(tables or ()):  # rows to re-link: one per value of each enum column
        for cname, col in spec.entities[table].columns.items():
            if col.type in ("enum", "boolean"):
                firsts = sampler.rows.firsts(table, cname)  # of the sample: bounded
                near += [(table, r) for r in firsts if (table, r) not in near]
    return near


def column_values(oracle: Oracle, table: str, cname: str, cur: Any, vals: list[Any]) -> list:
    """Values to try in one column: other enum members, 0 and limits, far dates, '' and NULL;
    for a foreign key the ids the call names that exist in the parent table."""
    col = oracle.spec.entities[table].columns[cname]
    if col.primary_key:
        return []
    if col.references:
        pt, pc = col.references.split(".")
        sql = f"SELECT 1 FROM {q(pt)} WHERE {q(pc)} = ?"
        return [v for v in vals if v != cur and oracle.s.conn.execute(sql, (v,)).fetchone()][:4]
    out: list[Any] = []
    if col.type == "enum":
        out = list(col.values or [])
    elif col.type == "boolean":
        out = [0 if cur else 1]
    elif col.type in ("integer", "decimal"):
        out = [0, col.minimum, col.maximum, -1, 10**6]
    elif col.type in ("date", "datetime"):
        now = oracle.spec.now
        out = ["2000-01-01", "2099-12-31", now[:10], "2024-01-01"]
        out = [v + (" 00:00:00" if col.type == "datetime" else "") for v in out]
        out += [now] if col.type == "datetime" else []
    elif col.type in ("string", "text"):
        out = [""]
    if col.nullable:
        out.append(None)
    return [v for v in dict.fromkeys(out) if v is not None or col.nullable if v != cur]


def _numeric(oracle: Oracle, table: str) -> list[str]:
    cols = oracle.spec.entities[table].columns
    return [
        c
        for c, col in cols.items()
        if col.type in ("integer", "decimal") and not col.primary_key and not col.references
    ]


def construct_state(
    oracle: Oracle, sampler: Sampler, name: str, args: dict[str, Any], goal: Callable[[int], bool],
    *, tables: set[str] | None = None, rounds: int = 1, start: int = -1,
    columns: set[tuple[str | None, str]] | None = None,
) -> list[dict[str, Any]] | None:  # fmt: skip
    """Row updates after which ``goal(first_failing(args))`` holds and every invariant too.

    With ``rounds`` > 1 it climbs: an update that gets further through the preconditions
    than ``start`` is kept and the search goes on from there.
    """
    s = oracle.s
    s.conn.execute(_HOME)  # every update below is rolled back: O(rows updated), no copy
    tool = oracle.spec.tools[name]
    setup: list[dict[str, Any]] = []
    best = start

    def want(j: int) -> bool:  # the goal, or when climbing any step further
        return goal(j) or (rounds > 1 and j > best)

    try:
        for _ in range(rounds):
            try:
                binds = oracle.binds(name, args)
            except Exception:  # noqa: BLE001 - lets that fail on this state: nothing to build on
                return None
            vals = param_values(binds, list(tool.params) + list(tool.generate))
            step = None
            for table, rid in rows_near(oracle, sampler, vals, tables):
                ent = oracle.spec.entities[table]
                row = s.conn.execute(f"SELECT * FROM {q(table)} WHERE rowid = ?", (rid,)).fetchone()
                cur = dict(zip(ent.columns, row, strict=False))
                key = {c: cur[c] for c in ent.primary_key} or {"rowid": rid}
                for cname in ent.columns:
                    if columns is not None and not {(table, cname), (None, cname)} & columns:
                        continue
                    for val in column_values(oracle, table, cname, cur[cname], vals):
                        changes = [{cname: val}]
                        num = (int, float)
                        if (
                            cname in _numeric(oracle, table)
                            and isinstance(cur[cname], num)
                            and isinstance(val, num)
                        ):
                            delta = val - cur[cname]
                            changes += [
                                {cname: val, c2: round(cur[c2] + delta, 6)}
                                for c2 in _numeric(oracle, table)
                                if c2 != cname and isinstance(cur[c2], int | float)
                            ]
                        for sets in changes:
                            st = {"table": table, "key": key, "set": sets}
                            k, bad = _probe(oracle, name, args, st, want)
                            if want(k) and bad:  # an invariant ties other columns of the row
                                k, st = _coupled(oracle, name, args, st, cur, vals, bad, want)
                                bad = []
                            clean = want(k) and bad == []
                            if clean and goal(k):
                                return [*setup, st]
                            if clean and step is None:
                                step, best = st, k
            if step is None:
                return None
            setup.append(step)
            apply_setup(s.conn, [step])
        return None
    finally:
        s.guard.internal()
        s.conn.execute(_HOME_BACK)
        s.conn.execute(_HOME_END)


_HOME = "/*scaleenv:proctest*/ SAVEPOINT scaleenv_home"
_HOME_BACK = "/*scaleenv:proctest*/ ROLLBACK TO scaleenv_home"
_HOME_END = "/*scaleenv:proctest*/ RELEASE scaleenv_home"


def _probe(
    oracle: Oracle, name: str, args: dict[str, Any], st: dict[str, Any], want: Callable
) -> tuple[int, list[str] | None]:
    """First failing precondition after update ``st`` (undone after) and, when ``want`` it,
    the invariants the update broke; (-1, None) when SQLite refuses the update."""
    conn = oracle.s.conn
    conn.execute("SAVEPOINT scaleenv_probe")
    try:
        apply_setup(conn, [st])
        k = oracle.first_failing(name, args)
        return k, oracle.violations(changes=oracle.s.changes()) if want(k) else None
    except sqlite3.Error:
        return -1, None
    finally:
        conn.execute("ROLLBACK TO scaleenv_probe")
        conn.execute("RELEASE scaleenv_probe")


def _coupled(
    oracle: Oracle, name: str, args: dict[str, Any], st: dict[str, Any], cur: dict[str, Any],
    vals: list[Any], bad: list[str], want: Callable[[int], bool],
) -> tuple[int, dict[str, Any]]:  # fmt: skip
    """``st`` plus one more column of the same row, read by the invariants it broke, set so
    that they hold again and ``want`` still does (a variant made unavailable gets stock 0);
    (-1, st) when no such column value exists."""
    table, spec = st["table"], oracle.spec
    sqls = [inv.violations for inv in spec.invariants if inv.name in bad]
    cols = read_columns(spec, sqls)
    for cname in spec.entities[table].columns:
        if cname in st["set"] or not {(table, cname), (None, cname)} & cols:
            continue
        for val in column_values(oracle, table, cname, cur[cname], vals):
            both = {**st, "set": {**st["set"], cname: val}}
            k, still = _probe(oracle, name, args, both, want)
            if still == [] and want(k):
                return k, both
    return -1, st


def hot_rows(s: Any, changes: list[RowChange]) -> dict[str, list[int]]:
    """Table -> rowids of the rows ``changes`` left in place (in the session's state)."""
    hot: dict[str, list[int]] = {}
    for ch in changes:
        if ch.after is not None:
            where = " AND ".join(f"{q(c)} = ?" for c in ch.key)
            row = s.conn.execute(
                f"SELECT rowid FROM {q(ch.table)} WHERE {where}", list(ch.key.values())
            ).fetchone()
            hot.setdefault(ch.table, []).extend(row or [])
    return hot


@dataclass
class Walk:
    """A state reached by a random walk: the calls made, and the rows they changed as a start
    patch (entered in place by ``Session.reset(task)``: O(changed rows), never a copy)."""

    calls: list[dict[str, Any]]
    task: Task
    hot: dict[str, list[int]] | None = None  # rowids where the patch puts the rows: on entry


class States:
    """The base state and, computed on first use, states after random walks of valid calls.

    No state is a copy of the database: the base is the session's reset state, a walk's
    state is the base plus the walk's changed rows, and going back to either after a case
    undoes the case's changes from the change log (O(changes))."""

    def __init__(self, oracle: Oracle, sampler: Sampler, seed: int) -> None:
        self.oracle, self.sampler, self.seed = oracle, sampler, seed
        self._walks: list[Walk] | None = None
        # the state whose rows the sampler's samples hold (the session starts in the base)
        self._at = 0
        self._rows: dict[int, RowSample] = {0: sampler.rows}  # state -> its samples, kept

    def walks(self, n: int = 2, attempts: int = 150) -> list[Walk]:
        """``n`` states, each after ``attempts`` more tries of valid write calls."""
        if self._walks is None:
            s, spec = self.oracle.s, self.oracle.spec
            rng = random.Random(f"walk:{self.seed}")
            writers = [t for t, tool in spec.tools.items() if tool.writes]
            self.enter(0)  # the walk draws from the base's samples (read once), not samples
            # read again after each call; rows it changed are ``hot`` after it
            calls: list[dict[str, Any]] = []
            self._walks = []
            for i in range(n if writers else 0):
                for _ in range(attempts):
                    name = rng.choice(writers)
                    args = self.sampler.valid_args(name, rng)
                    if self.oracle.first_failing(name, args) != len(spec.tools[name].preconditions):
                        continue
                    if s.call(name, args).ok:
                        calls.append({"tool": name, "args": args})
                changes = s.changes()
                # only a start patch: all that Session.reset(task) reads of a task
                patch: dict[str, Any] = {"start_patch": changes, "domain": spec.name}
                task = Task.model_construct(id=f"proctest-walk-{i + 1}", **patch)
                self._walks.append(Walk(list(calls), task))
            s.reset()
            self.sampler.hot = {}
        return self._walks

    def restore(self, index: int) -> None:
        """Back to state ``index`` (the sampler's samples stay as they are)."""
        s = self.oracle.s
        if index == 0:
            s.reset()
        else:
            s.reset(self.walks()[index - 1].task)

    def enter(self, index: int) -> None:
        """Go to state ``index``; the sampler then draws from its rows. Each state's samples
        are read once per world and kept (not read again after every tool)."""
        self.restore(index)
        hot: dict[str, list[int]] = {}
        if index:
            walk = self.walks()[index - 1]
            if walk.hot is None:
                walk.hot = hot_rows(self.oracle.s, walk.task.start_patch)
            hot = walk.hot
        self.sampler.hot = hot
        if self._at == index:
            return
        sp = self.sampler
        self._rows[self._at] = sp.rows
        sp.rows = self._rows.get(index) or sp.rows.fresh()
        self._at = index

    def prelude(self, index: int) -> list[dict[str, Any]]:
        return [] if index == 0 else self.walks()[index - 1].calls
