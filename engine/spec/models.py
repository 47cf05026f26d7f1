"""The domain spec: the contract between synthesis (``synth``) and the runtime (``engine``).

A domain is data: tables with typed columns, invariants as violation queries, tools whose
params, preconditions and effects are parameterized SQL (SQLite dialect, ``:name`` binds),
and policy rules the tools do not enforce but an agent must. Structural checks live here;
checks that need the whole spec (names, lineage, SQL against the schema) are in
``engine.spec.validate``.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engine.spec.patterns import compile_pattern

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

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
TOOL_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")

ColumnType = Literal["string", "text", "integer", "decimal", "boolean", "date", "datetime", "enum"]
ParamType = Literal["string", "integer", "number", "boolean", "enum", "date", "datetime", "array"]
MatchPolicy = Literal["exempt", "exact", "semantic"]
Shape = Literal["scalar", "object", "list"]
Builtin = Literal["calculate", "transfer_to_human_agents"]

DATE_FMT = "%Y-%m-%d"
DATETIME_FMT = "%Y-%m-%d %H:%M:%S"  # the format of SQLite's datetime(): comparable as text


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class FakerHint(_Model):
    """How the seeder fills a column. At most one source; omitted means: by type and name."""

    provider: str | None = None  # a Faker provider method: name, email, city, sentence ...
    args: dict[str, Any] = Field(default_factory=dict)  # keyword args for the provider
    pattern: str | None = (
        None  # '#' digit, '?' upper letter, '\\' escapes, else literal: "\\#W####"
    )
    choices: list[Any] | None = None  # pick from these (weights optional, same length)
    weights: list[float] | None = None
    sql: str | None = None  # scalar SQL filled after the table is seeded; may read the row
    # (as ``<table>.<col>``) and already seeded tables: keeps derived values consistent
    # until filled, a numeric column holds a placeholder (its lowest valid value): don't read it
    null_fraction: float = Field(0.0, ge=0.0, le=1.0)  # share of NULLs for nullable columns

    @field_validator("pattern")
    @classmethod
    def _pattern_parses(cls, v: str | None) -> str | None:
        if v is not None:
            compile_pattern(v)
        return v

    @model_validator(mode="after")
    def _one_source(self) -> FakerHint:
        sources = [s for s in ("provider", "pattern", "choices", "sql") if getattr(self, s)]
        if len(sources) > 1:
            raise ValueError(f"give at most one of provider/pattern/choices/sql, got {sources}")
        if self.weights is not None and (
            self.choices is None or len(self.weights) != len(self.choices)
        ):
            raise ValueError("weights need choices of the same length")
        return self


class Column(_Model):
    type: ColumnType
    description: str = ""
    primary_key: bool = False
    nullable: bool = False
    unique: bool = False
    default: Any = None
    references: str | None = None  # "table.column"; the FK and the lineage
    on_delete: Literal["cascade", "restrict", "set null"] | None = None
    values: list[str] | None = None  # enum members
    check: str | None = None  # a SQL boolean expression over this row: "total >= 0"
    minimum: float | None = None  # numeric range the seeder draws from (a rule goes in check)
    maximum: float | None = None
    min_value: str | None = None  # date/datetime range, ISO text (seeding draws inside it)
    max_value: str | None = None
    max_length: int | None = Field(None, ge=1)
    precision: int = Field(12, ge=1, le=38)  # decimal digits in all
    scale: int = Field(2, ge=0, le=12)  # decimal digits after the point; compared at this scale
    faker: FakerHint | None = None
    match: MatchPolicy = "exact"
    generated: bool = False  # filled by a tool's id generator: compared as exempt

    @model_validator(mode="after")
    def _coherent(self) -> Column:
        if self.type == "enum" and not self.values:
            raise ValueError("an enum column needs 'values'")
        if self.type != "enum" and self.values is not None:
            raise ValueError(f"'values' is only for enum columns, not {self.type}")
        if self.values is not None and len(set(self.values)) != len(self.values):
            raise ValueError("enum 'values' repeat a member")
        if self.primary_key and self.nullable:
            raise ValueError("a primary key column cannot be nullable")
        if self.references is not None and not re.fullmatch(r"\w+\.\w+", self.references):
            raise ValueError(f"references must be 'table.column', got {self.references!r}")
        return self

    @property
    def policy(self) -> MatchPolicy:
        return "exempt" if self.generated else self.match


class TableCheck(_Model):
    name: str
    check: str  # SQL boolean expression over the row


class Entity(_Model):
    """A table."""

    description: str = ""
    columns: dict[str, Column]
    natural_key: list[str] | None = None  # how the diff matches rows; default: primary key
    unique: list[list[str]] = Field(default_factory=list)  # composite uniques
    checks: list[TableCheck] = Field(default_factory=list)
    rows: int = Field(50, ge=0)  # seeded rows at scale 1 (``--rows`` scales the world)

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


class Invariant(_Model):
    """A domain rule that must hold after every transaction."""

    name: str
    description: str = ""
    violations: str  # SELECT returning the violating rows (so a failure names them)
    message: str = ""  # shown with the violating rows; may use {column} of the first row
    # Optional: per table the query reads, where a changed row's invariant key (the first
    # output column) is: a column ("account_id"), a list of them, "other.fk" (the keys of the
    # rows of scoped table ``other`` whose fk references the row) or "other.col=mine". A
    # violation with key k may only appear or disappear when such a row changes, so the
    # runtime checks just the keys a call touched; a change in a table read but not scoped
    # runs the full check (partial scopes are fine). See engine.invariants.
    scope: dict[str, str | list[str]] | None = None


class Param(_Model):
    type: ParamType
    description: str = ""
    required: bool = True
    default: Any = None
    values: list[Any] | None = None  # enum members
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = Field(None, ge=0)
    max_length: int | None = Field(None, ge=1)
    pattern: str | None = None
    items: Param | None = None  # for arrays
    min_items: int | None = Field(None, ge=0)
    max_items: int | None = Field(None, ge=1)
    unique_items: bool = False
    references: str | None = None  # "table.column": where valid values come from

    @model_validator(mode="after")
    def _coherent(self) -> Param:
        if self.type == "enum" and not self.values:
            raise ValueError("an enum param needs 'values'")
        if self.type == "array" and self.items is None:
            raise ValueError("an array param needs 'items'")
        if self.type != "array" and self.items is not None:
            raise ValueError("'items' is only for array params")
        if self.items is not None and self.items.type == "array":
            raise ValueError("nested arrays are not supported")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern does not compile: {exc}") from exc
        if self.references is not None and not re.fullmatch(r"\w+\.\w+", self.references):
            raise ValueError(f"references must be 'table.column', got {self.references!r}")
        return self


class Precondition(_Model):
    """Refuse the call unless ``check``'s first column of its first row is true.

    No row counts as false. ``error`` is formatted with the params, the ``let`` values and
    the other columns of that row: ``"Flight {flight_number} is full on {date}."``.
    """

    check: str
    error: str


class Effect(_Model):
    """One INSERT/UPDATE/DELETE; run only when ``when`` (a scalar query) is true, if given."""

    sql: str
    when: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_str(cls, v: Any) -> Any:
        return {"sql": v} if isinstance(v, str) else v


class IdGenerator(_Model):
    """A new id: the first unused candidate of a seeded sequence from ``pattern``."""

    pattern: str  # '#' digit, '?' upper letter, '\\' escapes: "R#####"
    table: str  # where it must be unused
    column: str

    @field_validator("pattern")
    @classmethod
    def _pattern_parses(cls, v: str) -> str:
        compile_pattern(v)
        return v


class Returns(_Model):
    """The result query and its shape; ``json`` columns hold nested JSON (json_object ...)."""

    query: str
    shape: Shape = "object"
    json_columns: list[str] = Field(default_factory=list)
    # lineage of output fields the SQL does not show plainly, e.g. {"items[].item_id":
    # "order_items.item_id"}; plain columns are derived from the query
    references: dict[str, str] = Field(default_factory=dict)


class Tool(_Model):
    description: str
    params: dict[str, Param] = Field(default_factory=dict)
    reads: list[str] = Field(default_factory=list)
    writes: list[str] = Field(default_factory=list)
    let: dict[str, str] = Field(default_factory=dict)  # name -> scalar SQL, in order
    generate: dict[str, IdGenerator] = Field(default_factory=dict)
    preconditions: list[Precondition] = Field(default_factory=list)
    effects: list[Effect] = Field(default_factory=list)
    returns: Returns | None = None
    quarantined: str | None = None  # the reason, set by procedural testing
    audience: Literal["customer", "staff"] | None = Field(
        None,
        description=(
            "Who may ask for this tool: 'customer' (a request the authenticated user may make) "
            "or 'staff' (back-office work the user never asks for). Omitted: inferred by the "
            "task sampler (a tool that names the user entity or rows owned by it is customer)."
        ),
    )

    @property
    def read_only(self) -> bool:
        return not self.writes and not self.effects

    @model_validator(mode="after")
    def _coherent(self) -> Tool:
        if self.effects and not self.writes:
            raise ValueError("a tool with effects must declare the tables it 'writes'")
        if self.writes and not self.effects:
            raise ValueError("a tool that 'writes' tables needs 'effects'")
        if self.returns is None and not self.effects:
            raise ValueError("a tool needs effects, a result query, or both")
        return self


class PolicyRule(_Model):
    """A rule the agent must enforce and the tool does not: refusal tasks are built on it.

    ``violated`` is evaluated like a precondition (same binds) for a call of ``tool``; a true
    first column means the call breaks the rule.
    """

    name: str
    tool: str
    description: str
    violated: str
    explanation: str  # what the agent should tell the user


class DomainSpec(_Model):
    name: str
    description: str = ""
    policy: str = ""
    now: str = "2024-05-15 15:00:00"  # the simulated clock, bound as :now everywhere
    entities: dict[str, Entity]
    invariants: list[Invariant] = Field(default_factory=list)
    policy_rules: list[PolicyRule] = Field(default_factory=list)
    tools: dict[str, Tool] = Field(default_factory=dict)
    builtins: list[Builtin] = Field(default_factory=list)
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


def read_spec_data(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON spec file into plain data (no validation)."""
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    data = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"{p}: a spec must be a mapping at the top level")
    return data
