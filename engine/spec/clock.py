"""SQL that must not depend on the machine: the wall clock, the host's timezone, chance.

A world's clock is ``:now``. Time functions with no argument, a 'now', 'localtime' or 'utc'
argument, or text computed from literals alone that evaluates to one of them ('n'||'ow',
char(110, 111, 119)) would read the host instead, so validation refuses them, and with them
``random()`` and ``load_extension``.
"""

from __future__ import annotations

import sqlite3

from sqlglot import exp

from engine.budget import StepBudget

DIALECT = "sqlite"
_TIME_FUNCS = {"date", "time", "datetime", "julianday", "strftime", "unixepoch", "timediff"}
_BANNED_FUNCS = {"load_extension", "random", "randomblob"}


def nondeterminism(expr: exp.Expression) -> list[str]:
    """Calls whose value depends on the wall clock or chance; tools must use ``:now``."""
    out: list[str] = []
    for node in expr.find_all(exp.CurrentTimestamp, exp.CurrentDate, exp.CurrentTime, exp.Rand):
        out.append(node.sql(dialect=DIALECT))
    for lit in expr.find_all(exp.Literal):
        if lit.is_string and lit.this.strip().lower() == "now" and isinstance(lit.parent, exp.Func):
            out.append(lit.parent.sql(dialect=DIALECT))
    for fn in expr.find_all(exp.Anonymous):
        name = str(fn.this).lower()
        if name in _BANNED_FUNCS or (name in _TIME_FUNCS and not fn.expressions):
            out.append(fn.sql(dialect=DIALECT))
    for call in expr.find_all(exp.Func):
        text = call.sql(dialect=DIALECT)
        if text.split("(", 1)[0].strip().lower() not in _TIME_FUNCS or text in out:
            continue
        if text.rstrip().endswith("()") or _reads_clock(call):
            out.append(text)
    return out


_CLOCK_WORDS = ("now", "localtime", "utc")


def _constant(node: exp.Expression) -> bool:
    """Built only from literals (no column, no bind, no subquery): SQL could compute any
    text from it, 'now' included."""
    if isinstance(node, exp.Column | exp.Placeholder | exp.Parameter | exp.Select):
        return False
    return all(_constant(c) for c in node.iter_expressions())


def _reads_clock(fn: exp.Func) -> bool:
    """A time function that can read the host's clock or timezone: a 'now', 'localtime' or
    'utc' literal among its arguments, or text computed from literals alone (``'n'||'ow'``,
    ``char(110, 111, 119)``) where a time value or modifier belongs."""
    for node in fn.walk():
        if node is fn:
            continue
        if isinstance(node, exp.Literal) and node.is_string:
            if any(w in node.this.strip().lower() for w in _CLOCK_WORDS):
                return True
        elif isinstance(node, exp.Func | exp.DPipe) and _constant(node):  # type: ignore[arg-type]
            value = _constant_value(node.sql(dialect=DIALECT))
            if value is None or any(w in value.strip().lower() for w in _CLOCK_WORDS):
                return True
    return False


def _constant_value(sql: str) -> str | None:
    """The text a literal-only expression evaluates to (on a scratch connection with a step
    budget); None when it cannot be evaluated safely."""
    conn = sqlite3.connect(":memory:")
    try:
        budget = StepBudget(conn, 100_000)
        budget.start()
        row = conn.execute(f"SELECT {sql}").fetchone()
        return None if row is None else str(row[0])
    except sqlite3.Error:
        return None
    finally:
        conn.close()
