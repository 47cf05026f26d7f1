"""Names a document spells freely (camelCase, dots, reserved words) -> spec identifiers."""

from __future__ import annotations

import re

RESERVED = frozenset(
    [
        "abort",
        "action",
        "add",
        "after",
        "all",
        "alter",
        "always",
        "analyze",
        "and",
        "as",
        "asc",
        "attach",
        "autoincrement",
        "before",
        "begin",
        "between",
        "by",
        "cascade",
        "case",
        "cast",
        "check",
        "collate",
        "column",
        "commit",
        "conflict",
        "constraint",
        "create",
        "cross",
        "current",
        "current_date",
        "current_time",
        "current_timestamp",
        "database",
        "default",
        "deferrable",
        "deferred",
        "delete",
        "desc",
        "detach",
        "distinct",
        "do",
        "drop",
        "each",
        "else",
        "end",
        "escape",
        "except",
        "exclude",
        "exclusive",
        "exists",
        "explain",
        "fail",
        "filter",
        "first",
        "following",
        "for",
        "foreign",
        "from",
        "full",
        "generated",
        "glob",
        "group",
        "groups",
        "having",
        "if",
        "ignore",
        "immediate",
        "in",
        "index",
        "indexed",
        "initially",
        "inner",
        "insert",
        "instead",
        "intersect",
        "into",
        "is",
        "isnull",
        "join",
        "key",
        "last",
        "left",
        "like",
        "limit",
        "match",
        "materialized",
        "natural",
        "no",
        "not",
        "nothing",
        "notnull",
        "now",
        "null",
        "nulls",
        "of",
        "offset",
        "on",
        "or",
        "order",
        "others",
        "outer",
        "over",
        "partition",
        "plan",
        "pragma",
        "preceding",
        "primary",
        "query",
        "raise",
        "range",
        "recursive",
        "references",
        "regexp",
        "reindex",
        "release",
        "rename",
        "replace",
        "restrict",
        "returning",
        "right",
        "rollback",
        "row",
        "rows",
        "savepoint",
        "select",
        "set",
        "table",
        "temp",
        "temporary",
        "then",
        "ties",
        "to",
        "transaction",
        "trigger",
        "unbounded",
        "union",
        "unique",
        "update",
        "using",
        "vacuum",
        "values",
        "view",
        "virtual",
        "when",
        "where",
        "window",
        "with",
        "without",
    ]
)
MAX_NAME = 48


def snake(name: str) -> str:
    """camelCase / kebab / dotted -> snake_case, a valid spec name (letter first, <= 48 chars)."""
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
    s = re.sub(r"[^A-Za-z0-9]+", "_", s).strip("_").lower()
    s = re.sub(r"_+", "_", s)
    if not s or not s[0].isalpha():
        s = "f_" + s
    return s[:MAX_NAME].rstrip("_")


def column_name(name: str) -> str:
    s = snake(name)
    return s + "_value" if s in RESERVED else s


IRREGULAR = {
    "shelves": "shelf",
    "leaves": "leaf",
    "halves": "half",
    "people": "person",
    "children": "child",
    "indices": "index",
    "statuses": "status",
    "aliases": "alias",
    "analyses": "analysis",
    "addresses": "address",
    "data": "data",
    "media": "media",
    "series": "series",
    "news": "news",
    "metadata": "metadata",
    "settings": "settings",
}


def singular(word: str) -> str:
    """A plain English singular, good enough for ids and tool names (pets -> pet)."""
    head, _, last = word.rpartition("_")
    if last in IRREGULAR:
        return (head + "_" if head else "") + IRREGULAR[last]
    for plural, single in (
        ("ies", "y"),
        ("sses", "ss"),
        ("xes", "x"),
        ("ches", "ch"),
        ("shes", "sh"),
    ):
        if word.endswith(plural) and len(word) > len(plural) + 1:
            return word[: -len(plural)] + single
    if word.endswith("ss") or word.endswith("us") or word.endswith("is"):
        return word
    if word.endswith("s") and len(word) > 3:
        return word[:-1]
    return word


def plural(word: str) -> str:
    if word.endswith("s"):
        return word
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def id_prefix(table: str) -> str:
    """Three upper letters for generated ids of a table: instances -> INS."""
    letters = re.sub(r"[^a-z]", "", table)
    return (letters[:3] or "row").upper().ljust(3, "X")


def unique_name(base: str, taken: set[str]) -> str:
    name, i = base, 2
    while name in taken:
        name = f"{base[: MAX_NAME - 3]}_{i}"
        i += 1
    taken.add(name)
    return name


def humanize(name: str) -> str:
    return name.replace("_", " ")
