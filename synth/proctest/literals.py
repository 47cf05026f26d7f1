"""Valid values a tool's own SQL spells out for a param: ``:reason IN ('fixed', 'wontfix')``,
``CASE :tier WHEN 'gold' ...``, ``:kind = 'refund'``, ``:days >= 3``, ``:code LIKE 'AB%'``.

A precondition that restricts a free string to a list is invisible to lineage (no column
holds those words), so drawing from rows or from a pattern never passes it and a correct
tool would be quarantined. Both procedural testing and the task sampler draw from these.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from engine.spec import DomainSpec, Tool
from engine.spec.sql import parse_one_statement

_CMP = {exp.EQ: 0, exp.NEQ: 1, exp.GT: 1, exp.GTE: 0, exp.LT: -1, exp.LTE: 0}
_FLIP = {exp.GT: exp.LT, exp.LT: exp.GT, exp.GTE: exp.LTE, exp.LTE: exp.GTE}


def _value(lit: exp.Expression) -> Any:
    if not isinstance(lit, exp.Literal):
        return None
    if lit.is_string:
        return lit.this
    text = lit.this
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return None


def _like_sample(pattern: str) -> str:
    return pattern.replace("%", "").replace("_", "a")


def _texts(spec: DomainSpec | None, name: str | None, tool: Tool) -> list[str]:
    out = list(tool.let.values()) + [p.check for p in tool.preconditions]
    out += [t for e in tool.effects for t in (e.sql, e.when) if t]
    if spec is not None and name is not None:
        out += [r.violated for r in spec.policy_rules if r.tool == name]
    return out


def sql_literals(
    tool: Tool, spec: DomainSpec | None = None, name: str | None = None
) -> dict[str, list[Any]]:
    """Param -> literal values its SQL compares it with (declaration order, no repeats).
    With ``spec`` and the tool's ``name``, its policy rules are read too."""
    found: dict[str, list[Any]] = {}

    def add(pname: str, v: Any) -> None:
        if v is not None and pname in tool.params and v not in found.setdefault(pname, []):
            found[pname].append(v)

    for sql in _texts(spec, name, tool):
        try:
            stmt = parse_one_statement(sql)
        except ValueError:
            continue
        for ph in stmt.find_all(exp.Placeholder):
            pname, parent = str(ph.this), ph.parent
            if isinstance(parent, exp.In) and parent.this is ph:
                for e in parent.expressions:
                    add(pname, _value(e))
            elif isinstance(parent, exp.Case) and parent.this is ph:
                for branch in parent.args.get("ifs") or []:
                    add(pname, _value(branch.this))
            elif isinstance(parent, exp.Like | exp.ILike) and parent.this is ph:
                v = _value(parent.expression)
                add(pname, _like_sample(v) if isinstance(v, str) else None)
            elif type(parent) in _CMP:
                left = parent.this is ph
                other = parent.expression if left else parent.this
                v = _value(other)
                kind = type(parent) if left else _FLIP.get(type(parent), type(parent))
                if isinstance(v, int | float) and not isinstance(v, bool):
                    add(pname, v + _CMP[kind])
                elif kind in (exp.EQ,):
                    add(pname, v)
    return {k: v for k, v in found.items() if v}
