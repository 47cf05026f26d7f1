"""The sampler's workbench: one scratch session, the schema facts, and cheap state switches.

Every trial call runs in the scratch session after entering the state it should see, so
candidates are checked by really calling the tool, never guessed. A state is the base or a
``Task`` whose start patch is its row changes from the base: ``Session.reset`` enters it in
place, O(changed rows), where a state kept as database bytes cost a copy of the world.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import networkx as nx

from engine.db import bytes_to_connection
from engine.runtime.argcheck import ArgError, compile_params
from engine.runtime.call import ToolResult, truthy
from engine.runtime.lru import Lru
from engine.spec.models import PolicyRule
from engine.spec.sql import params_used
from engine.spec.task import RowChange, Task
from engine.world import World
from synth.tasks.args import FreeValues, ParamSource, analyze_params
from synth.tasks.domain import TAG, SchemaInfo, all_keys
from synth.tasks.links import related
from synth.tasks.ownership import owners_of

LINKS, OWNERS = 4096, 8192  # base-state lookups kept (~2 KB, ~0.4 KB each; recomputed when dropped)


class Ctx:
    """Per-world state shared by every task of one generation run."""

    def __init__(self, world: World, graph: nx.DiGraph, seed: int) -> None:
        self.world = world
        self.spec = world.spec
        self.graph = graph
        self.seed = seed
        self.info = SchemaInfo(self.spec)
        # staff tools never serve a customer's request (unless the agent is staff)
        self.tools = {n: t for n, t in self.info.customer_tools().items() if n in graph}
        self.sources: dict[str, dict[str, ParamSource]] = {
            n: analyze_params(self.spec, t) for n, t in self.tools.items()
        }
        self.outputs: dict[str, dict[str, str]] = {
            n: dict(graph.nodes[n].get("outputs", {})) for n in self.tools
        }
        self.validators = {n: compile_params(t.params) for n, t in self.tools.items()}
        self.rules: dict[str, list[PolicyRule]] = {}
        for rule in self.spec.policy_rules:
            self.rules.setdefault(rule.tool, []).append(rule)
        self.checks = {n: _single_param_checks(self.spec, n, t) for n, t in self.tools.items()}
        self.lets = {n: let_params(t) for n, t in self.tools.items()}
        self.free = FreeValues(self.spec, seed)
        self.s = world.session()
        self.base = self.s.base_snapshot()  # the world's shared copy: no new one
        self.base_conn = bytes_to_connection(world.base_bytes)
        # link walks skip paths through shared categories (links.py): the world's row counts
        # (kept by the world, which its sessions already read), not a count per table here
        self.info.counts = {t: world.row_counts.get(t, 0) for t in self.spec.entities}
        self.links: Lru[tuple, list[tuple[Any, int, str]]] = Lru(LINKS)  # (issue 21: bounded)
        self._keys: dict[str, list[tuple]] = {}
        self._key_values: dict[str, list[Any]] = {}
        self.token: int | None = None  # names the state memo entries were made on
        self._state: bytes | None = None
        self._states = 0
        self._made = 0  # start-patch states made (their ids)
        self.excluded: dict[str, set[Any]] = {}
        self.memo: dict[tuple, Any] = {}
        self.depths: dict[str, int] = {}
        self._owners: Lru[tuple[str, str], set[Any]] = Lru(OWNERS)
        self.pending: list[dict[str, Any]] = []  # row mentions of the sentence being written
        self.user: Any = None  # the user of the task being built (descriptions say "my")
        self.fail: str | None = None  # why the last sub-goal could not be written
        self.why: Counter = Counter()  # why trial calls of the current seed failed
        self.write_tools = [n for n, t in self.tools.items() if not t.read_only]
        self.read_tools = [n for n, t in self.tools.items() if t.read_only]

    # ---- state ---------------------------------------------------------------------------------
    def at(self, state: bytes | Task) -> None:
        """Enter ``state``: the base or a start-patch state in place (O(changes)); other
        bytes (a state from outside) by a copy."""
        if isinstance(state, Task):
            self.s.reset(state)
        elif state is self.base:
            self.s.reset()
        else:
            self.s.restore(state)
        if state is not self._state:  # a token per state object: hash() would read all its bytes
            self._state, self._states = state, self._states + 1
            self.memo.clear()  # (its entries name the old token, which never comes back)
        self.token = self._states

    def state(self, changes: list[RowChange]) -> Task:
        """The state ``changes`` (row changes from the base) make, for ``at``."""
        self._made += 1
        return Task.model_construct(
            id=f"state-{self._made}", domain=self.spec.name, start_patch=changes
        )

    def owners(self, ref: str, value: Any) -> set[Any]:
        """The users a base-state row (``ref`` = ``value``) belongs to (memoized)."""
        mk = (ref, repr(value))
        hit = self._owners.get(mk)
        if hit is None:
            table, _, col = ref.partition(".")
            hit = self._owners[mk] = owners_of(self.base_conn, self.info, table, col, value)
        return hit

    def mine(self, ref: str, values: dict[Any, Any], user: Any) -> dict[Any, Any]:
        """``values`` of ``ref`` that are no other user's rows (own or nobody's)."""
        table = ref.partition(".")[0]
        if user is None or not self.info.owned(table) or not self.info.is_id_ref(ref):
            return values
        if not self.info.names_row(ref):  # whose row it is depends on the call's other args
            return values
        return {v: c for v, c in values.items() if self.owners(ref, v) in (set(), {user})}

    def related(self, table: str, key: dict[str, Any], ref: str) -> list[tuple[Any, int, str]]:
        """``schema.related`` in the base state, memoized (the ``LINKS`` latest). Links are only
        candidates (every one is tried by a real call on the task's state), so the base's
        links serve every task and the lookups are shared between tasks."""
        mk = (table, tuple(key.items()), ref)
        hit = self.links.get(mk)
        if hit is None:
            hit = self.links[mk] = related(self.base_conn, self.info, table, key, ref)
        return hit

    @property
    def conn(self) -> Any:
        self.s.guard.internal()
        return self.s.conn

    def keys(self, table: str) -> list[tuple]:
        """Primary keys of ``table`` in the base state (sorted)."""
        hit = self._keys.get(table)
        if hit is None:  # read on the base's own connection: the scratch state stays as it is
            hit = self._keys[table] = all_keys(self.base_conn, self.info, table)
        return hit

    def key_values(self, table: str) -> list[Any]:
        """The first key column of ``keys(table)`` (kept: a list of every key per draw was
        O(world) per call)."""
        hit = self._key_values.get(table)
        if hit is None:
            hit = self._key_values[table] = [key[0] for key in self.keys(table)]
        return hit

    def key_dict(self, table: str, key: tuple) -> dict[str, Any]:
        return dict(zip(self.info.pk(table), key, strict=True))

    def random_key(self, table: str, rng: random.Random) -> dict[str, Any] | None:
        keys = self.keys(table)
        return self.key_dict(table, rng.choice(keys)) if keys else None

    def exclude(self, rows: list[tuple[str, dict[str, Any]]]) -> None:
        """Rows sub-goals must not act on (the task's distractors)."""
        self.excluded = {}
        for table, key in rows:
            if len(key) == 1:
                self.excluded.setdefault(f"{table}.{next(iter(key))}", set()).add(
                    next(iter(key.values()))
                )

    def allowed(self, ref: str, values: dict[Any, Any]) -> dict[Any, Any]:
        bad = self.excluded.get(ref)
        return {v: c for v, c in values.items() if v not in bad} if bad else values

    # ---- calls ---------------------------------------------------------------------------------
    def call(self, tool: str, args: dict[str, Any]) -> ToolResult:
        t = self.tools.get(tool)
        if t is None or not t.read_only:
            self.token = None  # the state may change: stop memoizing
        return self.s.call(tool, args)

    def binds(self, tool: str, args: dict[str, Any]) -> dict[str, Any] | None:
        """The bind dict a call would see before its effects (params, :now, lets), on the
        scratch session's current state; None if the args are invalid."""
        try:
            binds = self.validators[tool](dict(args))
        except ArgError:
            return None
        binds["now"] = self.spec.now
        t = self.tools[tool]
        for g in t.generate:
            binds.setdefault(g, None)
        conn = self.conn
        for name, sql in t.let.items():
            try:
                row = conn.execute(TAG + sql, binds).fetchone()
            except Exception:
                return None
            binds[name] = None if row is None else row[0]
        return binds

    def violated(self, tool: str, args: dict[str, Any]) -> list[PolicyRule]:
        """Policy rules a call of ``tool`` with ``args`` would break in the current state."""
        rules = self.rules.get(tool)
        if not rules:
            return []
        binds = self.binds(tool, args)
        if binds is None:
            return []
        out = []
        conn = self.conn
        for rule in rules:
            try:
                row = conn.execute(TAG + rule.violated, binds).fetchone()
            except Exception:
                continue
            if row is not None and truthy(row[0]):
                out.append(rule)
        return out

    def screen(
        self,
        tool: str,
        pname: str,
        values: list[Any],
        seek: str | None = None,
        bound: dict[str, Any] | None = None,
    ) -> list[Any]:
        """The values of one param that pass the tool's preconditions testing only it and the
        params already ``bound`` (a pending order, an available flight), and break no policy
        rule testing only those; with ``seek`` a rule name, values that do break that rule."""
        bound = bound or {}
        have = set(bound) | {pname}
        checks = [
            (sql, rule) for sql, rule, used in self.checks[tool] if pname in used and used <= have
        ]
        if not checks:
            return values
        alone = all(
            used == {pname} for _s, _r, used in self.checks[tool] if pname in used and used <= have
        )
        if alone and self.token is not None:
            mk = (self.token, "screen", tool, pname, seek, tuple(repr(v) for v in values))
            hit = self.memo.get(mk)
            if hit is None:
                hit = self.memo[mk] = self._screen(tool, pname, values, seek, bound, checks)
            return hit
        return self._screen(tool, pname, values, seek, bound, checks)

    def _screen(
        self,
        tool: str,
        pname: str,
        values: list[Any],
        seek: str | None,
        bound: dict[str, Any],
        checks: list,
    ) -> list[Any]:
        params = self.tools[tool].params
        binds: dict[str, Any] = {"now": self.spec.now}
        for k, v in bound.items():
            binds[k] = json.dumps(v) if params[k].type == "array" else v
        conn = self.conn
        lets = self.lets[tool]
        out = []
        for v in values:
            binds[pname] = (
                json.dumps(v if isinstance(v, list) else [v])
                if params[pname].type == "array"
                else v
            )
            for name, sql in self.tools[tool].let.items():  # lets the bound params decide
                deps = lets.get(name)
                if deps is not None and deps <= binds.keys():
                    try:
                        row = conn.execute(TAG + sql, binds).fetchone()
                    except Exception:
                        row = None
                    binds[name] = None if row is None else row[0]
            good = True
            for sql, rule in checks:
                try:
                    row = conn.execute(sql, binds).fetchone()
                except Exception:
                    continue
                hit = row is not None and truthy(row[0])
                if (rule is None and not hit) or (rule is not None and (rule == seek) != hit):
                    good = False
                    break
            if good:
                out.append(v)
        return out

    def meaningful(self, changes: list[RowChange]) -> bool:
        """Whether changes touch a column the evaluation compares (not only exempt ones)."""
        for ch in changes:
            if ch.before is None or ch.after is None:
                return True
            cols = self.spec.entities[ch.table].columns
            for c, col in cols.items():
                if col.match_policy != "exempt" and ch.before.get(c) != ch.after.get(c):
                    return True
        return False


def field_values(result: Any, path: str) -> list[Any]:
    """Values at an output path (``items[].product_id``, ``orders[]``, ``user_id``) of a result;
    ``*`` stands for every value of an object keyed by id (``payment_methods.*.id``)."""
    parts = path.split(".")
    cur: list[Any] = [result]
    for i, part in enumerate(parts):
        if part == "*":
            cur = [v for o in cur if isinstance(o, dict) for v in o.values()]
            continue
        arr = part.endswith("[]")
        key = part[:-2] if arr else part
        nxt: list[Any] = []
        for o in cur:
            for it in o if isinstance(o, list) else [o]:
                if isinstance(it, dict):
                    if key not in it:
                        continue
                    v = it[key]
                elif len(parts) == 1 and i == 0 and not isinstance(it, list):
                    v = it  # a scalar result: its one output field
                else:
                    continue
                if arr and isinstance(v, list):
                    nxt.extend(v)
                else:
                    nxt.append(v)
        cur = nxt
    return [v for v in cur if v is not None and not isinstance(v, dict | list)]


def meaningful_result(result: Any) -> bool:
    """A tool result worth showing: not empty, not all nulls."""
    if result is None:
        return False
    if isinstance(result, list | dict | str):
        return len(result) > 0 and json.dumps(result) not in ("[]", "{}", '""')
    return True


def _single_param_checks(
    spec: Any, name: str, tool: Any
) -> list[tuple[str, str | None, frozenset[str]]]:
    """Preconditions (rule None) and policy rules (rule name) with the params they use, a
    ``let`` they read counting as the params it reads (a payment different from the order's
    current one): cheap to test on many candidate values before any call."""

    out: list[tuple[str, str | None, frozenset[str]]] = []
    lets = let_params(tool)
    items: list[tuple[str, str | None]] = [(p.check, None) for p in tool.preconditions]
    items += [(r.violated, r.name) for r in spec.policy_rules if r.tool == name]
    for sql, rule in items:
        try:
            used = set(params_used(sql) - {"now"})
        except ValueError:
            continue
        if any(u in lets and lets[u] is None for u in used):
            continue
        used = {x for u in used for x in (lets[u] or set() if u in lets else {u})}
        if used and used <= set(tool.params):
            out.append((TAG + sql, rule, frozenset(used)))
    return out


def let_params(tool: Any) -> dict[str, set[str] | None]:
    """The params each ``let`` reads, through the lets before it (None: it reads a generated
    value or its SQL does not parse, so no screen can compute it)."""
    out: dict[str, set[str] | None] = {}
    for name, sql in tool.let.items():
        try:
            used = params_used(sql) - {"now"}
        except ValueError:
            out[name] = None
            continue
        deps: set[str] = set()
        for u in used:
            before = out.get(u)
            if before is not None:
                deps |= before
            elif u in tool.params and u not in out:
                deps.add(u)
            else:  # a generated value, an unknown name, or a let no screen can compute
                break
        else:
            out[name] = deps
            continue
        out[name] = None
    return out
