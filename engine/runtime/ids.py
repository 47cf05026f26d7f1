"""Generated ids: the first unused candidate of a sequence that depends only on the state,
so gold replay and an agent get the same ids from the same state."""

from __future__ import annotations

import hashlib
import sqlite3

from engine.db import q
from engine.spec.models import IdGenerator
from engine.spec.patterns import compile_pattern

MAX_ID_CANDIDATES = 1000
_DIGITS, _UPPER = "0123456789", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def id_candidate(domain: str, tool: str, gen: str, counter: int, pattern: str) -> str:
    """Candidate ``counter`` of a generator (``engine.spec.patterns``: '#' digit, '?' upper letter,
    '\\' makes the next character literal, others literal).

    Digits come from sha256(f"{domain}\\x1f{tool}\\x1f{gen}\\x1f{counter}"), extended with
    sha256(previous digest) for patterns with more than 32 placeholders.
    """
    fmt, radices = compile_pattern(pattern)
    digest = hashlib.sha256(f"{domain}\x1f{tool}\x1f{gen}\x1f{counter}".encode()).digest()
    pool, i, out = digest, 0, []
    for radix in radices:
        if i == len(pool):
            digest = hashlib.sha256(digest).digest()
            pool, i = digest, 0
        b = pool[i]
        i += 1
        out.append(_DIGITS[b % 10] if radix == 10 else _UPPER[b % 26])
    return fmt.format(*out)


def id_sql(g: IdGenerator) -> tuple[str, str]:
    """The statements of a generator: its start counter (the table's row count) and the
    probe whether a candidate is already used."""
    return (
        f"/*scaleenv:gen*/ SELECT COUNT(*) FROM {q(g.table)}",
        f"/*scaleenv:gen*/ SELECT 1 FROM {q(g.table)} WHERE {q(g.column)} = ? LIMIT 1",
    )


def new_id(
    conn: sqlite3.Connection,
    domain: str,
    tool: str,
    gname: str,
    g: IdGenerator,
    taken: set[str],
    sql: tuple[str, str] | None = None,
    cache: dict[int, str] | None = None,
) -> tuple[str, int]:
    """The generated id of ``tool``'s generator ``gname`` on the current state, and the
    number of candidates tried.

    The first unused candidate from counter ``COUNT(*)`` of the target table on: a pure
    function of the logical state (gold replay and agents agree), and O(1) expected: each
    insert moves the start one step, so a new call rarely meets an id it made before."""
    count_sql, check = sql or id_sql(g)
    start = conn.execute(count_sql).fetchone()[0]
    for k in range(start, start + MAX_ID_CANDIDATES):
        cand = None if cache is None else cache.get(k)
        if cand is None:
            cand = id_candidate(domain, tool, gname, k, g.pattern)
            if cache is not None:
                if len(cache) > 4096:
                    cache.clear()
                cache[k] = cand
        if cand not in taken and conn.execute(check, (cand,)).fetchone() is None:
            taken.add(cand)
            return cand, k - start + 1
    raise RuntimeError(
        f"no unused {g.table}.{g.column} for {gname!r} in {MAX_ID_CANDIDATES} candidates "
        f"of {g.pattern!r} (from counter {start})"
    )
