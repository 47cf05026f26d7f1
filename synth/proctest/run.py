"""Procedural testing of a world's tools, the paper's way, without an LLM.

For every tool: cases generated from the spec and the live seeded database
(``synth.proctest.casesearch``), each run on one session (back to its state by the change
log's undo, each call judged inside a savepoint from the changes it logged: O(changes) per
case, whatever the world's size) and classified by ``synth.proctest.oracles`` as success,
anticipated rejection or unexpected failure. A tool with any
unexpected failure is quarantined with the reason: marked in the world's spec, it is never
offered to agents or used for tasks. ``proctest.json`` holds the per-tool counts and each
tool's first unexpected failure; it is deterministic (same spec + seed -> same bytes) and
holds no timings.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from engine.spec.models import DomainSpec, Effect, Tool, read_spec_data
from engine.world import World
from synth.proctest.casegen import Sampler
from synth.proctest.casesearch import Case, ToolCases, clean_json, search
from synth.proctest.casestate import States, apply_setup
from synth.proctest.falsify import falsifiable
from synth.proctest.oracles import FAILURE, REJECTION, SUCCESS, Oracle, Verdict, arg_problem, short

OUTCOMES = (SUCCESS, REJECTION, FAILURE)
CHECKED_VALID = 8  # valid calls checked in full per tool (diverse: see casesearch.signature)


@dataclass
class ToolReport:
    name: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    incomplete: int = 0
    fired: list[int] = field(default_factory=list)  # anticipated rejections per precondition
    first: dict[str, Any] | None = None
    reasons: list[str] = field(default_factory=list)
    uncovered: list[str] = field(default_factory=list)  # preconditions no case made fire

    @property
    def failed(self) -> bool:
        return self.counts[FAILURE] > 0

    @property
    def reason(self) -> str | None:
        return None if self.first is None else self.first["reason"]

    def add(self, case: Case, v: Verdict, prelude: list | None = None) -> None:
        self.counts[v.outcome] += 1
        if v.outcome == REJECTION and v.index is not None:
            self.fired[v.index] += 1
        if v.outcome == FAILURE:
            data = case.to_json()
            if prelude:
                data["prelude"] = clean_json(prelude)
            self.fail(data, v.reason)

    def fail(self, case: dict[str, Any], reason: str, count: bool = False) -> None:
        if count:
            self.counts[FAILURE] += 1
        if self.first is None:
            self.first = {"case": case, "reason": reason}
        if reason not in self.reasons and len(self.reasons) < 8:
            self.reasons.append(reason)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.counts,
            "incomplete": self.incomplete,
            "cases": sum(self.counts.values()),
            "preconditions_fired": self.fired,
            "first_unexpected": self.first,
            "reasons": self.reasons,
            "uncovered": self.uncovered,
            "quarantined": self.failed,
        }


@dataclass
class ProcTestReport:
    domain: str
    seed: int
    tools: dict[str, ToolReport]
    fuzz: dict[str, Any] | None = None
    seconds: float = 0.0  # wall time; printed, never written to proctest.json

    def failing(self) -> dict[str, str]:
        """Tool -> the reason it is quarantined."""
        return {n: t.reason or "unexpected failure" for n, t in self.tools.items() if t.failed}

    def totals(self) -> dict[str, int]:
        out = dict.fromkeys(OUTCOMES, 0)
        for t in self.tools.values():
            for k in OUTCOMES:
                out[k] += t.counts[k]
        return out

    def quarantined_spec(self, spec: DomainSpec) -> DomainSpec:
        """A copy of ``spec`` with every failing tool's ``quarantined`` set to its reason."""
        out = spec.model_copy(deep=True)
        for name, reason in self.failing().items():
            if name in out.tools:
                out.tools[name].quarantined = short(reason, 300)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "seed": self.seed,
            "totals": self.totals(),
            "quarantined": sorted(self.failing()),
            "tools": {n: t.to_dict() for n, t in self.tools.items()},
            "fuzz": self.fuzz,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, ensure_ascii=True) + "\n"

    def summary_line(self) -> str:
        t = self.totals()
        bad = self.failing()
        q = ", ".join(sorted(bad)) or "none"
        return (
            f"proctest {self.domain}: {len(self.tools)} tools, {sum(t.values())} cases: "
            f"{t[SUCCESS]} success, {t[REJECTION]} anticipated rejections, "
            f"{t[FAILURE]} unexpected failures; quarantined: {q}"
        )


def run_proctest(
    spec: DomainSpec, db: bytes | Path, *, seed: int = 0, fuzz_steps: int = 0
) -> ProcTestReport:
    """Test every tool of ``spec`` on the database ``db`` (its bytes or its SQLite file, which
    is only read) with quarantine marks ignored. A lean world: no instrumented copy; on a
    file, the session's copy is the only one in memory (issue 21)."""
    t0 = time.perf_counter()
    test_spec = spec.model_copy(deep=True)
    for tool in test_spec.tools.values():
        tool.quarantined = None
    if isinstance(db, Path):
        world = World.from_file(test_spec, db)
    else:
        world = World.from_parts(test_spec, db, lean=True)
    s = world.session()
    try:
        oracle, sampler = Oracle(s), Sampler(s)
        states = States(oracle, sampler, seed)
        tools = {}
        for name in test_spec.tools:
            rng = random.Random(f"proctest:{seed}:{name}")
            tools[name] = check_tool(oracle, sampler, states, name, rng)
            states.enter(0)
    finally:
        s.close()
    report = ProcTestReport(spec.name, seed, tools)
    if fuzz_steps > 0:
        from synth.proctest.fuzz import (
            fuzz_run,  # lazy: hypothesis loads only when fuzzing is asked for
        )

        fr = fuzz_run(world, fuzz_steps, seed=seed)
        report.fuzz = fr.to_dict()
        for name, (reason, calls) in sorted(fr.failures.items()):
            if name in tools:
                tools[name].fail({"kind": "fuzz", "calls": calls}, f"fuzz: {reason}", count=True)
    report.seconds = time.perf_counter() - t0
    return report


def check_tool(
    oracle: Oracle, sampler: Sampler, states: States, name: str, rng: random.Random
) -> ToolReport:
    """All cases of one tool, classified; the reasons in the order a reader needs them."""
    s, tool = oracle.s, oracle.spec.tools[name]
    npre = len(tool.preconditions)
    rep = ToolReport(name, fired=[0] * npre)
    tc = search(oracle, sampler, states, name, rng)

    def run(case: Case) -> Verdict:
        states.restore(case.state)
        apply_setup(s.conn, case.setup)
        v = oracle.check(name, case.args)
        rep.add(case, v, states.prelude(case.state))
        return v

    good = [(c, v) for c in tc.valid[:CHECKED_VALID] if (v := run(c)).outcome == SUCCESS]
    if not tc.valid:
        rep.fail(_best_case(tc), no_valid_reason(oracle, sampler, tc), count=True)
    if tool.returns is not None and good:
        if tool.returns.shape != "object" and all(v.empty for _, v in good):
            good += _joint_calls(oracle, sampler, states, name, rng, rep)
        _completeness(rep, tool, good)
    for _, case in sorted(tc.fired.items()):
        run(case)
    for case in tc.invalid:
        run(case)
    repeats = []  # each valid call twice in a row: the second must succeed or be refused
    for case, _ in good:
        states.restore(case.state)
        apply_setup(s.conn, case.setup)
        oracle.check(name, case.args, repeat=False)
        again = Case(name, "repeat", case.args, "second call", case.setup, case.state)
        repeats.append((again, oracle.check(name, case.args)))
    fired_again = {v.index for _, v in repeats if v.outcome == REJECTION}
    for k, pre in enumerate(tool.preconditions):
        if rep.fired[k] == 0 and k not in tc.fired and k not in fired_again:
            states.enter(0)
            calls = [c.args for c in [*tc.valid, *tc.fired.values()]]
            example = falsifiable(oracle, sampler, name, k, calls, rng)
            if example is None:
                rep.fail(
                    _best_case(tc),
                    f"precondition[{k}] never fires: no state found where `{short(pre.check, 90)}` "
                    "is false",
                    count=True,
                )
            else:  # false for some values, but no call reached them: not evidence of a bug
                shown = short(json.dumps(clean_json(example), sort_keys=True), 160)
                rep.uncovered.append(
                    f"precondition[{k}]: no call reached a state where it fires; its check alone "
                    f"is false for {shown}"
                )
    for again, v in repeats:  # reported last: the reasons above say more
        rep.add(again, v, states.prelude(again.state))
    return rep


def _joint_calls(
    oracle: Oracle, sampler: Sampler, states: States, name: str, rng: random.Random,
    rep: ToolReport, tries: int = 24,
) -> list[tuple[Case, Verdict]]:  # fmt: skip
    """Valid calls whose values all come from one row (and rows joined to it), run on the
    base state until one finds something: the calls the search kept may combine values of
    unrelated rows (a user and a status none of their orders has), which rightly find
    nothing. Stops at the first non-empty result."""
    npre = len(oracle.spec.tools[name].preconditions)
    out: list[tuple[Case, Verdict]] = []
    states.enter(0)  # the sampler's pools: rows of the base state
    for _ in range(tries):
        states.restore(0)
        args = sampler.joint_args(name, rng)
        if oracle.first_failing(name, args) != npre:
            continue
        case = Case(name, "valid", args, "values of one row")
        v = oracle.check(name, args)
        rep.add(case, v)
        if v.outcome == SUCCESS:
            out.append((case, v))
            if not v.empty:
                break
    states.enter(0)
    return out


def _completeness(rep: ToolReport, tool: Tool, good: list[tuple[Case, Verdict]]) -> None:
    """Valid calls built from live rows return something: a lookup of an existing entity is
    never empty, and a search or scalar lookup is not empty for every one of them."""
    assert tool.returns is not None
    shape = tool.returns.shape
    if shape == "object" and any(v.empty for _, v in good):
        case = next(c for c, v in good if v.empty)
        rep.incomplete += 1
        rep.fail(case.to_json(), "incomplete: lookup of an existing entity returned empty", True)
    elif all(v.empty for _, v in good):
        rep.incomplete += 1
        what = (
            "search with values from existing rows found nothing"
            if shape == "list"
            else ("lookup of an existing entity returned empty")
        )
        n = len(good)
        rep.fail(good[0][0].to_json(), f"incomplete: {what} ({n} valid calls)", True)


def _best_case(tc: ToolCases) -> dict[str, Any]:
    args = tc.valid[0].args if tc.valid else (tc.best[1] if tc.best else {})
    return Case(tc.tool, "valid", args).to_json()


def no_valid_reason(oracle: Oracle, sampler: Sampler, tc: ToolCases) -> str:
    tool = oracle.spec.tools[tc.tool]
    for pname, refs in sampler.lineage(tc.tool).items():
        p = tool.params[pname]
        p = p.items if p.type == "array" and p.items is not None else p
        table, col = refs[0][0].split(".")
        pool = [v for _, v in sampler.pool(table, col)] if refs[0][1] == "cmp" else []
        if pool and all(arg_problem(p, v) for v in pool):
            return (
                f"valid call impossible: no existing {table}.{col} value is a valid {pname!r} "
                f"(e.g. {short(pool[0], 40)!r}: {arg_problem(p, pool[0])})"
            )
    if tc.best is None:
        return f"no valid call could be built: every candidate had invalid arguments ({tc.tried} tried)"
    k, args = tc.best
    exp = oracle.expect(tc.tool, args)
    return (
        f"valid call refused: precondition[{k}] rejects every candidate ({tc.tried} tried, "
        f"none passes; e.g. {short(exp.message, 90)!r})"
    )


# ---- broken fixtures (the tester's own mutation check) ------------------------------------------
def unchecked_spec(data: dict[str, Any]) -> DomainSpec:
    """A DomainSpec without semantic validation; tools the model refuses are constructed as
    written (how a tool that no validator would let through reaches the tester)."""
    try:
        return DomainSpec.model_validate(data)
    except ValidationError:
        pass
    tools = {}
    for name, raw in (data.get("tools") or {}).items():
        try:
            tools[name] = Tool.model_validate(raw)
        except ValidationError:
            parts = {k: v for k, v in raw.items() if k not in ("effects", "writes")}
            parts.setdefault("returns", {"query": "SELECT 1"})
            tool = Tool.model_validate(parts)
            tool.effects = [Effect.model_validate(e) for e in raw.get("effects") or []]
            tool.writes = list(raw.get("writes") or [])
            tools[name] = tool
    spec = DomainSpec.model_validate({**data, "tools": {}})
    spec.tools = tools
    return spec


def load_broken(path: str | Path) -> tuple[DomainSpec, dict[str, Any]]:
    """A broken-tool fixture: ``base`` spec + ``set`` (dotted path -> new value); returns the
    unvalidated spec and the fixture's metadata (tool, expect, validates ...)."""
    p = Path(path)
    meta = yaml.safe_load(p.read_text(encoding="utf-8"))
    data = read_spec_data(p.parent / meta["base"])
    for dotted, value in meta["set"].items():
        *head, last = [int(x) if x.isdigit() else x for x in dotted.split(".")]
        node: Any = data
        for part in head:
            node = node[part]
        node[last] = value
    meta["data"] = data
    return unchecked_spec(data), meta
