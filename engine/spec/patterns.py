"""The id pattern language shared by the seeder and the runtime's id generators.

``#`` is a digit, ``?`` an upper-case letter, ``\\`` makes the next character literal
(``\\#W#######`` gives ``#W0412345``), anything else is literal. One parser keeps seeded
ids and tool-generated ids in the same shape as the params' regexes expect.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> tuple[str, tuple[int, ...]]:
    """``(format string with one {} per slot, radix per slot)``; literal braces escaped."""
    fmt: list[str] = []
    radices: list[int] = []
    escaped = False
    for ch in pattern:
        if escaped:
            fmt.append(ch.replace("{", "{{").replace("}", "}}"))
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in "#?":
            fmt.append("{}")
            radices.append(10 if ch == "#" else 26)
        else:
            fmt.append(ch.replace("{", "{{").replace("}", "}}"))
    if escaped:
        raise ValueError(f"pattern {pattern!r} ends with a lone backslash")
    return "".join(fmt), tuple(radices)


def pattern_radices(pattern: str) -> tuple[int, ...]:
    return compile_pattern(pattern)[1]


def pattern_capacity(pattern: str) -> int:
    n = 1
    for r in pattern_radices(pattern):
        n *= r
    return n


def pattern_is_numeric(pattern: str) -> bool:
    """True when every id the pattern makes is a string of digits (fits an integer column)."""
    fmt, radices = compile_pattern(pattern)
    literals = fmt.replace("{}", "")
    return all(r == 10 for r in radices) and (literals == "" or literals.isdigit())
