"""Extra domain-specific tools proposed by the model as spec SQL, validated and repaired.

The model sees the compiled schema and proposes a few tools (a SELECT for a read tool, one
INSERT/UPDATE/DELETE for a write tool, params bound as ``:name``). Each one is checked by
the spec validator exactly as a hand-written tool is -- SQL prepared against the schema,
statements other than SELECT/INSERT/UPDATE/DELETE refused, params bound -- and a failing
one goes back to the model with the exact error for a bounded number of rounds. What still
fails is rejected with its reason; procedural testing later decides which of the valid
ones survive. The SQL is data handed to the validator: nothing the model writes runs here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from engine import DomainSpec, ScaleEnvError, validate_spec
from synth.generate.llm.client import LLM
from synth.generate.llm.draft import bounded

ToolName = Annotated[str, StringConstraints(pattern=r"^[a-z]+(_[a-z]+)+$"), bounded(5, 60)]
ParamName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]*$"), bounded(1, 30)]
# "table.column" or ""; [.] because the grammar converter cannot parse an escaped dot
Column = Annotated[str, StringConstraints(pattern=r"^([a-z][a-z0-9_]*[.][a-z][a-z0-9_]*)?$")]
Sql = Annotated[str, bounded(10, 600, cut=False)]
Text = Annotated[str, bounded(10, 160)]


class _Draft(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ParamDraft(_Draft):
    name: ParamName
    type: Literal["string", "integer", "number"]
    column: Column = ""  # "table.column" its values come from, or ""


class ToolDraft(_Draft):
    name: ToolName
    kind: Literal["read", "write"]
    description: Text
    params: list[ParamDraft] = Field(default_factory=list, max_length=3)
    sql: Sql  # read: one SELECT; write: one INSERT, UPDATE or DELETE


class ToolsDraft(_Draft):
    tools: list[ToolDraft] = Field(min_length=1, max_length=5)


@dataclass
class ToolOutcome:
    """What became of one proposed tool."""

    name: str
    status: str  # "valid", "rejected", later "survived" or "quarantined"
    rounds: int  # repair rounds used
    reason: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        extra = f" after {self.rounds} repair round(s)" if self.rounds else ""
        why = f": {self.reason}" if self.reason else ""
        return f"tool {self.name}: {self.status}{extra}{why}"


def tool_data(t: ToolDraft) -> dict[str, Any]:
    """A draft as a spec tool (the same dict a person writes in YAML)."""
    params: dict[str, Any] = {}
    for p in t.params:
        entry: dict[str, Any] = {"type": p.type}
        if p.column:
            entry["references"] = p.column
        params[p.name] = entry
    out: dict[str, Any] = {"description": t.description.strip(), "params": params}
    if t.kind == "read":
        out["returns"] = {"query": t.sql.strip(), "shape": "list"}
    else:
        out["effects"] = [t.sql.strip()]
    return out


def tool_errors(data: dict[str, Any], name: str, tool: dict[str, Any]) -> list[str]:
    """The validator's complaints about ``tool`` added to spec ``data`` ('field: message')."""
    if name in data["tools"]:
        return [f"tools.{name}: a tool with this name already exists; pick another name"]
    trial = {**data, "tools": {**data["tools"], name: tool}}
    return [f"{where}: {msg}" for where, msg in validate_spec(trial)]


def schema_text(spec: DomainSpec, limit: int = 14) -> str:
    """The tables and columns the model may use, one line each."""
    lines = []
    for name, ent in list(spec.entities.items())[:limit]:
        lines.append(f"{name}({', '.join(ent.columns)})")
    return "\n".join(lines)


def _ask_messages(spec: DomainSpec, description: str, n: int) -> list[dict[str, str]]:
    tools = ", ".join(sorted(spec.tools)[:40])
    system = (
        "You write tools for a customer service agent as SQLite SQL over this schema:\n"
        f"{schema_text(spec)}\n"
        f"Existing tools (do not repeat them): {tools}\n"
        "A read tool is one SELECT; a write tool is one INSERT, UPDATE or DELETE. Refer to a "
        "param as :name. A param's column is the 'table.column' its values come from."
    )
    user = f"The business: {description.strip()}\nPropose {n} useful new tools."
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _repair_messages(spec: DomainSpec, draft: ToolDraft, error: str) -> list[dict[str, str]]:
    system = (
        "You fix a tool for a customer service agent written as SQLite SQL over this schema:\n"
        f"{schema_text(spec)}\n"
        "A read tool is one SELECT; a write tool is one INSERT, UPDATE or DELETE. Refer to a "
        "param as :name."
    )
    user = (
        f"This tool is invalid:\n{json.dumps(draft.model_dump(), ensure_ascii=False)}\n"
        f"The error: {error}\nAnswer with the corrected tool."
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def propose_tools(
    llm: LLM,
    spec: DomainSpec,
    description: str,
    n: int,
    rounds: int = 2,
    seed: int = 0,
) -> tuple[dict[str, dict[str, Any]], list[ToolOutcome]]:
    """Valid extra tools (name -> spec tool) and an outcome for every proposal.

    A proposal that fails validation is repaired with the exact error for up to ``rounds``
    rounds; a repair the model cannot produce ends that tool's rounds (rejected)."""
    drafts = llm.structured("tools", ToolsDraft, _ask_messages(spec, description, n), seed=seed)
    data = spec.to_dict()
    kept: dict[str, dict[str, Any]] = {}
    outcomes: list[ToolOutcome] = []
    for i, draft in enumerate(drafts.tools[:n]):
        used = 0
        while True:
            tool = tool_data(draft)
            errors = tool_errors(data, draft.name, tool)
            if not errors:
                data = {**data, "tools": {**data["tools"], draft.name: tool}}
                kept[draft.name] = tool
                outcomes.append(ToolOutcome(draft.name, "valid", used, data=tool))
                break
            if used >= rounds:
                outcomes.append(ToolOutcome(draft.name, "rejected", used, errors[0]))
                break
            used += 1
            try:
                draft = llm.structured(
                    "tools",
                    ToolDraft,
                    _repair_messages(spec, draft, errors[0]),
                    seed=seed + 1000 * (i + 1) + used,
                )
            except ScaleEnvError as exc:
                outcomes.append(ToolOutcome(draft.name, "rejected", used, str(exc)))
                break
    return kept, outcomes
