"""Spec text that runs at call time must be cheap: message templates are plain ``{name}``
substitutions and param patterns cannot backtrack catastrophically.

A template like ``{email:>100000000}`` would return 100 MB per call, and ``^(a+)+$`` takes
exponential time on a 40-character argument; both pass a parser, so they are refused here.
"""

from __future__ import annotations

import re
import string
from re import _parser as sre_parse  # type: ignore[attr-defined]  # stdlib regex parser

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
MAX_PATTERN = 500  # characters of a param pattern


def template_problem(template: str) -> str | None:
    """Why ``template`` is not a plain ``{name}`` template (None: it is)."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        return f"not a valid message template: {exc}"
    for _, field, spec, conv in parts:
        if field is None:
            continue
        if not PLACEHOLDER.fullmatch("{" + field + "}") or spec or conv:
            shown = "{" + field + (f"!{conv}" if conv else "") + (f":{spec}" if spec else "") + "}"
            return f"placeholders are plain {{name}}; {shown!r} is not"
    return None


def fill_template(template: str, values: dict[str, object]) -> str:
    """``template`` with each ``{name}`` replaced by its value; unknown names stay as written."""

    def one(m: re.Match[str]) -> str:
        key = m.group(1)
        return str(values[key]) if key in values else m.group(0)

    return PLACEHOLDER.sub(one, template)


def _repeats(items: list) -> list[tuple[int, list]]:
    """(max count, body) of every repeat in a parsed pattern, outermost first."""
    out: list[tuple[int, list]] = []
    for op, av in items:
        name = str(op)
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            lo, hi, body = av
            out.append((hi, list(body)))
            out.extend(_repeats(list(body)))
        elif name == "SUBPATTERN":
            out.extend(_repeats(list(av[-1])))
        elif name == "BRANCH":
            for alt in av[1]:
                out.extend(_repeats(list(alt)))
        elif name in ("ASSERT", "ASSERT_NOT"):
            out.extend(_repeats(list(av[1])))
    return out


def _unbounded(hi: int) -> bool:
    return hi > 1


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` is unsafe to run on agent text (None: it is safe): too long, not a
    regular expression, backreferences, or a repeated group that itself repeats (nested
    quantifiers such as ``(a+)+`` or ``(a|aa)*`` backtrack exponentially)."""
    if len(pattern) > MAX_PATTERN:
        return f"longer than {MAX_PATTERN} characters"
    try:
        parsed = sre_parse.parse(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        return f"not a regular expression: {exc}"
    if any(str(op) in ("GROUPREF", "GROUPREF_EXISTS") for op, _ in _walk(list(parsed))):
        return "backreferences are not allowed"
    for hi, body in _repeats(list(parsed)):
        if not _unbounded(hi):
            continue
        inner = _repeats(body)
        if any(_unbounded(h) for h, _ in inner) or any(
            str(op) == "BRANCH" for op, _ in _walk(body)
        ):
            return "a repeated group that repeats or alternates inside can backtrack exponentially"
    return None


def _walk(items: list) -> list[tuple[object, object]]:
    out: list[tuple[object, object]] = []
    for op, av in items:
        out.append((op, av))
        name = str(op)
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            out.extend(_walk(list(av[2])))
        elif name == "SUBPATTERN":
            out.extend(_walk(list(av[-1])))
        elif name == "BRANCH":
            for alt in av[1]:
                out.extend(_walk(list(alt)))
    return out
