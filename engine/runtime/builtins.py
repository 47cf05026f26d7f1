"""Tools the runtime provides to every domain that lists them in ``spec.builtins``.

``calculate`` evaluates arithmetic from a parsed syntax tree that may only hold numbers,
``+ - * / ** %``, unary signs and parentheses: no names, calls or attributes, so there is
nothing to escape to. Sizes are bounded (expression length, exponents, magnitudes), so no
input can make it slow. ``transfer_to_human_agents`` ends the episode.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

from engine.runtime.argcheck import ArgError, compile_params
from engine.runtime.call import ErrorType, ToolResult, failure
from engine.spec.models import Param

MAX_EXPRESSION = 500
MAX_MAGNITUDE = 1e300
TRANSFER_RESULT = "Transfer successful"

BUILTIN_TOOLS: dict[str, tuple[str, dict[str, Param]]] = {
    "calculate": (
        "Calculate the result of an arithmetic expression: numbers, + - * / ** %, parentheses. "
        "The result is rounded to 2 decimals.",
        {
            "expression": Param(
                type="string",
                description="The expression to evaluate, such as '(12.5 * 2) - 3 / 4'.",
                min_length=1,
                max_length=MAX_EXPRESSION,
            )
        },
    ),
    "transfer_to_human_agents": (
        "Transfer the user to a human agent, with a summary of the user's issue. Only transfer if "
        "the user explicitly asks for a human agent, or the request cannot be handled with the "
        "available tools and the policy.",
        {
            "summary": Param(
                type="string",
                description="A summary of the user's issue for the human agent.",
                max_length=2000,
            )
        },
    ),
}

_VALIDATORS = {name: compile_params(params) for name, (_, params) in BUILTIN_TOOLS.items()}

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}


def builtin_params() -> dict[str, tuple[str, dict[str, Param]]]:
    """name -> (description, params) for every builtin (what ``engine.toolschema.tools`` renders)."""
    return dict(BUILTIN_TOOLS)


def _check_size(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise ArgError("the result is not a finite number")
    if abs(value) > MAX_MAGNITUDE:
        raise ArgError("the result is too large")
    return value


def _power(base: Any, exp: Any) -> Any:
    if abs(exp) > 1000:
        raise ArgError(f"exponent {exp} is too large (at most 1000)")
    if base == 0 and exp < 0:
        raise ArgError("division by zero (zero to a negative power)")
    if abs(base) > 1 and exp > 0 and exp * math.log10(abs(base)) > 300:
        raise ArgError("the result is too large")
    result = base**exp
    if isinstance(result, complex):
        raise ArgError("the result is not a real number (fractional power of a negative number)")
    return result


def _eval(node: ast.AST) -> Any:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return _check_size(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow):
            return _check_size(_power(left, right))
        try:
            return _check_size(_BINARY[type(node.op)](left, right))
        except ZeroDivisionError:
            raise ArgError("division by zero") from None
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    raise ArgError("only numbers, + - * / ** %, unary signs and parentheses are allowed")


def calculate(expression: str) -> int | float:
    """The value of ``expression`` rounded to 2 decimals; raises ArgError when it is not one."""
    text = expression.strip()
    if not text:
        raise ArgError("the expression is empty")
    if len(text) > MAX_EXPRESSION:
        raise ArgError(f"the expression is longer than {MAX_EXPRESSION} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        raise ArgError(f"not an arithmetic expression: {text[:60]!r}") from None
    try:
        value = _eval(tree)
    except RecursionError:
        raise ArgError("the expression is nested too deeply") from None
    except OverflowError:
        raise ArgError("the result is too large") from None
    return round(value, 2)


ENDS_EPISODE = frozenset({"transfer_to_human_agents"})  # a successful call ends the episode


def run_builtin(name: str, args: dict[str, Any]) -> ToolResult:
    """Call builtin ``name``; errors are results, never exceptions. The caller ends the
    episode after a successful call of a tool in ``ENDS_EPISODE``."""
    try:
        values = _VALIDATORS[name](args)
    except ArgError as exc:
        return failure(name, ErrorType.INVALID_ARGUMENTS, str(exc))
    if name == "calculate":
        try:
            return ToolResult(True, calculate(values["expression"]), None, "", name)
        except ArgError as exc:
            return failure(name, ErrorType.INVALID_ARGUMENTS, f"'expression': {exc}")
    return ToolResult(True, TRANSFER_RESULT, None, "", name)
