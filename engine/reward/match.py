"""Per-column match policies: when two stored values count as the same.

``exempt`` never differs, ``exact`` compares canonical values (decimals at the column's
scale, so float drift such as 0.1 + 0.2 cannot fail a check and one cent always does),
``semantic`` is a deterministic fuzzy match of normalized text (rapidfuzz, no model).
Answers the agent must state are matched here too: numbers numerically, text normalized.
"""

from __future__ import annotations

import re
from typing import Any

from rapidfuzz import fuzz

from engine.spec.kinds import column_kind, to_bool, to_decimal  # noqa: F401 - re-exported
from engine.spec.models import Column, MatchPolicy

SEMANTIC_THRESHOLD = 80.0  # score in [0, 100] a semantic column must reach
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "to",
        "of",
        "for",
        "by",
        "via",
        "with",
        "and",
        "or",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "in",
        "on",
        "at",
        "as",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "has",
        "have",
        "had",
    ]
)
_PUNCT = re.compile(r"[^\w\s]+")
_SPACE = re.compile(r"\s+")


def canonical(col: Column, value: Any) -> Any:
    """A hashable canonical form under ``exact``: equal canonical forms mean equal values.

    Used both to compare and to build match keys, so a key stored as 10.0 in one state
    and 10 in another still finds its row.
    """
    if value is None:
        return None
    return column_kind(col).canonical(col, value)


def normalize_text(text: str) -> str:
    """Casefold, drop punctuation and filler words, strip common suffixes, collapse spaces.

    Keeps rewordings ("asked for" / "asks for", "contacted by e-mail" / "contact by email")
    close while leaving content words to decide.
    """
    words = _PUNCT.sub("", text.casefold()).split()
    kept = [_stem(w) for w in words if w not in _STOPWORDS]
    return " ".join(kept if kept else words)


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def semantic_score(expected: Any, actual: Any) -> float:
    """Similarity in [0, 100]: mean of token-set and token-sort ratios of normalized text.

    Token-set alone scores a bare subset ("customer" vs a whole sentence) 100; averaging
    with token-sort makes the agent say about as much as the gold text does.
    """
    if expected is None or actual is None:
        return 100.0 if expected is None and actual is None else 0.0
    a, b = normalize_text(str(expected)), normalize_text(str(actual))
    if a == b:
        return 100.0
    if not a or not b:
        return 0.0
    return (fuzz.token_set_ratio(a, b) + fuzz.token_sort_ratio(a, b)) / 2.0


def values_match(
    col: Column, expected: Any, actual: Any, threshold: float = SEMANTIC_THRESHOLD
) -> bool:
    """Whether ``actual`` satisfies ``expected`` under the column's policy."""
    policy: MatchPolicy = col.match_policy
    if policy == "exempt" or (expected == actual and type(expected) is type(actual)):
        return True
    if policy == "semantic":
        return semantic_score(expected, actual) >= threshold
    return canonical(col, expected) == canonical(col, actual)


def rows_match(
    columns: dict[str, Column], expected: dict[str, Any], actual: dict[str, Any]
) -> list[str]:
    """Names of the columns where ``actual`` fails ``expected`` (empty list: rows match)."""
    if expected == actual:
        return []
    return [
        name
        for name, col in columns.items()
        if not values_match(col, expected.get(name), actual.get(name))
    ]


# ---- required answers -------------------------------------------------------------------
_NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\w)|(?<![\w.])\d+(?:\.\d+)?(?!\w)")


def _canon_number(match: re.Match[str]) -> str:
    d = to_decimal(match.group(0))
    return " " + (format(d.normalize(), "f") if d is not None else match.group(0)) + " "


def normalize_answer(text: str) -> str:
    """Text for answer matching: numbers in one canonical form (``$1,234.50`` -> ``1234.5``),
    casefolded, punctuation outside numbers dropped, spaces collapsed."""
    text = _NUMBER.sub(_canon_number, str(text).casefold())
    parts = re.split(r"(\d+\.\d+)", text)  # keep decimal points inside numbers
    out = [p if i % 2 else _PUNCT.sub(" ", p) for i, p in enumerate(parts)]
    return _SPACE.sub(" ", "".join(out)).strip()


def answer_found(answer: str, messages: list[str]) -> bool:
    """Whether ``answer`` appears, on word boundaries, in any of the agent's messages."""
    needle = normalize_answer(answer)
    if not needle:
        return True
    haystack = " " + normalize_answer("\n".join(messages)) + " "
    return f" {needle} " in haystack
