"""Tool schemas generated from the spec: OpenAI function tools (strict) and MCP tools.

OpenAI strict mode wants every object closed (``additionalProperties: false``), every
property required (optional ones nullable) and only a small keyword set, so constraints
move into the description text there. MCP gets the full JSON Schema (``inputSchema``),
an ``outputSchema`` derived from the result query (always an object: lists and scalars are
wrapped as ``{"result": ...}``) and behaviour hints read from the effect statements.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

import sqlglot
from sqlglot import exp

from engine.errors import SpecError, UnknownNameError
from engine.runtime.argcheck import DEFAULT_MAX_LENGTH
from engine.runtime.builtins import BUILTIN_TOOLS
from engine.spec.kinds import DATE_PATTERN, DATETIME_PATTERN, param_kind  # noqa: F401
from engine.spec.metadata import create_sqlite
from engine.spec.models import DomainSpec, Param, Tool
from engine.toolschema.output import output_schema, structured_result, wrapped

__all__ = [
    "annotations",
    "args_json_schema",
    "mcp_tools",
    "openai_tools",
    "output_schema",
    "param_json_schema",
    "params_json_schema",
    "structured_result",
]

NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
STRICT_KEYWORDS = {"type", "enum", "items", "properties", "required"}
STRICT_KEYWORDS |= {"additionalProperties", "description", "anyOf"}

BUILTIN_RESULTS = {"calculate": {"type": "number"}, "transfer_to_human_agents": {"type": "string"}}


# ---- input schemas --------------------------------------------------------------------------
def _num(x: float, integer: bool) -> int | float:
    return int(x) if integer and float(x).is_integer() else x


def _base_type(param: Param) -> str:
    if param.type == "enum":
        vals = param.values or []
        if all(isinstance(v, bool) for v in vals):
            return "boolean"
        if all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
            return "integer"
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals):
            return "number"
        return "string"
    return param_kind(param).json_type


def _constraint_text(param: Param) -> str:
    """The constraints strict mode cannot carry, as words for the description."""
    bits: list[str] = []
    words = param_kind(param).format_words
    if words:
        bits.append(words)
    if param.min_length is not None or param.max_length is not None:
        lo, hi = param.min_length, param.max_length
        if lo is not None and hi is not None:
            bits.append(f"{lo}-{hi} characters")
        else:
            bits.append(f"at least {lo} characters" if hi is None else f"at most {hi} characters")
    if param.pattern is not None:
        bits.append(f"must match the regular expression {param.pattern}")
    if param.minimum is not None:
        bits.append(f"minimum {_num(param.minimum, True)}")
    if param.maximum is not None:
        bits.append(f"maximum {_num(param.maximum, True)}")
    if param.min_items is not None:
        bits.append(f"at least {param.min_items} items")
    if param.max_items is not None:
        bits.append(f"at most {param.max_items} items")
    if param.unique_items:
        bits.append("items must be unique")
    if param.default is not None:
        bits.append(f"default {param.default!r}")
    return "; ".join(bits)


def param_json_schema(param: Param, strict: bool = False, nullable: bool = False) -> dict:
    """JSON Schema of one param. ``strict`` keeps only OpenAI strict keywords and moves the
    constraints into ``description``; ``nullable`` also admits null (optional params)."""
    t = _base_type(param)
    out: dict[str, Any] = {"type": [t, "null"] if nullable else t}
    desc = param.description.strip()
    if param.type == "enum":
        out["enum"] = [*(param.values or []), *([None] if nullable else [])]
    if param.type == "array":
        assert param.items is not None
        out["items"] = param_json_schema(param.items, strict=strict)
    if param.type == "object":
        shape = params_json_schema(param.properties or {}, strict=strict)
        out.update({k: v for k, v in shape.items() if k != "type"})
    if strict:
        extra = _constraint_text(param)
        desc = f"{desc} ({extra})" if desc and extra else desc or extra
    else:
        kind = param_kind(param)
        integer = kind.json_type == "integer"
        for key, value in (
            ("minimum", param.minimum),
            ("maximum", param.maximum),
            ("minLength", param.min_length),
            ("maxLength", param.max_length),
            ("minItems", param.min_items),
            ("maxItems", param.max_items),
        ):
            if value is not None:
                out[key] = _num(value, integer) if key in ("minimum", "maximum") else value
        if kind.name == "string" and param.max_length is None:
            out["maxLength"] = DEFAULT_MAX_LENGTH  # what the runtime enforces anyway
        if param.unique_items:
            out["uniqueItems"] = True
        if param.pattern is not None:
            out["pattern"] = param.pattern
        elif kind.pattern is not None:
            out["pattern"] = kind.pattern
        if kind.json_format is not None:
            out["format"] = kind.json_format
        if param.default is not None:
            out["default"] = param.default
    if desc:
        out["description"] = desc
    return out


def params_json_schema(params: dict[str, Param], strict: bool = False) -> dict:
    """Object schema of a param dict: closed; optional params nullable; in strict mode
    every property is required (the model sends null for an omitted optional one)."""
    props = {
        name: param_json_schema(p, strict=strict, nullable=not p.required)
        for name, p in params.items()
    }
    required = list(props) if strict else [n for n, p in params.items() if p.required]
    return {
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": False,
    }


def args_json_schema(tool: Tool, strict: bool = False) -> dict:
    """JSON Schema of a tool's arguments (the runtime validates calls against this)."""
    return params_json_schema(tool.params, strict=strict)


# ---- builtins ------------------------------------------------------------------------------
def _resolve(spec: DomainSpec, names: list[str] | None) -> list[str]:
    wanted = list(spec.active_tools()) + list(spec.builtins) if names is None else list(names)
    for name in wanted:
        if name not in spec.tools and name not in BUILTIN_TOOLS:
            raise UnknownNameError(f"{spec.name}: no tool {name!r}")
        if not NAME_RE.fullmatch(name):
            msg = f"tool name {name!r} does not match {NAME_RE.pattern}"
            raise SpecError([(f"tools.{name}", msg)], spec.name)
    return wanted


def _describe(spec: DomainSpec, name: str) -> tuple[str, dict[str, Param]]:
    if name in spec.tools:
        tool = spec.tools[name]
        return tool.description, tool.params
    desc, params = BUILTIN_TOOLS[name]
    return desc, params


def openai_tools(spec: DomainSpec, names: list[str] | None = None) -> list[dict]:
    """OpenAI function tools, ``strict: true``, in the order of ``names`` (default: every
    active tool, then the builtins)."""
    out = []
    for name in _resolve(spec, names):
        desc, params = _describe(spec, name)
        out.append(
            {
                "type": "function",
                "function": {
                    "name": name,
                    "description": desc,
                    "parameters": params_json_schema(params, strict=True),
                    "strict": True,
                },
            }
        )
    return out


# ---- hints ---------------------------------------------------------------------------------
def _statements(tool: Tool) -> list[exp.Expression | None]:
    out: list[exp.Expression | None] = []
    for eff in tool.effects:
        try:
            out.append(sqlglot.parse_one(eff.sql, read="sqlite"))  # type: ignore[arg-type]
        except sqlglot.errors.ParseError:
            out.append(None)
    return out


def _is_destructive(stmt: exp.Expression | None, sql: str) -> bool:
    if stmt is None:
        return bool(re.match(r"\s*(with\b.*\b)?(update|delete|replace)\b", sql, re.I | re.S))
    if isinstance(stmt, exp.Update | exp.Delete):
        return True
    if isinstance(stmt, exp.Insert):
        text = sql.lower()
        return "replace" in text.split("into")[0] or "on conflict" in text
    return False


def _constant_update(stmt: exp.Expression | None, tool: Tool) -> bool:
    """An UPDATE whose SET values are literals, :now or the tool's own params."""
    if not isinstance(stmt, exp.Update):
        return False
    allowed = set(tool.params) | {"now"}
    for assign in stmt.expressions:
        value = assign.expression if isinstance(assign, exp.EQ) else assign
        for node in value.walk():
            if isinstance(node, exp.Placeholder):
                if node.name not in allowed:
                    return False
            elif isinstance(node, exp.Column | exp.Subquery | exp.Select):
                return False
    return True


def tool_annotations(spec: DomainSpec, name: str) -> dict[str, Any]:
    """MCP behaviour hints: read-only, destructive (updates or deletes existing rows),
    idempotent (read-only, or every effect sets constants)."""
    tool = spec.tools.get(name)
    title = name.replace("_", " ").capitalize()
    if tool is None:  # builtins: no database access
        ends = name == "transfer_to_human_agents"
        return {
            "title": title,
            "readOnlyHint": not ends,
            "destructiveHint": False,
            "idempotentHint": True,
            "openWorldHint": False,
        }
    stmts = _statements(tool)
    sqls = [e.sql for e in tool.effects]
    return {
        "title": title,
        "readOnlyHint": tool.read_only,
        "destructiveHint": any(_is_destructive(s, q) for s, q in zip(stmts, sqls, strict=True)),
        "idempotentHint": tool.read_only or all(_constant_update(s, tool) for s in stmts),
        "openWorldHint": False,
    }


def mcp_tools(spec: DomainSpec, names: list[str] | None = None) -> list[dict]:
    """MCP tool definitions (``inputSchema``, ``outputSchema``, ``annotations``)."""
    wanted = _resolve(spec, names)
    conn = sqlite3.connect(":memory:")
    try:
        create_sqlite(spec, conn)
        out = []
        for name in wanted:
            desc, params = _describe(spec, name)
            entry: dict[str, Any] = {
                "name": name,
                "title": name.replace("_", " ").capitalize(),
                "description": desc,
                "inputSchema": params_json_schema(params),
            }
            if name in spec.tools:
                schema = output_schema(spec, spec.tools[name], conn)
            else:
                schema = wrapped(dict(BUILTIN_RESULTS[name]))
            if schema is not None:
                entry["outputSchema"] = schema
            entry["annotations"] = tool_annotations(spec, name)
            out.append(entry)
        return out
    finally:
        conn.close()
