"""Values for tool params that no row supplies: reasons, new addresses, notes, amounts, dates.

A param without ``references`` still lands somewhere: it is written into a column
(``SET note = :note``), compared with one (``price <= :max_price``) or matched against one
(``title LIKE '%' || :query || '%'``). That column, found with sqlglot, says what a good
value looks like; its seeding generator draws one. A ``pattern`` on the param wins.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import sqlite3
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from engine.db import q
from engine.spec.models import DATE_FMT, DATETIME_FMT, Column, DomainSpec, Param, Tool
from engine.spec.sql import column_map, parse_one_statement, resolve_column
from synth.proctest.literals import sql_literals
from synth.seed.columns import make_generator
from synth.seed.values import guess_source, pool
from synth.tasks.domain import TAG

_CMP = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like, exp.ILike, exp.Between, exp.In)


@dataclass(frozen=True)
class ParamSource:
    ref: str | None  # the param's (or its items') declared reference
    column: str | None  # "table.column" the SQL writes it to or compares it with
    like: bool = False  # matched as a substring
    written: bool = False  # stored by an UPDATE SET / INSERT: a new value, not a lookup
    literals: tuple[Any, ...] = ()  # values the SQL spells out (an IN-list, CASE branches)
    json_key: str | None = None  # the key of the JSON object it is stored under in ``column``


def _tool_sql(tool: Tool) -> list[str]:
    out = list(tool.let.values()) + [p.check for p in tool.preconditions]
    for e in tool.effects:
        out.append(e.sql)
        if e.when:
            out.append(e.when)
    if tool.returns is not None:
        out.append(tool.returns.query)
    return out


def _column_ref(col: exp.Column, schema: dict[str, list[str]], tables: list[str]) -> str | None:
    src = resolve_column(col, schema)
    if isinstance(src, str) and col.name in schema.get(src, ()):
        return f"{src}.{col.name}"
    hits = [t for t in tables if col.name in schema.get(t, ())]
    return f"{hits[0]}.{col.name}" if hits else None


def _insert_column(node: exp.Expression, stmt: exp.Expression) -> str | None:
    if not isinstance(stmt, exp.Insert) or not isinstance(stmt.this, exp.Schema):
        return None
    names = [i.name for i in stmt.this.expressions if isinstance(i, exp.Identifier)]
    cur = node
    while cur is not None and cur.parent is not None:
        if isinstance(cur.parent, exp.Tuple) and isinstance(cur.parent.parent, exp.Values):
            idx = cur.parent.expressions.index(cur) if cur in cur.parent.expressions else -1
            if 0 <= idx < len(names):
                return f"{stmt.this.this.name}.{names[idx]}"
            return None
        cur = cur.parent
    return None


def analyze_params(spec: DomainSpec, tool: Tool) -> dict[str, ParamSource]:
    """Where each param's values go: written column, compared column, substring match."""
    schema = column_map(spec)
    tables = sorted(set(tool.reads) | set(tool.writes))
    found: dict[str, tuple[int, str, bool]] = {}  # param -> (rank, column, like)
    keys: dict[str, str] = {}  # param -> its key in a json_object(...) the SQL builds
    for sql in _tool_sql(tool):
        try:
            stmt = parse_one_statement(sql)
        except ValueError:
            continue
        for ph in stmt.find_all(exp.Placeholder):
            name = ph.name
            if name not in tool.params:
                continue
            kv = ph.parent
            if isinstance(kv, exp.JSONKeyValue) and isinstance(kv.this, exp.Literal):
                keys.setdefault(name, kv.this.name)
            col = _insert_column(ph, stmt)
            if col:
                found.setdefault(name, (0, col, False))
                continue
            node: exp.Expression | None = ph
            while node is not None and not isinstance(node, (*_CMP, exp.Select)):
                node = node.parent
            if node is None or isinstance(node, exp.Select):
                continue
            sides = (
                [node.this, node.expression] if not isinstance(node, exp.Between) else [node.this]
            )
            for side in sides:
                if side is None or any(p is ph for p in side.find_all(exp.Placeholder)):
                    continue
                c = next(iter(side.find_all(exp.Column)), None) if side else None
                ref = _column_ref(c, schema, tables) if c is not None else None
                if ref:
                    is_upd = isinstance(node, exp.EQ) and isinstance(node.parent, exp.Update)
                    like = isinstance(node, exp.Like | exp.ILike)
                    rank = 0 if is_upd else 1
                    if name not in found or found[name][0] > rank:
                        found[name] = (rank, ref, like)
                    break

    lits = sql_literals(tool)
    out: dict[str, ParamSource] = {}
    for pname, p in tool.params.items():
        ref = p.references or (p.items.references if p.items is not None else None)
        hit = found.get(pname)
        out[pname] = ParamSource(
            ref,
            hit[1] if hit else ref,
            bool(hit and hit[2]),
            bool(hit and hit[0] == 0),
            tuple(lits.get(pname, ())),
            keys.get(pname) if hit and hit[0] == 0 else None,
        )
    return out


# ---- regex patterns -----------------------------------------------------------------------------
_CLASSES = {
    r"\d": "0123456789",
    r"\w": "abcdefghijklmnopqrstuvwxyz",
    "[A-Z]": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "[a-z]": "abcdefghijklmnopqrstuvwxyz",
    "[0-9]": "0123456789",
    "[A-Za-z]": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
}
_TOKEN = re.compile(
    r"(\\d|\\w|\[A-Z\]|\[a-z\]|\[0-9\]|\[A-Za-z\]|\\.|[^\\\[\]{}()?*+|^$])(\{\d+(?:,\d+)?\}|[?*+])?"
)


def from_pattern(pattern: str, rng: random.Random) -> str | None:
    """A string matching a simple anchored regex (classes, literals, counts); None if the
    pattern uses anything else (alternation, groups)."""
    body = pattern.removeprefix("^").removesuffix("$")
    out: list[str] = []
    pos = 0
    while pos < len(body):
        m = _TOKEN.match(body, pos)
        if m is None:
            return None
        atom, count = m.group(1), m.group(2)
        pos = m.end()
        chars = _CLASSES.get(atom) or (atom[1] if atom.startswith("\\") else atom)
        if count is None:
            n = 1
        elif count == "?":
            n = rng.randint(0, 1)
        elif count in "*+":
            n = rng.randint(1, 3)
        else:
            lo, _, hi = count.strip("{}").partition(",")
            n = rng.randint(int(lo), int(hi or lo))
        out.extend(rng.choice(chars) for _ in range(n))
    text = "".join(out)
    return text if re.fullmatch(pattern, text) else None


# ---- free values --------------------------------------------------------------------------------
class FreeValues:
    """Draws values for params that do not name a row."""

    def __init__(self, spec: DomainSpec, seed: int) -> None:
        self.spec = spec
        self.seed = seed
        self._gens: dict[str, Any] = {}
        self._col_values: dict[str, list[Any]] = {}
        self.now = dt.datetime.strptime(spec.now, DATETIME_FMT)

    def column_values(self, conn: sqlite3.Connection, ref: str) -> list[Any]:
        """Distinct stored values of a column (first 400, sorted): the base state's vocabulary."""
        hit = self._col_values.get(ref)
        if hit is None:
            table, _, col = ref.partition(".")
            rows = conn.execute(
                TAG + f"SELECT DISTINCT {q(col)} FROM {q(table)} WHERE {q(col)} IS NOT NULL "
                f"ORDER BY 1 LIMIT 400"
            ).fetchall()
            hit = self._col_values[ref] = [r[0] for r in rows]
        return hit

    def json_values(self, conn: sqlite3.Connection, ref: str, key: str) -> list[Any]:
        """Distinct stored values of one key of a JSON object column (first 400, sorted)."""
        mk = f"{ref}$.{key}"
        hit = self._col_values.get(mk)
        if hit is None:
            table, _, col = ref.partition(".")
            rows = conn.execute(
                TAG + f"SELECT DISTINCT json_extract({q(col)}, ?) AS v FROM {q(table)} WHERE "
                f"json_valid({q(col)}) AND v IS NOT NULL ORDER BY 1 LIMIT 400",
                ('$."' + key.replace('"', '""') + '"',),
            ).fetchall()
            hit = self._col_values[mk] = [r[0] for r in rows]
        return hit

    def _generator(self, ref: str) -> Any:
        gen = self._gens.get(ref)
        if gen is None:
            table, _, col = ref.partition(".")
            gen = self._gens[ref] = make_generator(self.spec, table, col, 200, self.seed)
        return gen

    def value(
        self,
        conn: sqlite3.Connection,
        p: Param,
        src: ParamSource,
        rng: random.Random,
        name: str = "",
    ) -> Any:
        """One valid value of a scalar param (arrays: call per item)."""
        if p.type == "enum":
            return rng.choice(list(p.values or []))
        if src.json_key and src.column:  # a field of a stored JSON object (an address's zip)
            kind = str if p.type in ("string", "date", "datetime") else int | float
            vals = [
                v for v in self.json_values(conn, src.column, src.json_key) if isinstance(v, kind)
            ]
            if vals:
                return rng.choice(vals)
        if p.type == "boolean":
            return rng.random() < 0.5
        lits = [
            v
            for v in src.literals
            if (isinstance(v, str) if p.type == "string" else isinstance(v, int | float))
        ]
        if lits and p.type in ("string", "integer", "number") and rng.random() < 0.8:
            return rng.choice(lits)  # what a precondition's IN-list or CASE allows
        if p.type in ("integer", "number"):
            return self._number(conn, p, src, rng)
        if p.type in ("date", "datetime"):
            return self._date(conn, p, src, rng)
        return self._string(conn, p, src, rng, name)

    def _number(
        self, conn: sqlite3.Connection, p: Param, src: ParamSource, rng: random.Random
    ) -> Any:
        lo = p.minimum if p.minimum is not None else 0
        hi = p.maximum if p.maximum is not None else None
        if hi is None and src.column:
            vals = [v for v in self.column_values(conn, src.column) if isinstance(v, int | float)]
            if vals:
                hi = max(min(vals) + 1, sorted(vals)[len(vals) // 2])
        hi = hi if hi is not None else lo + 10
        if p.type == "integer":
            return rng.randint(int(lo), int(max(lo, min(hi, lo + 10))))
        round_values = [
            v for v in (5, 10, 20, 25, 50, 75, 100, 150, 200, 250, 500) if lo <= v <= hi
        ]
        if round_values and rng.random() < 0.6:
            return rng.choice(round_values)
        return round(rng.uniform(float(lo), float(hi)), 2)

    def _date(
        self, conn: sqlite3.Connection, p: Param, src: ParamSource, rng: random.Random
    ) -> str:
        if src.column:
            vals = [v for v in self.column_values(conn, src.column) if isinstance(v, str)]
            ahead = [v for v in vals if v >= self.spec.now[:10]]
            if ahead and rng.random() < 0.5:
                vals = ahead[:60]
            if vals:
                v = rng.choice(vals)
                return v[:10] if p.type == "date" else v
        d = self.now + dt.timedelta(days=rng.randint(1, 30))
        return d.strftime(DATE_FMT if p.type == "date" else DATETIME_FMT)

    def _string(
        self, conn: sqlite3.Connection, p: Param, src: ParamSource, rng: random.Random, name: str
    ) -> str:
        lo, hi = p.min_length or 1, p.max_length or 200
        if src.column and src.like:
            words = [
                w
                for v in self.column_values(conn, src.column)[:100]
                for w in re.findall(r"[A-Za-z]{4,}", str(v))
            ]
            if words:
                return rng.choice(words)
        if src.column:
            stored = [
                v
                for v in self.column_values(conn, src.column)
                if isinstance(v, str)
                and lo <= len(v) <= hi
                and (not p.pattern or re.fullmatch(p.pattern, v))
            ]
            if stored:
                return rng.choice(stored)
        if p.pattern:
            for _ in range(5):
                v = from_pattern(p.pattern, rng)
                if v is not None and lo <= len(v) <= hi:
                    return v
        candidates: list[Any] = []
        if src.column and src.column != src.ref:
            try:
                candidates = self._generator(src.column).draw(rng, 3)
            except Exception:  # a generator that needs seeding context: fall back below
                candidates = []
        if not candidates:
            kind, prov, args = guess_source(name or "value", _text_column())
            candidates = pool(self.seed, prov, args, 100) if kind == "provider" else []
            candidates = [rng.choice(candidates)] if candidates else []
        for v in candidates:
            if isinstance(v, str) and v.strip():
                v = v.strip()[:hi]
                if len(v) >= lo and (not p.pattern or re.fullmatch(p.pattern, v)):
                    return v
        return ("x" * lo)[:hi]


def _text_column() -> Any:

    return Column(type="string")
