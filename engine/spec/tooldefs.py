"""A tool of the spec: params, lets, generated ids, preconditions, effects and the result,
all parameterized SQL; ``reads``/``writes`` default to what that SQL touches."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from engine.spec.base import ParamType, Shape, SpecModel
from engine.spec.patterns import compile_pattern
from engine.spec.sql import parse_one_statement, tables_read, tables_written


class Param(SpecModel):
    """A tool argument: bound as ``:name`` in the tool's SQL after the runtime checked it."""

    type: ParamType = Field(
        description="string, integer, number, boolean, enum, date, datetime, array (bound "
        "as JSON text: read it with json_each(:name)) or object (its 'properties'; JSON text)."
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
    properties: dict[str, Param] | None = Field(
        None,
        description="The fields of an object param (scalars; each 'required' unless it says "
        "otherwise; unknown fields are refused). Bound as JSON text: read it with "
        "json_extract(:name, '$.field'), or json_each(:name) for an array of objects.",
    )
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
        if self.type == "object" and not self.properties:
            raise ValueError("an object param needs 'properties'")
        if self.type != "object" and self.properties is not None:
            raise ValueError("'properties' is only for object params")
        for fname, field in (self.properties or {}).items():
            if field.type in ("array", "object"):
                raise ValueError(f"properties.{fname}: object fields are scalars")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern does not compile: {exc}") from exc
        if self.references is not None and not re.fullmatch(r"\w+\.\w+", self.references):
            raise ValueError(f"references must be 'table.column', got {self.references!r}")
        return self


class Precondition(SpecModel):
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


class Effect(SpecModel):
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


class IdGenerator(SpecModel):
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


class Returns(SpecModel):
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


class Tool(SpecModel):
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
