"""Search for each tool's cases: calls that pass every precondition, a call or a state in which
each precondition fires, and the invalid and boundary calls around a valid one.

The search is cheap because it only *predicts* (``Oracle.first_failing`` runs the tool's
lets and preconditions, not its effects): random coherent draws, then hill climbing from the
candidate that got furthest through the preconditions. Around each valid call, one
argument at a time is moved (other values, a missing id, every existing value of its
lineage column) to make each precondition fire. What arguments cannot reach is constructed
(``synth.proctest.casestate``): rows the call addresses are updated in place (an order set to
'delivered', a balance set to 0), or the world is first changed by a random walk of valid
calls. Valid calls are kept diverse: calls on kinds of rows not seen yet (a card of a
closed account) replace calls on kinds already seen.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from engine.db import q
from engine.runtime.argcheck import DEFAULT_MAX_LENGTH
from engine.spec.models import Param
from engine.spec.sql import parse_one_statement, tables_read
from synth.proctest.addressing import read_columns
from synth.proctest.casegen import Sampler, coerce
from synth.proctest.casestate import States, apply_setup, construct_state
from synth.proctest.oracles import Oracle

TEXTS = ["Zoë 🚀 中文 ✓", "' OR '1'='1' --", "%", "_", "'; DROP TABLE x; --", "\\", " ", "x\x00y"]


@dataclass
class Case:
    """One call to make: ``setup`` (row updates applied first) makes a state, then the call."""

    tool: str
    kind: str  # valid | repeat | precondition | missing | extra | wrong_type | out_of_range |
    #            nonexistent | boundary
    args: dict[str, Any]
    label: str = ""
    setup: list[dict[str, Any]] = field(default_factory=list)
    state: int = 0  # 0: the world's base state; i: after walk i (``casestate.States``)
    sig: frozenset | None = field(default=None, compare=False, repr=False)  # kinds of rows used

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "args": clean_json(self.args)}
        if self.state:
            out["state"] = f"after random walk {self.state}"
        if self.label:
            out["label"] = self.label
        if self.setup:
            out["setup"] = clean_json(self.setup)
        return out


def clean_json(value: Any) -> Any:
    """A JSON-safe, bounded copy: long strings shortened, NaN/inf and surrogates as text."""
    if isinstance(value, dict):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        items = [clean_json(v) for v in value[:20]]
        return items + [f"... {len(value) - 20} more"] if len(value) > 20 else items
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return repr(value)
    if isinstance(value, str):
        if len(value) > 120:
            value = f"{value[:40]}… ({len(value)} chars)"
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


@dataclass
class ToolCases:
    tool: str
    valid: list[Case]
    fired: dict[int, Case]
    invalid: list[Case]
    best: tuple[int, dict[str, Any]] | None  # furthest candidate: (first failing index, args)
    tried: int = 0


# ---- perturbations ----------------------------------------------------------------------------
def perturbations(sampler: Sampler, name: str, args: dict, rng: random.Random) -> Iterator[dict]:
    """Valid-typed variations of ``args``, one param at a time (to make preconditions fire)."""
    tool = sampler.spec.tools[name]
    lin = sampler.lineage(name)
    for pname, p in tool.params.items():
        alts: list[Any] = []
        if pname in args and not p.required:
            yield {k: v for k, v in args.items() if k != pname}
        miss = sampler.missing_value(p, lin.get(pname, []), rng)
        alts += [miss] if miss is not None else []
        if p.type in ("enum", "boolean"):
            alts += list(p.values or [True, False])
        elif p.type in ("integer", "number"):
            alts += [x for x in (p.minimum, p.maximum, 0, 1, 10**6, 10**9) if x is not None]
        elif p.type == "array" and pname in args and args[pname]:
            alts += [args[pname][:-1], args[pname] + args[pname][:1], args[pname][::-1]]
            alts += [args[pname][:-1] + miss] if miss else []
        alts += [
            args[o]
            for o, op in tool.params.items()
            if o != pname and o in args and op.type == p.type
        ]
        for _ in range(4):
            v = sampler.value(p, lin.get(pname, []), [], rng, rng.choice((1, 2, 3)))
            alts += [v] if v is not None else []
        for v in alts:
            if p.type == "integer" and isinstance(v, float) and v.is_integer():
                v = int(v)
            if not isinstance(v, list) and p.type == "array":
                continue
            if args.get(pname) != v:
                yield {**args, pname: v}


# ---- the search -------------------------------------------------------------------------------
def _tables(sql: str) -> set[str]:
    try:
        return set(tables_read(parse_one_statement(sql)))
    except ValueError:
        return set()


class _Search:
    """One tool's search state across the base state and the walk states."""

    def __init__(
        self, oracle: Oracle, sampler: Sampler, states: States, name: str, rng: random.Random
    ) -> None:
        self.oracle, self.sampler, self.name, self.rng = oracle, sampler, name, rng
        self.states = states
        tool = oracle.spec.tools[name]
        self.npre = len(tool.preconditions)
        self.params = list(tool.params)
        self.out = ToolCases(name, [], {}, [], None)
        self.sig_budget = 40
        self.flags: dict[str, list[str]] = {}
        lets = set().union(*(_tables(sql) for sql in tool.let.values()))
        self.pre_tables = [_tables(p.check) | lets for p in tool.preconditions]
        let_cols = read_columns(oracle.spec, list(tool.let.values()))
        self.pre_cols = [
            read_columns(oracle.spec, [p.check]) | let_cols for p in tool.preconditions
        ]

    def signature(self, args: dict[str, Any]) -> frozenset:
        """The enum and boolean values of the rows the arguments name and of their parents."""
        out: set[tuple[str, str, Any]] = set()
        conn, sm = self.oracle.s.conn, self.sampler
        for pname, refs in sm.lineage(self.name).items():
            v = args.get(pname)
            t, c = refs[0][0].split(".")
            for x in (v if isinstance(v, list) else [v])[:3]:
                if isinstance(x, dict | list) or x is None:
                    continue
                row = sm.rows.rowid_of(t, c, x)
                for tb, rid in [(t, row), *sm.parents(t, row)] if row is not None else []:
                    cols = self.flags.setdefault(
                        tb,
                        [
                            n
                            for n, col in self.oracle.spec.entities[tb].columns.items()
                            if col.type in ("enum", "boolean")
                        ],
                    )
                    if cols:
                        vals = conn.execute(
                            f"SELECT {', '.join(q(n) for n in cols)} FROM {q(tb)} WHERE rowid = ?",
                            (rid,),
                        ).fetchone()
                        out |= {(tb, n, val) for n, val in zip(cols, vals, strict=True)}
        return frozenset(out)

    def tables(self, lo: int, hi: int) -> set[str]:
        return set().union(*self.pre_tables[max(lo, 0) : hi + 1])

    def columns(self, lo: int, hi: int) -> set[tuple[str | None, str]]:
        return set().union(*self.pre_cols[max(lo, 0) : hi + 1])

    def consider(self, args: dict, setup: list, state: int, want: int = 8) -> int:
        out, name = self.out, self.name
        k = self.oracle.first_failing(name, args)
        if k == self.npre:
            mine = [c for c in out.valid if c.state == state]
            if len(mine) < want:
                out.valid.append(Case(name, "valid", args, "", setup, state, self.signature(args)))
            elif self.sig_budget > 0:  # keep the valid calls diverse: other kinds of rows
                self.sig_budget -= 1
                sig = self.signature(args)
                have = [c.sig for c in mine]
                dup = next((c for c in reversed(mine) if have.count(c.sig) > 1), None)
                if sig not in have and dup is not None:
                    out.valid[out.valid.index(dup)] = Case(
                        name, "valid", args, "", setup, state, sig
                    )
        elif 0 <= k < self.npre and k not in out.fired:
            out.fired[k] = Case(name, "precondition", args, f"precondition[{k}]", setup, state)
        if k >= 0 and (out.best is None or k > out.best[0]):
            out.best = (k, args)
        return k

    def explore(self, state: int, budget: int) -> None:
        out, rng, name = self.out, self.rng, self.name
        seen: set[str] = set()
        stale, local = 0, None
        for _ in range(budget):
            full = sum(c.state == state for c in out.valid) >= 8
            if full and len(out.fired) == self.npre and self.sig_budget <= 0:
                break
            if local is not None and self.params and rng.random() < 0.6:
                vary = set(rng.sample(self.params, min(len(self.params), rng.choice((1, 1, 2)))))
                args = self.sampler.valid_args(name, rng, base=local[1], vary=vary)
            elif rng.random() < 0.25:  # every value from one row: filters tested together
                args = self.sampler.joint_args(name, rng)
            else:
                args = self.sampler.valid_args(name, rng)
            key = json.dumps(args, sort_keys=True, default=str)
            stale = stale + 1 if key in seen else 0
            if stale > 30:
                break
            if key in seen:
                continue
            seen.add(key)
            out.tried += 1
            k = self.consider(args, [], state)
            if k >= 0 and (local is None or k > local[0] or (k == local[0] and rng.random() < 0.3)):
                local = (k, args)
        if not any(c.state == state for c in out.valid) and local is not None:
            k0, args = local  # build a state in which every precondition passes
            setup = construct_state(
                self.oracle, self.sampler, name, args, lambda k: k == self.npre, rounds=3,
                start=k0, columns=self.columns(0, self.npre),
            )  # fmt: skip
            if setup is not None:
                out.valid.append(Case(name, "valid", args, "constructed state", setup, state))
        for i, base in enumerate([c for c in out.valid if c.state == state][:4]):
            if len(out.fired) == self.npre:
                break
            apply_setup(self.oracle.s.conn, base.setup)
            self.fire_from(base, state, construct=i < 2)
            self.states.restore(state)  # the setup undone from the change log: O(changes)

    def sweep(self, base: Case, state: int, cap: int = 400) -> None:
        """Every existing value of each param's lineage column in turn (rare rows first)."""
        sm, tool = self.sampler, self.oracle.spec.tools[self.name]
        for pname, refs in sm.lineage(self.name).items():
            p = tool.params[pname]
            if p.type == "array" or refs[0][1] != "cmp":
                continue
            t, c = refs[0][0].split(".")
            firsts = [g[0] for g in sm.strata(t, c)]
            for _, raw in list(dict.fromkeys(firsts + sm.pool(t, c)))[:cap]:
                if len(self.out.fired) == self.npre:
                    return
                v = coerce(p, raw, "cmp", self.rng)
                if v is not None and v != base.args.get(pname):
                    self.consider({**base.args, pname: v}, base.setup, state)

    def fire_from(self, base: Case, state: int, construct: bool = True) -> None:
        """Make unfired preconditions fire around a valid call: other argument values, rows
        updated, or both (an argument moved, then a row updated to match)."""
        out, name, o, sm = self.out, self.name, self.oracle, self.sampler
        blocked = []
        for args in perturbations(sm, name, base.args, self.rng):
            if len(out.fired) == self.npre:
                return
            out.tried += 1
            j = self.consider(args, base.setup, state)
            if 0 <= j < self.npre and len(blocked) < 4:
                blocked.append((j, args))
        if construct and len(out.fired) < self.npre:
            self.sweep(base, state)
        for k in range(self.npre if construct else 0):
            if k in out.fired:
                continue
            goal = lambda j, k=k: j == k  # noqa: E731
            setup = construct_state(
                o, sm, name, base.args, goal, tables=self.tables(k, k), columns=self.columns(k, k)
            )
            if setup is not None:
                label = f"precondition[{k}] by state"
                out.fired[k] = Case(
                    name, "precondition", base.args, label, base.setup + setup, state
                )
                continue
            for j, args in blocked:
                if j < k:
                    cols = self.columns(j, k)
                    setup = construct_state(
                        o, sm, name, args, goal, tables=self.tables(j, k), columns=cols
                    )
                    if setup is not None:
                        label = f"precondition[{k}] by argument and state"
                        out.fired[k] = Case(
                            name, "precondition", args, label, base.setup + setup, state
                        )
                        break


def search(
    oracle: Oracle, sampler: Sampler, states: States, name: str, rng: random.Random,
    budget: int = 300,
) -> ToolCases:  # fmt: skip
    """Valid cases, a case per precondition where it fires, and the invalid cases."""
    se = _Search(oracle, sampler, states, name, rng)
    se.explore(0, budget)
    if not se.out.valid or len(se.out.fired) < se.npre:  # states reached by running tools
        for i in range(1, len(states.walks()) + 1):
            states.enter(i)
            se.explore(i, budget // 2)
        states.enter(0)
    out = se.out
    base_case = out.valid[0] if out.valid else None
    base_args = base_case.args if base_case else (out.best[1] if out.best else {})
    setup, state = (base_case.setup, base_case.state) if base_case else ([], 0)
    out.invalid = invalid_cases(sampler, name, base_args, setup, rng)
    for c in out.invalid:
        c.state = state
    return out


def invalid_cases(
    sampler: Sampler, name: str, base: dict[str, Any], setup: list, rng: random.Random
) -> list[Case]:
    """Missing, unknown, wrong-typed, out-of-range, nonexistent and boundary arguments."""
    tool = sampler.spec.tools[name]
    lin = sampler.lineage(name)
    out = [Case(name, "extra", {**base, "unexpected_argument": 1}, "unexpected_argument", setup)]
    for pname, p in tool.params.items():
        if p.required:
            rest = {k: v for k, v in base.items() if k != pname}
            out.append(Case(name, "missing", rest, pname, setup))
        out.append(Case(name, "wrong_type", {**base, pname: wrong_type(p)}, pname, setup))
        out += [
            Case(name, "out_of_range", {**base, pname: v}, pname, setup) for v in out_of_range(p)
        ]
        miss = sampler.missing_value(p, lin.get(pname, []), rng)
        if miss is not None:
            out.append(Case(name, "nonexistent", {**base, pname: miss}, pname, setup))
        out += [Case(name, "boundary", {**base, pname: v}, pname, setup) for v in boundary(p)]
    return out


def wrong_type(p: Param) -> Any:
    return {"string": 12345, "integer": "12", "number": "1.5", "boolean": "true", "date": 20240515,
            "datetime": 1715785200, "array": "not a list"}.get(p.type, [1, 2])  # fmt: skip


def out_of_range(p: Param) -> list[Any]:
    """Values the param's declared limits refuse."""
    out: list[Any] = []
    if p.type in ("integer", "number"):
        step = 1 if p.type == "integer" else 0.01
        out += [p.minimum - step] if p.minimum is not None else []
        out += [p.maximum + step] if p.maximum is not None else []
        out += [1.5, 2**63] if p.type == "integer" else [float("nan")]
    elif p.type == "string":
        out.append("x" * ((p.max_length or DEFAULT_MAX_LENGTH) + 1))
        out += ["x" * (p.min_length - 1)] if p.min_length else []
        if p.pattern:
            out += [v for v in ("!not-matching!", "") if re.search(p.pattern, v) is None][:1]
    elif p.type == "enum":
        out.append("not_a_member" if all(isinstance(v, str) for v in p.values or []) else -999)
    elif p.type in ("date", "datetime"):
        out += ["2024-13-45", "15/05/2024"]
    elif p.type == "array":
        assert p.items is not None
        out += [[]] if (p.min_items or 0) >= 1 else []
        if p.max_items:
            out.append(
                [f"x{i}" if p.items.type != "integer" else i for i in range(p.max_items + 1)]
            )
        out.append([wrong_type(p.items)])
    return out


def boundary(p: Param) -> list[Any]:
    """Edge values: empty, zero, limits, unicode, NUL, SQL metacharacters, very long text."""
    if p.type == "string":
        return ["", "é" * (p.max_length or DEFAULT_MAX_LENGTH), *TEXTS, "\ud800"]
    if p.type == "integer":
        return [0, -1, 2**63 - 1, *(int(x) for x in (p.minimum, p.maximum) if x is not None)]
    if p.type == "number":
        return [0, -0.0, 1e308, 0.001, *(x for x in (p.minimum, p.maximum) if x is not None)]
    if p.type == "date":
        return ["0001-01-01", "9999-12-31", "2024-02-29", "2023-02-29"]
    if p.type == "datetime":
        return ["0001-01-01 00:00:00", "9999-12-31 23:59:59", "2024-05-15 24:00:00"]
    if p.type == "array" and p.items is not None:
        return [[], [x for x in boundary(p.items)[:2] for _ in (0, 1)]]
    return []
