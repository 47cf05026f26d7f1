"""The spec under construction: what mechanisms add tables, tools and rules to.

Mechanisms write plain spec data (the same dicts a person writes in YAML) through this
builder, which remembers which mechanism made what so the YAML can say so in comments.
Column helpers keep the mechanisms short and their seeding hints uniform.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from synth.generate.sketch import DomainSketch, Role, UserRole


# ---- column helpers (plain spec dicts) -------------------------------------------------------
def pk(pattern: str, generated: bool = False, description: str = "") -> dict[str, Any]:
    col: dict[str, Any] = {"type": "string", "primary_key": True, "faker": {"pattern": pattern}}
    if generated:
        col["generated"] = True
    if description:
        col["description"] = description
    return col


def fk(ref: str, description: str = "", **extra: Any) -> dict[str, Any]:
    return {
        "type": "string",
        "references": ref,
        **({"description": description} if description else {}),
        **extra,
    }


def enum(
    values: list[str], weights: list[float] | None = None, description: str = ""
) -> dict[str, Any]:
    hint: dict[str, Any] = {"choices": list(values)}
    if weights is not None:
        hint["weights"] = list(weights)
    col: dict[str, Any] = {"type": "enum", "values": list(values), "faker": hint}
    if description:
        col["description"] = description
    return col


def money(lo: float, hi: float, name: str, description: str = "") -> dict[str, Any]:
    col: dict[str, Any] = {"type": "decimal", "minimum": lo, "maximum": hi, "check": f"{name} >= 0"}
    if description:
        col["description"] = description
    return col


def integer(lo: int, hi: int, description: str = "", check: str | None = None) -> dict[str, Any]:
    col: dict[str, Any] = {"type": "integer", "minimum": lo, "maximum": hi}
    if check:
        col["check"] = check
    if description:
        col["description"] = description
    return col


def when(lo: str, hi: str, description: str = "", exempt: bool = True) -> dict[str, Any]:
    kind = "datetime" if " " in lo else "date"
    col: dict[str, Any] = {"type": kind, "min_value": lo, "max_value": hi}
    if exempt:
        col["match"] = "exempt"
    if description:
        col["description"] = description
    return col


def text(
    provider: str = "sentence", nullable: bool = True, null_fraction: float = 0.5
) -> dict[str, Any]:
    hint: dict[str, Any] = {"provider": provider}
    if nullable:
        hint["null_fraction"] = null_fraction
    return {"type": "text", "nullable": nullable, "match": "semantic", "faker": hint}


QUALIFIERS = ["Classic", "Deluxe", "Essential", "Premium", "Signature", "Select", "Everyday", "Pro"]


def label(role: Role, rows: int, qualifiers: list[str] | None = None) -> tuple[dict[str, Any], int]:
    """A unique display-name column for a role and the base row count it supports.

    Names identify a row to the user (a task says "the Cedar tub", not "HT03"), so they are
    unique: a vocabulary is widened with qualifiers ("Premium Cleaning") or instance numbers
    ("Cedar tub #2"), and the base rows stay at a third of the widened vocabulary so a world
    scaled up to 3x still finds enough distinct names.
    """
    if role.names:
        if qualifiers:
            vocab = [f"{q} {n}" for n in role.names for q in qualifiers]
        else:
            vocab = [f"{n} #{k}" if k > 1 else n for k in range(1, 10) for n in role.names]
        col = {"type": "string", "max_length": 80, "unique": True, "faker": {"choices": vocab}}
        return col, max(1, min(rows, len(vocab) // 3))
    hint = {"provider": role.provider or "catch_phrase"}
    return {"type": "string", "max_length": 80, "unique": True, "faker": hint}, rows


def filled(kind: str, sql: str, description: str = "", **extra: Any) -> dict[str, Any]:
    col: dict[str, Any] = {"type": kind, "faker": {"sql": " ".join(sql.split())}, **extra}
    if description:
        col["description"] = description
    return col


def exists(table: str, key: str, param: str | None = None) -> dict[str, str]:
    """The usual first precondition: the row named by a param exists."""
    p = param or key
    noun = key.removesuffix("_id").replace("_", " ")
    return {
        "check": f"SELECT 1 FROM {table} WHERE {key} = :{p}",
        "error": f"Unknown {noun} {{{p}}}.",
    }


def sql(text_: str) -> str:
    """Normalise a multi-line SQL literal: strip the common indent, keep the line breaks."""
    lines = [ln.rstrip() for ln in text_.strip("\n").splitlines()]
    indent = min((len(ln) - len(ln.lstrip()) for ln in lines if ln.strip()), default=0)
    return "\n".join(ln[indent:] for ln in lines).strip()


@dataclass
class Builder:
    """Accumulates one spec; ``origin`` maps each table/tool name to the mechanism that made it."""

    sketch: DomainSketch
    seed: int
    entities: dict[str, dict[str, Any]] = field(default_factory=dict)
    tools: dict[str, dict[str, Any]] = field(default_factory=dict)
    invariants: list[dict[str, Any]] = field(default_factory=list)
    policy_rules: list[dict[str, Any]] = field(default_factory=list)
    policy: list[tuple[str, list[str]]] = field(default_factory=list)
    origin: dict[str, str] = field(default_factory=dict)
    shared: dict[str, Any] = field(default_factory=dict)  # what mechanisms offer each other
    mechanisms: list[str] = field(default_factory=list)
    current: str = ""

    @property
    def user(self) -> UserRole:
        return self.sketch.user

    @property
    def ut(self) -> str:
        """The user table."""
        return self.sketch.user.table

    @property
    def uid(self) -> str:
        """The user table's key column."""
        return f"{self.sketch.user.key}_id"

    def rng(self, salt: str) -> random.Random:
        """A generator private to one mechanism: adding a mechanism never shifts another's draws."""
        return random.Random(f"{self.seed}:{self.sketch.name}:{salt}")

    def role(self, key: str, default: Role) -> Role:
        return self.sketch.role(key, default)

    def table(self, name: str, spec: dict[str, Any]) -> None:
        if name in self.entities:
            raise ValueError(f"mechanism {self.current}: table {name} already exists")
        self.entities[name] = spec
        self.origin[f"table:{name}"] = self.current

    def tool(self, name: str, spec: dict[str, Any]) -> None:
        if name in self.tools:
            raise ValueError(f"mechanism {self.current}: tool {name} already exists")
        self.tools[name] = spec
        self.origin[f"tool:{name}"] = self.current

    def invariant(self, spec: dict[str, Any]) -> None:
        self.invariants.append(spec)

    def rule(self, spec: dict[str, Any]) -> None:
        self.policy_rules.append(spec)

    def say(self, heading: str, *lines: str) -> None:
        self.policy.append((heading, [ln for ln in lines if ln]))

    def user_exists(self, param: str | None = None) -> dict[str, str]:
        p = param or self.uid
        return {
            "check": f"SELECT 1 FROM {self.ut} WHERE {self.uid} = :{p}",
            "error": f"No {self.user.noun} with id {{{p}}}.",
        }

    def user_param(self) -> dict[str, Any]:
        return {
            "type": "string",
            "references": f"{self.ut}.{self.uid}",
            "description": f"The authenticated {self.user.noun}'s id.",
        }

    def find_by_name(self, table: str, key: str, noun: str, column: str = "name") -> None:
        """A look-up from the unique name a user says to the id the other tools take."""
        self.tool(
            f"find_{key.removesuffix('_id')}_by_{column}",
            {
                "description": f"Find a {noun}'s id by its exact {column}.",
                "params": {
                    column: {"type": "string", "references": f"{table}.{column}", "max_length": 80}
                },
                "reads": [table],
                "preconditions": [
                    {
                        "check": f"SELECT 1 FROM {table} WHERE {column} = :{column}",
                        "error": f"No {noun} called {{{column}}}.",
                    }
                ],
                "returns": {
                    "query": f"SELECT {key} FROM {table} WHERE {column} = :{column}",
                    "shape": "scalar",
                },
            },
        )
