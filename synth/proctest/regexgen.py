"""A string that matches a param's ``pattern``, from the stdlib regex parser's view of it:
ids and codes with no lineage column still get a well-formed value."""

from __future__ import annotations

import random
import re
import re._parser as sre  # the stdlib regex parser
from typing import Any

_CHARS = {
    sre.CATEGORY_DIGIT: "0123456789",
    sre.CATEGORY_WORD: "abcxyzABCXYZ0189_",
    sre.CATEGORY_SPACE: " ",
    sre.CATEGORY_NOT_DIGIT: "abcXYZ-",
    sre.CATEGORY_NOT_WORD: "-. ",
    sre.CATEGORY_NOT_SPACE: "abc019",
}


def regex_sample(pattern: str, rng: random.Random) -> str | None:
    """A string matching ``pattern`` (simple patterns: classes, repeats, groups, branches)."""
    out: list[str] = []

    def emit(items: Any) -> None:
        for op, av in items:
            if op is sre.LITERAL:
                out.append(chr(av))
            elif op is sre.NOT_LITERAL or op is sre.ANY:
                out.append("x" if op is sre.ANY or av != ord("x") else "y")
            elif op is sre.IN:
                out.append(_class_char(av, rng))
            elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
                lo, hi, sub = av
                for _ in range(rng.randint(lo, max(lo, min(hi, lo + 3)))):
                    emit(sub)
            elif op is sre.SUBPATTERN:
                emit(av[-1])
            elif op is sre.BRANCH:
                emit(rng.choice(av[1]))
            elif op is not sre.AT:
                raise ValueError(op)

    try:
        emit(sre.parse(pattern))
    except Exception:  # unsupported construct: the caller falls back
        return None
    text = "".join(out)
    return text if re.search(pattern, text) else None


def _class_char(items: Any, rng: random.Random) -> str:
    pool: list[str] = []
    for op, av in items:
        if op is sre.LITERAL:
            pool.append(chr(av))
        elif op is sre.RANGE:
            pool += [chr(c) for c in range(av[0], min(av[1], av[0] + 25) + 1)]
        elif op is sre.CATEGORY:
            pool += list(_CHARS.get(av, "a"))
    if items and items[0][0] is sre.NEGATE:
        return next(c for c in "aZ0_-.x#" if c not in pool)
    return rng.choice(pool or ["a"])
