"""The domain spec: the contract between synthesis (``synth``) and the runtime (``engine``).

A domain is data: tables with typed columns, invariants as violation queries, tools whose
params, preconditions and effects are parameterized SQL (SQLite dialect, ``:name`` binds),
and policy rules the tools do not enforce but an agent must. Structural checks live here
(columns in ``engine.spec.columns``, tools in ``engine.spec.tooldefs``); checks that need the
whole spec (names, lineage, SQL against the schema) are in ``engine.spec.validate``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

import yaml
from pydantic import Field, field_validator, model_validator

from engine.spec.base import (
    NAME_RE,
    TOOL_NAME_RE,
    Builtin,
    ColumnType,
    MatchPolicy,
    ParamType,
    Shape,
    SpecModel,
)
from engine.spec.columns import Column, FakerHint
from engine.spec.indexterms import index_terms  # the term syntax lives there
from engine.spec.kinds import DATE_FMT, DATETIME_FMT
from engine.spec.source import read_spec_data  # strict reading (re-exported here)
from engine.spec.tooldefs import Effect, IdGenerator, Param, Precondition, Returns, Tool

__all__ = [
    "NAME_RE",
    "TOOL_NAME_RE",
    "ColumnType",
    "ParamType",
    "MatchPolicy",
    "Shape",
    "Builtin",
    "DATE_FMT",
    "DATETIME_FMT",
    "FakerHint",
    "Column",
    "TableCheck",
    "Entity",
    "Invariant",
    "Param",
    "Precondition",
    "Effect",
    "IdGenerator",
    "Returns",
    "Tool",
    "PolicyRule",
    "DomainSpec",
    "read_spec_data",
]


class TableCheck(SpecModel):
    """A named CHECK over several columns of one row."""

    name: str = Field(description="A name for the check (letters, digits, _), unique per table.")
    check: str = Field(
        description="A SQL boolean expression over the row's columns ('min_qty <= max_qty')."
    )


class Entity(SpecModel):
    """A table."""

    description: str = Field("", description="What a row is, in words.")
    columns: dict[str, Column] = Field(
        description="Column name -> column, in table order (names: lower case, digits, _)."
    )
    natural_key: list[str] | None = Field(
        None,
        description="Columns that identify a row across two runs from the same start state: "
        "how the reward matches the agent's rows to the gold rows. Default: the primary key, "
        "unless part of it is exempt or generated (then every non-exempt column). Declare it "
        "for rows a tool inserts with a drawn id, e.g. [order_id, line_no].",
    )
    unique: list[list[str]] = Field(
        default_factory=list, description="Composite UNIQUE constraints, each a list of columns."
    )
    checks: list[TableCheck] = Field(
        default_factory=list, description="Named CHECK constraints over several columns."
    )
    rows: int = Field(
        50,
        ge=0,
        description="Rows the seeder draws at scale 1. '--rows N' spreads N rows over the "
        "tables in proportion to these numbers (every table with rows > 0 keeps at least one).",
    )
    indexes: list[str] = Field(
        default_factory=list,
        description="Extra indexes, each a comma-separated list of terms: a column, "
        "'lower(column)' (also upper, trim) or 'column COLLATE NOCASE' (also RTRIM, BINARY). "
        "The build's index advisor adds those the tools' queries need; declared here, they are "
        "part of the schema, its migrations and the world check.",
    )

    @model_validator(mode="after")
    def _known_index_columns(self) -> Entity:

        for text in self.indexes:
            for term in index_terms(text):
                if term.column not in self.columns:
                    raise ValueError(f"index {text!r} names unknown column {term.column!r}")
        return self

    @field_validator("columns")
    @classmethod
    def _has_columns(cls, v: dict[str, Column]) -> dict[str, Column]:
        if not v:
            raise ValueError("an entity needs at least one column")
        return v

    @property
    def primary_key(self) -> list[str]:
        return [n for n, c in self.columns.items() if c.primary_key]

    @property
    def key(self) -> list[str]:
        """Columns that identify a row across two states (natural key, else primary key)."""
        return list(self.natural_key or self.primary_key)


class Invariant(SpecModel):
    """A domain rule that must hold after every transaction."""

    name: str = Field(description="A unique name (letters, digits, _).")
    description: str = Field(
        "", description="The rule in words; shown when a call breaks it and there is no message."
    )
    violations: str = Field(
        description="A SELECT returning the rows that break the rule (empty: it holds), so a "
        "refused call names them. Checked after every writing call, inside its transaction: "
        "a call that would violate it is rolled back and fails with invariant_violated."
    )
    message: str = Field(
        "",
        description="Shown with the violating rows; may use {column} of the first violating "
        "row ('Account {account_id} would be overdrawn').",
    )
    # Optional: per table the query reads, where a changed row's invariant key (the first
    # output column) is: a column ("account_id"), a list of them, "other.fk" (the keys of the
    # rows of scoped table ``other`` whose fk references the row) or "other.col=mine". A
    # violation with key k may only appear or disappear when such a row changes, so the
    # runtime checks just the keys a call touched; a change in a table read but not scoped
    # runs the full check (partial scopes are fine). See engine.runtime.invariants.
    scope: dict[str, str | list[str]] | None = Field(
        None,
        description="Speed only: check just the keys a call touched instead of the whole "
        "query. The key is the query's first output column (name it plainly, no LIMIT). Per "
        "table the query reads, say where a changed row's key is: a column ('account_id'), a "
        "list of columns, 'other.fk' (the keys of the rows of scoped table 'other' whose fk "
        "references the changed row) or 'other.col=mine' (rows of 'other' whose col equals "
        "this row's column mine). A change in a table read but not scoped runs the full "
        "check, so partial scopes are safe. Omitted: the full query runs after every call "
        "that writes a table it reads.",
    )


class PolicyRule(SpecModel):
    """A rule the agent must enforce and the tool does not: refusal tasks are built on it.

    ``violated`` is evaluated like a precondition (same binds) for a call of ``tool``; a true
    first column means the call breaks the rule.
    """

    name: str = Field(description="A unique name; its words matter (see 'explanation').")
    tool: str = Field(description="The tool whose calls the rule restricts.")
    description: str = Field(
        description="The rule in words, as the domain policy an agent reads states it."
    )
    violated: str = Field(
        description="A SELECT evaluated like a precondition, before the call, with the same "
        "binds (params, generated ids, lets, :now): a true first column means this call "
        "breaks the rule although the tool would allow it. The task sampler builds refusal "
        "sub-goals from calls where it is true: the gold makes no such call."
    )
    explanation: str = Field(
        description="What the agent should tell the user. The longest run of two or more "
        "words of the rule's name that this text repeats ('30 days', 'basic economy') "
        "becomes the refusal's required answer."
    )


class DomainSpec(SpecModel):
    """A domain: tables, invariants, tools and the policy an agent must follow."""

    name: str = Field(description="The domain's name (letters, digits, _ and -).")
    description: str = Field(
        "", description="What the domain is; the agent's instructions when 'policy' is empty."
    )
    policy: str = Field(
        "",
        description="The agent's instructions (system prompt): the rules it must follow, "
        "including those of 'policy_rules' that the tools do not enforce.",
    )
    now: str = Field(
        "2024-05-15 15:00:00",
        description="The simulated clock, bound as :now in every SQL (use it, never "
        "date('now')): worlds and tasks do not depend on the wall clock.",
    )
    entities: dict[str, Entity] = Field(description="Tables by name, parents before children.")
    invariants: list[Invariant] = Field(
        default_factory=list, description="Rules every call must keep (checked in the call)."
    )
    policy_rules: list[PolicyRule] = Field(
        default_factory=list,
        description="Rules the agent must enforce and the tools do not (refusal tasks).",
    )
    tools: dict[str, Tool] = Field(default_factory=dict, description="Tools by name.")
    builtins: list[Builtin] = Field(
        default_factory=list,
        description="Engine tools to offer as well: calculate (arithmetic), "
        "transfer_to_human_agents (hand the conversation over).",
    )
    user_entity: str | None = Field(
        None,
        description=(
            "The table whose rows are the users who talk to the agent (the login table). "
            "Ownership of other rows follows foreign-key paths up to it. Omitted: inferred."
        ),
    )
    agent_role: Literal["customer_service", "staff"] = Field(
        "customer_service",
        description=(
            "Whom the agent serves: 'customer_service' (tasks are customer requests; staff "
            "tools never appear in them) or 'staff' (back-office tasks may use staff tools)."
        ),
    )

    @model_validator(mode="after")
    def _user_entity_known(self) -> DomainSpec:
        if self.user_entity is not None and self.user_entity not in self.entities:
            raise ValueError(f"user_entity {self.user_entity!r} is not an entity")
        return self

    @field_validator("now")
    @classmethod
    def _now_format(cls, v: str) -> str:
        from datetime import datetime

        try:
            datetime.strptime(v, DATETIME_FMT)
        except ValueError as exc:
            raise ValueError(f"now must look like '2024-05-15 15:00:00', got {v!r}") from exc
        return v

    # ---- convenience -------------------------------------------------------------
    def active_tools(self) -> dict[str, Tool]:
        """Tools an agent may be offered: not quarantined."""
        return {n: t for n, t in self.tools.items() if t.quarantined is None}

    def column(self, ref: str) -> Column:
        table, col = ref.split(".", 1)
        return self.entities[table].columns[col]

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_defaults=True)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True, width=100)

    def digest(self) -> str:
        """SHA-256 of the canonical JSON form: the identity of a spec."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()
