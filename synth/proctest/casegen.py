"""Test cases per tool, generated from the spec and the live database (no hand-written cases).

Valid arguments come from existing rows through lineage: a param's ``references`` (or, if
none, the column its bind is compared with in the tool's SQL). Params of one call are drawn
coherently: once a row is chosen, later params prefer rows linked to it through foreign keys
(a customer's own accounts, an order's own items), so preconditions that tie params together
pass. Invalid and boundary values are derived from each param's declared type and limits.
"""

from __future__ import annotations

import json
import random
import re
from datetime import datetime, timedelta
from typing import Any

from engine.db import q
from engine.runtime.argcheck import DEFAULT_MAX_LENGTH
from engine.session import Session
from engine.spec.models import DATE_FMT, DATETIME_FMT, Param
from synth.proctest.addressing import Ref, bind_lineage, result_anchor
from synth.proctest.literals import sql_literals
from synth.proctest.objects import is_objects, object_value, settle
from synth.proctest.oracles import arg_problem
from synth.proctest.regexgen import regex_sample
from synth.proctest.sampling import Edge, Pool, RowSample


# ---- the sampler -----------------------------------------------------------------------------
class Sampler:
    """Draws argument values from the session's current rows (bounded samples of each table,
    ``synth.proctest.sampling``, read once per state)."""

    def __init__(self, session: Session) -> None:
        self.s, self.spec = session, session.spec
        self._paths: dict[tuple[str, str, int], list[str]] = {}
        self._anchors: dict[str, str | None] = {}
        self._lineage: dict[str, dict[str, list[Ref]]] = {}
        self._depth: dict[str, int] = {}
        self._literals: dict[str, dict[str, list[Any]]] = {}
        self.hot: dict[str, list[int]] = {}  # table -> rowids changed since the base state
        self.edges = [
            (t, c, *col.references.split("."))
            for t, e in self.spec.entities.items()
            for c, col in e.columns.items()
            if col.references
        ]
        self.now = datetime.strptime(self.spec.now, DATETIME_FMT)
        edges: list[Edge] = [(c, cc, p, pc) for c, cc, p, pc in self.edges]
        self.rows = RowSample(self.s.conn, self.spec, edges)  # swapped per state: States

    def depth(self, table: str, seen: frozenset[str] = frozenset()) -> int:
        """Longest foreign-key chain above ``table`` (0 for a root table)."""
        if not seen and table in self._depth:
            return self._depth[table]
        ups = [p for c, _, p, _ in self.edges if c == table and p != table and p not in seen]
        d = 1 + max((self.depth(p, seen | {table}) for p in ups), default=-1)
        if not seen:
            self._depth[table] = d
        return d

    def parents(self, table: str, rid: int) -> list[tuple[str, int]]:
        """The rows one ``table`` row references."""
        out = []
        for c, cc, p, pc in self.edges:
            if c == table:
                sql = f"SELECT p.rowid FROM {q(p)} p JOIN {q(c)} c ON c.{q(cc)} = p.{q(pc)} WHERE c.rowid = ?"
                out += [(p, r[0]) for r in self.s.conn.execute(sql, (rid,))]
        return out

    def invalidate(self, tables: Any = None) -> None:
        """Forget pools of ``tables`` (all when None) after the state changed."""
        self.rows.clear(tables)

    def lineage(self, name: str) -> dict[str, list[Ref]]:
        if name not in self._lineage:
            tool = self.spec.tools[name]
            found = bind_lineage(self.spec, tool)
            for pname, p in tool.params.items():
                ref = p.references or (p.items.references if p.items else None)
                if ref:  # the declared lineage first, then the columns the SQL compares it to
                    found[pname] = [(ref, "cmp")] + [r for r in found.get(pname, []) if r[0] != ref]
            self._lineage[name] = found
        return self._lineage[name]

    def pool(self, table: str, col: str) -> Pool:
        return self.rows.pool(table, col)

    def strata(self, table: str, col: str) -> list[Pool]:
        """The pool in groups, one per kind of row (``RowSample.strata``)."""
        return self.rows.strata(table, col)

    def paths(self, a: str, b: str, hops: int = 2) -> list[str]:
        """SQL texts (bind: the start rowid) reaching ``b`` rows from one ``a`` row, ≤ ``hops``
        FK hops, shortest first."""
        if (a, b, hops) in self._paths:
            return self._paths[(a, b, hops)]
        steps = [(c, cc, p, pc) for c, cc, p, pc in self.edges] + [
            (p, pc, c, cc) for c, cc, p, pc in self.edges
        ]
        found: list[list[tuple[str, str, str, str]]] = []
        frontier: list[list[tuple[str, str, str, str]]] = [[]]
        for _ in range(hops):
            nxt = []
            for path in frontier:
                at = path[-1][2] if path else a
                for st in steps:
                    if st[0] == at:
                        nxt.append([*path, st])
            found += [p for p in nxt if p[-1][2] == b]
            frontier = nxt
        sqls = []
        for path in found[:12]:
            joins = "".join(
                f" JOIN {q(t)} t{i + 1} ON t{i}.{q(fc)} = t{i + 1}.{q(tc)}"
                for i, (_, fc, t, tc) in enumerate(path)
            )
            sqls.append(
                f"SELECT t{len(path)}.rowid, t{len(path)}.%s FROM {q(a)} t0{joins} WHERE t0.rowid = ?"
            )
        self._paths[(a, b, hops)] = sqls
        return sqls

    def related(self, table: str, col: str, chosen: list, rng: random.Random) -> list | None:
        options = [(None, rid) for t, rid in chosen if t == table]
        options += [(sql, rid) for t, rid in chosen for sql in self.paths(t, table)]
        if not options or rng.random() < 0.15:
            return None
        for _ in range(2):
            sql, rid = rng.choice(options)
            if sql is None:
                rows = self.s.conn.execute(
                    f"SELECT rowid, {q(col)} FROM {q(table)} WHERE rowid = ?", (rid,)
                ).fetchall()
            else:
                rows = self.s.conn.execute(
                    (sql % q(col)) + " ORDER BY 1 LIMIT 64", (rid,)
                ).fetchall()
            rows = [r for r in rows if r[1] is not None]
            if rows:
                return rows
        return None

    # ---- valid arguments -------------------------------------------------------------------
    def valid_args(
        self, name: str, rng: random.Random, base: dict | None = None, vary: set[str] | None = None
    ) -> dict[str, Any]:
        """Arguments drawn from the live rows; with ``base``, only ``vary`` params are redrawn."""
        tool = self.spec.tools[name]
        lin = self.lineage(name)
        names = list(tool.params)
        roll = rng.random()
        if roll < 0.6:  # the most specific rows first: the rest follow from them up the FKs
            names.sort(key=lambda n: -self.depth(lin[n][0][0].split(".")[0]) if n in lin else 1)
        elif roll < 0.8:
            rng.shuffle(names)
        chosen: list[tuple[str, int]] = []
        n = rng.choice((1, 1, 1, 2, 3))
        args: dict[str, Any] = {}
        if base is not None:
            vary = vary or set()
            for k, v in base.items():
                if k not in vary:
                    args[k] = v
                    self._anchor(lin.get(k, []), v, chosen)
        for pname in names:
            p = tool.params[pname]
            if pname in args or (base is not None and pname not in (vary or ())):
                continue
            if not p.required and rng.random() < (0.5 if base is None else 0.3):
                continue
            v = self.literal(name, pname, rng, 0.3 if lin.get(pname) else 0.8)
            if v is None:
                v = self.value(p, lin.get(pname, []), chosen, rng, n)
            if v is not None:
                args[pname] = v
        return settle(self, name, args, rng)

    def literal(self, name: str, pname: str, rng: random.Random, chance: float) -> Any:
        """Sometimes (``chance``) a value the tool's SQL spells out for the param (an
        IN-list, a CASE branch, a compared literal), when it is a valid argument."""
        if name not in self._literals:
            self._literals[name] = sql_literals(self.spec.tools[name], self.spec, name)
        vals = self._literals[name].get(pname)
        p = self.spec.tools[name].params[pname]
        if not vals or p.type not in ("string", "integer", "number") or rng.random() >= chance:
            return None
        v = rng.choice(vals)
        if p.type == "integer" and not isinstance(v, int):
            return None
        if p.type == "string" and not isinstance(v, str):
            v = str(v)
        return None if arg_problem(p, v) else v

    def joint_args(self, name: str, rng: random.Random) -> dict[str, Any]:
        """Arguments all taken from one row of the table the tool's result query finds, or
        from rows joined to it (one order's user, status and an item's product name): a
        search made of one row's values must find that row, whatever its filters are."""
        if name not in self._anchors:
            self._anchors[name] = result_anchor(self.spec, self.spec.tools[name])
        anchor = self._anchors[name]
        first = next(iter(self.spec.entities[anchor].columns)) if anchor else ""
        rows = self.pool(anchor, first) if anchor else []
        if not rows:
            return self.valid_args(name, rng)
        group = rng.choice(self.strata(anchor, first)) if rng.random() < 0.5 else rows
        rid = rng.choice(group or rows)[0]
        args: dict[str, Any] = {}
        picked = {anchor: rid}  # table -> the row values came from: one row per table
        for pname, p in self.spec.tools[name].params.items():
            refs = self.lineage(name).get(pname, [])
            if not p.required and (not refs or rng.random() < 0.3):
                continue
            many = p.type == "array" and p.items is not None
            k = max(p.min_items or 1, min(rng.choice((1, 1, 2)), p.max_items or 2)) if many else 1
            vals = self._joined(p.items if many and p.items else p, refs, anchor, picked, rng, k)
            if vals is not None:
                args[pname] = vals if many else vals[0]
            elif p.required:
                lit = self.literal(name, pname, rng, 0.8)
                args[pname] = (
                    lit if lit is not None else self.value(p, refs, [(anchor, rid)], rng, k)
                )
        return args

    def _joined(
        self, p: Param, refs: list[Ref], anchor: str, picked: dict[str, int], rng: random.Random,
        k: int,
    ) -> list | None:  # fmt: skip
        """``k`` values of ``p`` from rows already ``picked`` (the anchor row first), else from
        the nearest rows joined to the anchor row (recorded in ``picked``)."""
        for ref, op in sorted(refs, key=lambda r: r[0].split(".")[0] not in picked):
            table, col = ref.split(".")
            if col not in getattr(self.spec.entities.get(table), "columns", {}):
                continue
            if table in picked:
                sqls, start = [f"SELECT rowid, %s FROM {q(table)} WHERE rowid = ?"], picked[table]
            else:
                sqls, start = self.paths(anchor, table, 3), picked[anchor]
            for sql in sqls:
                found = self.s.conn.execute((sql % q(col)) + " ORDER BY 1 LIMIT 64", (start,))
                vals: list[Any] = []
                for rowid, raw in rng.sample(rows := found.fetchall(), len(rows)):
                    v = None if raw is None else coerce(p, raw, op, rng)
                    if v is not None and v not in vals and not arg_problem(p, v):
                        vals.append(v)
                        picked.setdefault(table, rowid)
                    if len(vals) == k:
                        break
                if vals:
                    return vals
        return None

    def _anchor(self, refs: list[Ref], v: Any, chosen: list) -> None:
        """Add the rows a kept argument names (each item of an array) to ``chosen``."""
        if not refs or isinstance(v, dict) or refs[0][1] != "cmp":
            return
        t, c = refs[0][0].split(".")
        for x in v[:3] if isinstance(v, list) else [v]:
            if isinstance(x, list | dict):
                continue
            rid = self.rows.rowid_of(t, c, x)
            if rid is not None:
                chosen += [(t, rid), *self.parents(t, rid)]

    def value(self, p: Param, refs: list[Ref], chosen: list, rng: random.Random, n: int) -> Any:
        if is_objects(p):
            return object_value(self, p, chosen, rng, n)
        if p.type == "array":
            assert p.items is not None
            k = max(p.min_items or 1, min(n, p.max_items or n))
            vals = self.from_lineage(p.items, refs, chosen, rng, k) if refs else None
            if not vals or len(vals) < (p.min_items or 1):
                vals = list(dict.fromkeys(self.generic(p.items, rng) for _ in range(k)))
            return vals
        if p.type == "boolean" or (p.type == "enum" and (not refs or rng.random() < 0.5)):
            return rng.choice(p.values or [True, False])
        if refs and rng.random() < 0.9:
            vals = self.from_lineage(p, refs, chosen, rng, 1)
            if vals:
                return vals[0]
        return self.generic(p, rng)

    def from_lineage(
        self, p: Param, refs: list[Ref], chosen: list, rng: random.Random, k: int
    ) -> list | None:
        ref, op = rng.choice(refs)
        table, col = ref.split(".")
        ent = self.spec.entities.get(table)
        if ent is None or col not in ent.columns:
            return None
        rows = self.related(table, col, chosen, rng)
        if rows is None and self.hot.get(table) and rng.random() < 0.35:  # rows a walk touched
            marks = ", ".join("?" for _ in self.hot[table])
            sql = f"SELECT rowid, {q(col)} FROM {q(table)} WHERE rowid IN ({marks}) AND {q(col)} IS NOT NULL"
            rows = self.s.conn.execute(sql, self.hot[table]).fetchall()
        if rows is None and rng.random() < 0.4:  # a rare kind of row as likely as a common one
            rows = rng.choice(self.strata(table, col) or [[]])
        rows = rows or self.pool(table, col)
        if not rows:
            return None
        picks = rng.sample(rows, min(len(rows), k * 3))
        out, seen = [], set()
        for rid, raw in picks:
            v = coerce(p, raw, op, rng)
            key = json.dumps(v, default=str)
            if v is None or key in seen or arg_problem(p, v):
                continue
            seen.add(key)
            out.append(v)
            chosen.append((table, rid))
            chosen += self.parents(table, rid)
            if len(out) == k:
                break
        return out or None

    def generic(self, p: Param, rng: random.Random) -> Any:
        """A plausible in-range value with no lineage (ids made from the pattern)."""
        if is_objects(p):
            return object_value(self, p, [], rng, 1, generic=True)
        if p.type in ("integer", "number"):
            lo = p.minimum if p.minimum is not None else 0
            hi = p.maximum if p.maximum is not None else max(lo, 0) + 100
            cands = [c for c in (lo, lo + 1, 1, 2, 5, 10, 25, 50, 100) if lo <= c <= hi] or [lo]
            v = rng.choice(cands)
            return int(v) if p.type == "integer" else float(round(v, 2))
        if p.type == "boolean":
            return rng.random() < 0.5
        if p.type == "enum":
            return rng.choice(p.values or [None])
        if p.type in ("date", "datetime"):
            t = self.now + timedelta(days=rng.randint(-30, 30), hours=rng.randint(-12, 12))
            return t.strftime(DATE_FMT if p.type == "date" else DATETIME_FMT)
        if p.type == "array":
            assert p.items is not None
            return [self.generic(p.items, rng) for _ in range(max(1, p.min_items or 1))]
        if p.pattern:
            v = regex_sample(p.pattern, rng)
            if v is not None and not arg_problem(p, v):
                return v
        text = f"Procedural test {rng.randint(1, 999)}"
        text = text[: p.max_length or DEFAULT_MAX_LENGTH]
        return text + "x" * max(0, (p.min_length or 0) - len(text))

    # ---- invalid and boundary values ---------------------------------------------------------
    def missing_value(self, p: Param, refs: list[Ref], rng: random.Random) -> Any:
        """A value of the param's type that no row holds in its lineage column (or None)."""
        if p.type == "array" and p.items is not None:
            item = self.missing_value(p.items, refs, rng)
            return None if item is None or (p.min_items or 0) > 1 else [item]
        if not refs or p.type not in ("string", "integer", "date"):
            return None
        table, col = refs[0][0].split(".")
        if self.rows.complete(table):  # a small table: its values at hand
            present = {v for _, v in self.pool(table, col)}
            top = max([x for x in present if isinstance(x, int)] or [0])
            held = present.__contains__
        else:  # a large one: indexed look-ups, never the whole column
            top = self.rows.max_int(table, col)
            held = lambda v: self.rows.holds(table, col, v)  # noqa: E731
        for i in range(20):
            if p.type == "integer":
                v: Any = top + 1000 + i
            elif p.type == "date":
                v = f"{1901 + i:04d}-01-01"
            else:
                v = (regex_sample(p.pattern, rng) if p.pattern else None) or f"ZZ-missing-{i}"
            if not held(v) and not arg_problem(p, v):
                return v
        return None


def coerce(p: Param, raw: Any, op: str, rng: random.Random) -> Any:
    """A stored value as an argument of ``p``'s type (a word of it for LIKE), or None."""
    t = p.type
    if t in ("string", "enum") and op == "like" and isinstance(raw, str):
        words = [w for w in re.findall(r"\w+", raw) if len(w) >= max(1, p.min_length or 1)]
        raw = rng.choice(words) if words else raw
    if t == "string":
        return raw if isinstance(raw, str) else str(raw)
    if t == "enum":
        return raw if raw in (p.values or []) else None
    if t == "integer":
        return raw if type(raw) is int else None
    if t == "number":
        return raw if type(raw) in (int, float) else None
    if t == "boolean":
        return bool(raw) if raw in (0, 1) else None
    if t == "date" and isinstance(raw, str):
        return raw[:10]
    if t == "datetime" and isinstance(raw, str):
        return raw if len(raw) > 10 else raw + " 00:00:00"
    return None
