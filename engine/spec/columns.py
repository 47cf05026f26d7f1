"""A table column of the spec: its type and constraints, how the seeder fills it
(``FakerHint``), how the reward compares it (``match``) and what the task sampler reads."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from engine.spec.base import ColumnType, MatchPolicy, SpecModel
from engine.spec.patterns import compile_pattern


class FakerHint(SpecModel):
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


class Column(SpecModel):
    """A typed column. Besides the schema, it says how the seeder fills it (``faker``), how
    the reward compares it (``match``) and, through its type and flags, whether the task
    sampler uses it to describe a row to the simulated user (see the spec reference)."""

    type: ColumnType = Field(
        description="string (short text), text (long text), integer, decimal (money: "
        "compared at 'scale' digits), boolean, date ('2024-05-15'), datetime "
        "('2024-05-15 15:00:00', comparable as text), enum (one of 'values') or json (dicts and "
        "lists stored as JSON text, compared structurally: key order does not count)."
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
