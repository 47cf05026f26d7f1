"""A world from one sentence: description -> sketch -> spec (+ extra tools) -> world -> text.

Stages, each failing in one line that names it (``sketch: ...``, ``compile: ...``):
1. sketch   -- the model fills a ``SketchDraft`` (JSON-schema constrained); a draft the
               compiler refuses goes back with the exact error for ``sketch_rounds`` rounds;
2. compile  -- ``generate_spec`` with the mechanism library (validated like any spec);
3. tools    -- optional extra tools as spec SQL, validated and repaired (``tools.py``);
4. build    -- seeding, procedural testing (a quarantined model tool is dropped and the
               world rebuilt without it), graph, tasks; fewer than ``min_tasks`` verified
               tasks is a failure;
5. tasktext -- optional natural instructions and personas, checked (``tasktext.py``).
The world is written only at the end, atomically, with ``llm.json`` (description, model,
sketch, what became of each tool and each rewrite): nothing half-written. Every answer is
cached, so a rerun reads the same bytes and writes a byte-identical world without a call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import DomainSpec, ScaleEnvError, load_spec
from engine.spec.task import dump_tasks
from engine.world import write_world
from synth.audit import Auditor
from synth.build import build_world
from synth.generate import generate_spec
from synth.generate.llm.client import LLM
from synth.generate.llm.draft import SketchDraft, sketch_messages, to_sketch
from synth.generate.llm.tasktext import TextOutcome, rephrase_tasks
from synth.generate.llm.tools import ToolOutcome, propose_tools
from synth.generate.sketch import DomainSketch

LLM_FILE = "llm.json"


class StageError(ScaleEnvError):
    """A stage failed; the message starts with the stage's name."""


@dataclass
class DomainResult:
    sketch: DomainSketch
    spec: DomainSpec
    path: Path | None
    tasks: int
    proctest: str
    tools: list[ToolOutcome] = field(default_factory=list)
    texts: list[TextOutcome] = field(default_factory=list)

    def lines(self) -> list[str]:
        s = self.spec
        out = [
            f"sketch: {self.sketch.name} ({self.sketch.sector}), mechanisms "
            + ", ".join(m.kind for m in self.sketch.mechanisms),
            f"compile: {len(s.entities)} tables, {len(s.tools)} tools",
        ]
        out += [t.line() for t in self.tools]
        out.append(self.proctest)
        out.append(f"tasks: {self.tasks} verified")
        if self.texts:
            used = sum(1 for t in self.texts if t.used == "llm")
            out.append(f"tasktext: {used}/{len(self.texts)} rewrites kept")
            out += [f"  {t.task_id}: template ({t.reason})" for t in self.texts if t.reason]
        return out


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _stage(stage: str, exc: BaseException) -> str:
    """``stage: first line`` (the client's errors already name their stage)."""
    line = _first(exc)
    return line if line.startswith(f"{stage}: ") else f"{stage}: {line}"


def draft_sketch(
    llm: LLM, description: str, seed: int = 0, rounds: int = 1
) -> tuple[DomainSketch, DomainSpec]:
    """The model's sketch and its compiled spec; a refused draft is sent back with the error
    (``rounds`` times) before the stage fails."""
    messages = sketch_messages(description)
    for attempt in range(rounds + 1):
        try:
            draft = llm.structured("sketch", SketchDraft, messages, seed=seed + attempt)
        except ScaleEnvError as exc:
            raise StageError(_stage("sketch", exc)) from None
        try:
            sketch = to_sketch(draft)
            return sketch, generate_spec(sketch, seed)
        except (ScaleEnvError, ValueError) as exc:
            error = _first(exc)
            if attempt == rounds:
                raise StageError(f"compile: {error}") from None
            messages = [
                *messages,
                {"role": "assistant", "content": draft.model_dump_json()},
                {"role": "user", "content": f"The compiler refused it: {error}\nFix it."},
            ]
    raise AssertionError("unreachable")  # pragma: no cover


def synth_domain(
    description: str,
    llm: LLM,
    *,
    out: str | Path | None = None,
    seed: int = 0,
    rows: int | None = 1000,
    tasks: int = 20,
    min_tasks: int = 10,
    extra_tools: int = 0,
    tool_rounds: int = 2,
    sketch_rounds: int = 1,
    rephrase: int | None = 0,
) -> DomainResult:
    """Run every stage; write the world to ``out`` (atomically) only when all succeed.

    ``rephrase``: how many tasks get model-written text (None: all, 0: none)."""
    if not description.strip():
        raise StageError("sketch: the description is empty")
    sketch, spec = draft_sketch(llm, description, seed=seed, rounds=sketch_rounds)
    outcomes: list[ToolOutcome] = []
    if extra_tools > 0:
        try:
            kept, outcomes = propose_tools(
                llm, spec, description, extra_tools, rounds=tool_rounds, seed=seed
            )
        except ScaleEnvError as exc:  # extra tools are optional: the world goes on without
            kept, outcomes = {}, [ToolOutcome("(proposal)", "rejected", 0, _stage("tools", exc))]
        if kept:
            data = spec.to_dict()
            data["tools"] = {**data["tools"], **kept}
            spec = load_spec(data, source=f"{sketch.name} with model tools")
    try:
        res = build_world(spec, seed=seed, rows=rows, tasks=tasks)
        proc = res.reports["proctest"]
        lost = sorted(set(proc.failing()) & {o.name for o in outcomes if o.status == "valid"})
        if lost:  # procedural testing decides: a failing model tool leaves the world
            reasons = proc.failing()
            for o in outcomes:
                if o.name in lost:
                    o.status, o.reason = "quarantined", " ".join(str(reasons[o.name]).split())[:200]
            data = spec.to_dict()
            data["tools"] = {k: v for k, v in data["tools"].items() if k not in lost}
            spec = load_spec(data, source=f"{sketch.name} with model tools")
            res = build_world(spec, seed=seed, rows=rows, tasks=tasks)
            proc = res.reports["proctest"]
    except ScaleEnvError as exc:
        raise StageError(_stage("build", exc)) from None
    for o in outcomes:
        if o.status == "valid":
            o.status = "survived"
    taskset = res.reports["tasks"]
    verified = list(taskset.tasks)
    if len(verified) < min_tasks:
        raise StageError(
            f"tasks: {len(verified)} verified tasks, fewer than {min_tasks} "
            f"({taskset.summary_line()})"
        )
    texts: list[TextOutcome] = []
    if rephrase is None or rephrase > 0:
        verified, texts = _rephrase(llm, res, verified, seed, rephrase)
        res.files["tasks.jsonl"] = _jsonl(verified)
    res.files[LLM_FILE] = _record(description, llm, sketch, outcomes, texts)
    result = DomainResult(
        sketch=sketch,
        spec=res.spec,
        path=None,
        tasks=len(verified),
        proctest=proc.summary_line(),
        tools=outcomes,
        texts=texts,
    )
    if out is not None:
        result.path = write_world(out, res.files, res.meta)
    return result


def _rephrase(llm: LLM, res: Any, tasks: list, seed: int, limit: int | None) -> tuple:
    auditor = Auditor(res.world())
    try:
        return rephrase_tasks(llm, tasks, seed=seed, limit=limit, audit=auditor.audit)
    finally:
        auditor.close()


def _jsonl(tasks: list) -> bytes:
    return dump_tasks(tasks).encode()


def _record(
    description: str,
    llm: LLM,
    sketch: DomainSketch,
    tools: list[ToolOutcome],
    texts: list[TextOutcome],
) -> bytes:
    """``llm.json``: how the model shaped this world (no timings, no usage: a replay from the
    cache must write the same bytes)."""
    data = {
        "description": description,
        "model": llm.config.model,
        "mode": llm.config.mode,
        "sketch": sketch.model_dump(mode="json"),
        "tools": [
            {"name": t.name, "status": t.status, "rounds": t.rounds, "reason": t.reason}
            for t in tools
        ],
        "tasktext": [{"task": t.task_id, "used": t.used, "reason": t.reason} for t in texts],
    }
    return (json.dumps(data, sort_keys=True, ensure_ascii=False, indent=1) + "\n").encode()
