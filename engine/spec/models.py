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

from engine.spec.kinds import DATE_FMT, DATETIME_FMT
from engine.spec.patterns import compile_pattern
from engine.spec.sql import parse_one_statement, tables_read, tables_written

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


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class FakerHint(_Model):
    """How the seeder fills a column. At most one source; omitted means: by type and name."""

    provider: str | None = Field(
        None,
        description="A Faker provider method that draws the values (name, email, city, "
        "sentence ...). Omit every source to let the seeder guess from the column's type and "
        "name (keys count up, emails look like emails, ranges come from minimum/maximum and "
        "the column's CHECKs).",
    )
    args: dict[str, Any] = Field(
        default_factory=dict, description="Keyword arguments for the Faker provider."
    )
    pattern: str | None = Field(
        None,
        description="A text pattern: '#' is a digit, '?' an upper-case letter, '\\' escapes "
        "the next character, anything else is literal ('\\#W####' gives '#W0417'). Unique "
        "columns draw distinct values from it.",
    )
    choices: list[Any] | None = Field(
        None,
        description="Draw from these values. For an enum column they must be enum values; "
        "omit them and give only 'weights' to draw from the column's 'values'.",
    )
    weights: list[float] | None = Field(
        None,
        description="Relative weights, aligned with 'choices', or with the enum column's "
        "'values' when 'choices' is omitted (the lighter form: no value written twice).",
    )
    sql: str | None = Field(
        None,
        description="A fill: a scalar SELECT run after the seeding as UPDATE t SET col = (sql). "
        "It may read the row being filled as <table>.<column> and any other table; fills run "
        "in dependency order (orders.total after order_items.unit_price), so derived values "
        "(totals, balances, counts) are consistent in the seeded world. Until filled, a "
        "numeric column holds a placeholder (its lowest valid value): do not read it from "
        "another fill that is not ordered after it.",
    )
    null_fraction: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Share of NULLs drawn for a nullable column (without a FakerHint a "
        "nullable column gets 10%).",
    )

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
        if self.weights is not None and self.choices is None and sources:
            raise ValueError(f"weights go with choices (or an enum's values), not {sources[0]}")
        n = None if self.weights is None else len(self.weights)
        if n is not None and self.choices is not None and len(self.choices) != n:
            raise ValueError("weights need choices of the same length")
        return self


class Column(_Model):
    """A typed column. Besides the schema, it says how the seeder fills it (``faker``), how
    the reward compares it (``match``) and, through its type and flags, whether the task
    sampler uses it to describe a row to the simulated user (see the spec reference)."""

    type: ColumnType = Field(
        description="string (short text), text (long text), integer, decimal (money: "
        "compared at 'scale' digits), boolean, date ('2024-05-15'), datetime "
        "('2024-05-15 15:00:00', comparable as text) or enum (one of 'values')."
    )
    description: str = Field(
        "",
        description="What the column means. Shown to agents in the tools' output schemas "
        "(MCP outputSchema) wherever a result field comes from this column.",
    )
    primary_key: bool = Field(
        False,
        description="Part of the table's primary key (every table needs one). The diff "
        "matches rows on it unless a natural_key is declared or it is generated.",
    )
    nullable: bool = Field(False, description="NULL is allowed (NOT NULL otherwise).")
    unique: bool = Field(
        False,
        description="A UNIQUE column. A unique column that some tool takes as a param (an "
        "email, a username) is how the task sampler picks the simulated user's table and "
        "what the user says to identify themselves. To describe a row, a unique name/title "
        "column names it; another unique text (a plate, a serial number) is said only when "
        "nothing else singles the row out.",
    )
    default: Any = Field(
        None,
        description="The SQL DEFAULT, used when an INSERT leaves the column out. Without a "
        "range or hint the seeder also fills every row with it (an enum or boolean default "
        "gets 60% of the rows instead).",
    )
    references: str | None = Field(
        None,
        description="'table.column': a foreign key to a primary-key or unique column. It is "
        "also the lineage the dependency graph and the task sampler follow (a param or result "
        "value that comes from this column names a row of that table).",
    )
    on_delete: Literal["cascade", "restrict", "set null"] | None = Field(
        None,
        description="What deleting the referenced row does (needs 'references'; 'set null' "
        "needs a nullable column). A tool that deletes the parent may write the child "
        "through it: the runtime's permissions and invariant checks include cascades.",
    )
    values: list[str] | None = Field(None, description="The members of an enum column.")
    check: str | None = Field(
        None,
        description="A SQL boolean expression over this row ('total >= 0'): a CHECK "
        "constraint, no subqueries or binds. The seeder draws inside simple bounds it finds "
        "here.",
    )
    minimum: float | None = Field(
        None,
        description="Lowest value the seeder draws for a number (a rule the database must "
        "enforce goes in 'check').",
    )
    maximum: float | None = Field(None, description="Highest value the seeder draws for a number.")
    min_value: str | None = Field(
        None, description="Earliest value the seeder draws for a date/datetime (ISO text)."
    )
    max_value: str | None = Field(
        None, description="Latest value the seeder draws for a date/datetime (ISO text)."
    )
    max_length: int | None = Field(None, ge=1, description="Longest text allowed (VARCHAR(n)).")
    precision: int = Field(12, ge=1, le=38, description="Decimal digits in all (decimal columns).")
    scale: int = Field(
        2,
        ge=0,
        le=12,
        description="Decimal digits after the point; an exact match compares decimals rounded "
        "half-up at this scale, so float drift never fails a check and one cent always does.",
    )
    faker: FakerHint | None = Field(
        None, description="How the seeder fills the column; omitted: by type and name."
    )
    match: MatchPolicy = Field(
        "exact",
        description="How the reward compares this column between the agent's final state and "
        "the gold one: exact (canonical values: numbers numerically, decimals at 'scale', "
        "booleans as 0/1), semantic (free text: a deterministic fuzzy match of normalized "
        "words, score >= 80 of 100; for notes and reasons an agent words itself) or exempt "
        "(never compared: timestamps, ids the engine draws).",
    )
    generated: bool = Field(
        False,
        description="Filled by a tool's id generator ('generate'): compared as exempt, and a "
        "primary key that is generated is not used to match rows across runs (another run "
        "may draw another id). Being exempt, it is not a describing column.",
    )

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
        hint = self.faker
        if hint is not None and hint.weights is not None and hint.choices is None:
            if self.type != "enum" or self.values is None:
                raise ValueError("faker.weights need faker.choices (or an enum's values)")
            if len(hint.weights) != len(self.values):
                n, m = len(hint.weights), len(self.values)
                raise ValueError(f"faker.weights has {n} weights for {m} enum values")
            # the explicit form (a copy: a hint object may be shared): same dump, same digest
            self.faker = hint.model_copy(update={"choices": list(self.values)})
        return self

    @property
    def match_policy(self) -> MatchPolicy:
        """The effective match policy: ids a tool generates are always exempt."""
        return "exempt" if self.generated else self.match


class TableCheck(_Model):
    """A named CHECK over several columns of one row."""

    name: str = Field(description="A name for the check (letters, digits, _), unique per table.")
    check: str = Field(
        description="A SQL boolean expression over the row's columns ('min_qty <= max_qty')."
    )


class Entity(_Model):
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


class Param(_Model):
    """A tool argument: bound as ``:name`` in the tool's SQL after the runtime checked it."""

    type: ParamType = Field(
        description="string, integer, number, boolean, enum, date, datetime or array (bound "
        "as JSON text: read it with json_each(:name))."
    )
    description: str = Field("", description="What to pass; shown to agents in the tool schema.")
    required: bool = Field(True, description="The call fails with invalid_arguments without it.")
    default: Any = Field(
        None, description="What an omitted optional param binds (without one: NULL)."
    )
    values: list[Any] | None = Field(None, description="The members of an enum param.")
    minimum: float | None = Field(None, description="Smallest number accepted.")
    maximum: float | None = Field(None, description="Largest number accepted.")
    min_length: int | None = Field(None, ge=0, description="Shortest text accepted.")
    max_length: int | None = Field(None, ge=1, description="Longest text accepted.")
    pattern: str | None = Field(None, description="A regular expression the whole text must match.")
    items: Param | None = Field(None, description="The element of an array param.")
    min_items: int | None = Field(None, ge=0, description="Fewest array elements accepted.")
    max_items: int | None = Field(None, ge=1, description="Most array elements accepted.")
    unique_items: bool = Field(False, description="Array elements must be distinct.")
    references: str | None = Field(
        None,
        description="'table.column' where valid values come from (the param's value source). "
        "Procedural testing draws real values from there, the dependency graph links the "
        "tools that output that column to this tool, and the task sampler decides from it "
        "what the simulated user knows (a user's email) and what the agent must look up (an "
        "internal id).",
    )

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

    check: str = Field(
        description="A SELECT; the call goes on only if the first column of its first row is "
        "true: a non-zero number (text is read as a number). No row, NULL, 0 or non-numeric "
        "text is false. Runs after the lets, in order; the first false one refuses the call "
        "with precondition_failed and nothing is written."
    )
    error: str = Field(
        description="The refusal message, formatted with the params, the generated ids, the "
        "let values and the other columns of the check's row ('Order {order_id} is "
        "{status}, not pending.')."
    )


class Effect(_Model):
    """One INSERT/UPDATE/DELETE; run only when ``when`` (a scalar query) is true, if given."""

    sql: str = Field(
        description="One INSERT, UPDATE or DELETE with :name binds. Effects run in order in "
        "one transaction; a plain string is short for {sql: ...}."
    )
    when: str | None = Field(
        None,
        description="A SELECT evaluated just before this effect (seeing the earlier "
        "effects); the effect runs only if its first column is true, with the precondition "
        "truth rule (no row or NULL is false). For optional params and conditional "
        "bookkeeping: 'SELECT :gift_card_id IS NOT NULL'.",
    )

    @model_validator(mode="before")
    @classmethod
    def _from_str(cls, v: Any) -> Any:
        return {"sql": v} if isinstance(v, str) else v


class IdGenerator(_Model):
    """A new id: the first unused candidate of a seeded sequence from ``pattern``."""

    pattern: str = Field(
        description="'#' digit, '?' upper-case letter, '\\' escapes, else literal: 'R#####'. "
        "Candidates follow a sequence seeded by domain, tool and generator name, so the "
        "same calls draw the same ids in every run (all digits: an integer id)."
    )
    table: str = Field(description="The table where the id must be unused.")
    column: str = Field(
        description="The column it must be unused in (mark that column generated: true)."
    )

    @field_validator("pattern")
    @classmethod
    def _pattern_parses(cls, v: str) -> str:
        compile_pattern(v)
        return v


class Returns(_Model):
    """The result query and its shape; ``json`` columns hold nested JSON (json_object ...)."""

    query: str = Field(
        description="A SELECT run after the effects (it sees the new state), with the same binds."
    )
    shape: Shape = Field(
        "object",
        description="object (the default): the first row as {column: value}, null when there "
        "is none; list: every row as such an object; scalar: the first column of the first "
        "row (null when there is none).",
    )
    json_columns: list[str] = Field(
        default_factory=list,
        description="Output columns holding JSON text (json_object, json_group_array ...): "
        "parsed, so the agent sees nested objects and lists.",
    )
    # lineage of output fields the SQL does not show plainly, e.g. {"items[].item_id":
    # "order_items.item_id"}; plain columns are derived from the query
    references: dict[str, str] = Field(
        default_factory=dict,
        description="Output lineage the SQL does not show plainly: field path -> "
        "'table.column', e.g. {'items[].item_id': 'order_items.item_id'} for a value inside a "
        "JSON column. Plain output columns are traced through the query by themselves. "
        "Lineage types the output schema and tells the dependency graph and the task sampler "
        "which later params this result can feed.",
    )


class Tool(_Model):
    """One call an agent can make: checked params, then lets, preconditions, effects and the
    result query, all parameterized SQL run in one transaction under the tool's permissions."""

    description: str = Field(description="What the tool does; shown to agents.")
    params: dict[str, Param] = Field(
        default_factory=dict, description="Arguments, bound as :name in every SQL of the tool."
    )
    reads: list[str] = Field(
        default_factory=list,
        description="Tables the tool's SQL may read (the runtime's authorizer refuses any "
        "other). Omit it to have it inferred from the SQL (every table read by a let, "
        "precondition, effect, when or the result query, sorted); a declared list must "
        "cover what the SQL reads (tables in 'writes' count as readable).",
    )
    writes: list[str] = Field(
        default_factory=list,
        description="Tables the effects write. Omit it to have it inferred from the effects "
        "(sorted); a declared list must equal the tables the effects write.",
    )
    let: dict[str, str] = Field(
        default_factory=dict,
        description="Named values computed before the preconditions, in order: name -> a "
        "SELECT whose first column of its first row is bound as :name (no row: NULL). Each "
        "sees the params, :now, the generated ids and the earlier lets. For prices, counts "
        "and other values several statements share.",
    )
    generate: dict[str, IdGenerator] = Field(
        default_factory=dict,
        description="New ids drawn by the engine before the lets, bound as :name (an agent "
        "never chooses an id it creates).",
    )
    preconditions: list[Precondition] = Field(
        default_factory=list, description="Checks that refuse the call, in order."
    )
    effects: list[Effect] = Field(
        default_factory=list, description="The writes, in order, in one transaction."
    )
    returns: Returns | None = Field(
        None, description="The result the agent sees; omitted: a writing tool returns null."
    )
    quarantined: str | None = Field(
        None,
        description="Set by procedural testing when the tool failed its tests (the reason): "
        "a quarantined tool is never offered to an agent nor used in tasks. Do not write it.",
    )
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
        declared = self.model_fields_set
        if "reads" not in declared or "writes" not in declared:
            reads, writes = _tables_of(self)
            # set without marking the field as declared: validation then knows it was
            # inferred (its SQL errors are reported once, by the SQL checks)
            if "writes" not in declared:
                self.__dict__["writes"] = writes
            if "reads" not in declared:
                self.__dict__["reads"] = reads
            if self.effects and not self.writes:
                return self  # no effect parsed: the SQL checks report why
        if self.effects and not self.writes:
            raise ValueError("a tool with effects must declare the tables it 'writes'")
        if self.writes and not self.effects:
            raise ValueError("a tool that 'writes' tables needs 'effects'")
        if self.returns is None and not self.effects:
            raise ValueError("a tool needs effects, a result query, or both")
        return self


def _tables_of(tool: Tool) -> tuple[list[str], list[str]]:
    """(tables read, tables written) by the tool's SQL, sorted; SQL that does not parse is
    skipped (validation reports it)."""
    reads: set[str] = set()
    writes: set[str] = set()
    texts = [*tool.let.values(), *(p.check for p in tool.preconditions)]
    texts += [e.when for e in tool.effects if e.when]
    texts += [tool.returns.query] if tool.returns is not None else []
    for sql in [*texts, *(e.sql for e in tool.effects)]:
        try:
            stmt = parse_one_statement(sql)
        except ValueError:
            continue
        reads |= tables_read(stmt)
        writes |= tables_written(stmt)
    return sorted(reads), sorted(writes)


class PolicyRule(_Model):
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


class DomainSpec(_Model):
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


def read_spec_data(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON spec file into plain data (no validation)."""
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    data = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"{p}: a spec must be a mapping at the top level")
    return data
