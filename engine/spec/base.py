"""What every spec model shares: the base class (unknown fields are errors), the name rules
and the closed vocabularies (column and param types, match policies, result shapes)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}\Z")  # \Z: a trailing newline does not pass
TOOL_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}\Z")

ColumnType = Literal[
    "string", "text", "integer", "decimal", "boolean", "date", "datetime", "enum", "json"
]
ParamType = Literal[
    "string", "integer", "number", "boolean", "enum", "date", "datetime", "array", "object"
]
MatchPolicy = Literal["exempt", "exact", "semantic"]
Shape = Literal["scalar", "object", "list"]
Builtin = Literal["calculate", "transfer_to_human_agents"]


class SpecModel(BaseModel):
    """A spec model: unknown fields are errors (a typo never passes silently)."""

    model_config = ConfigDict(extra="forbid", frozen=False)
