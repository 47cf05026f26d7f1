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


_DATETIME = re.compile(
    r"(?<![\w.])(\d{4})-(\d{2})-(\d{2})(?:[t ](\d{2}):(\d{2})(?::(\d{2}))?)?(?!\d)"
)
_CLOCK = re.compile(r"(?<![\w.:])(\d{1,2}):(\d{2})(?::(\d{2}))?(?![\d:])")


def _atomic(match: re.Match[str]) -> str:
    """A date (and its time) as whole words: '2024-05-02' -> '2024_05_02'."""
    g = match.groups()
    date = "_".join(g[:3])
    time = "_".join(x for x in g[3:] if x is not None)
    return f" {date} {time} " if time else f" {date} "


def normalize_answer(text: str) -> str:
    """Text for answer matching: numbers in one canonical form (``$1,234.50`` -> ``1234.5``),
    casefolded, punctuation outside numbers dropped, spaces collapsed. Dates and clock times
    stay whole words, so a count of 2 is not found in '2024-05-02'."""
    text = _DATETIME.sub(_atomic, str(text).casefold())
    text = _CLOCK.sub(lambda m: " " + "_".join(x for x in m.groups() if x) + " ", text)
    text = _NUMBER.sub(_canon_number, text)
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


# ---- answers that a dump cannot satisfy -------------------------------------------------
EXTRA_VALUES_ALLOWED = 2  # other values of an answer's class a reply may mention
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}(:\d{2})?)?$")
_VALUE_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[ t]\d{2}:\d{2}(?::\d{2})?)?"  # dates and datetimes, whole
    r"|-?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\w|\.\d)|-?\d+\.\d+(?!\w|\.\d)"  # 1,234.50
    r"|[a-z0-9#_-]*\d[a-z0-9#_-]*",  # integers and identifiers with digits
    re.IGNORECASE,
)


def value_class(token: str) -> str | None:
    """The class of a value an answer can be: date, decimal, integer, or identifier (letters
    with digits, classed by shape: ``#W0412345`` is ``id #a9999999``); None for words."""
    t = token.strip()
    if _DATE_RE.match(t):
        return "date"
    if re.fullmatch(r"-?\d+\.\d+", t.replace(",", "")):
        return "decimal"
    if re.fullmatch(r"-?\d+", t.replace(",", "")):
        return "integer"
    if any(c.isdigit() for c in t) and any(c.isalpha() for c in t):  # by shape: W0412345
        return "id " + re.sub(r"[a-z]", "a", re.sub(r"\d", "9", t.casefold()))
    return None


def _value_key(raw: str, cls: str) -> str:
    """One spelling per value: numbers canonical (42.50 -> 42.5), dates with a space."""
    if cls in ("decimal", "integer"):
        d = to_decimal(raw)
        return format(d.normalize(), "f") if d is not None else raw
    return raw.replace("t", " ", 1) if cls == "date" else raw


def stated_values(messages: list[str]) -> dict[str, set[str]]:
    """Every dated, numeric or identifier value the messages state, by class (normalized)."""
    out: dict[str, set[str]] = {}
    for raw in _VALUE_RE.findall("\n".join(messages).casefold()):
        cls = value_class(raw.replace("t", " ") if _DATE_RE.match(raw.replace("t", " ")) else raw)
        if cls is not None:
            out.setdefault(cls, set()).add(_value_key(raw, cls))
    return out


def contradicting_values(answers: list[str], messages: list[str]) -> dict[str, list[str]]:
    """Per class, the values stated beyond the required answers of that class and
    ``EXTRA_VALUES_ALLOWED`` more: a reply that lists many candidates (a dump) states a
    value that contradicts the answer. Empty when the reply is committed."""
    wanted: dict[str, set[str]] = {}
    for a in answers:
        raw = a.strip().casefold().lstrip("$€£")
        cls = value_class(raw.replace(",", ""))
        if cls is not None:
            wanted.setdefault(cls, set()).add(_value_key(raw, cls))
    stated = stated_values(messages)
    out: dict[str, list[str]] = {}
    for cls, want in wanted.items():
        others = sorted(stated.get(cls, set()) - want)
        if len(others) > EXTRA_VALUES_ALLOWED:
            out[cls] = others
    return out
