"""The terms of an ``Entity.indexes`` entry: a column, a function of one column, or a
column with a collation — the forms SQLite matches against ``WHERE`` terms (an expression
index serves ``lower(email) = ?`` exactly as written; a NOCASE index serves ``email = ?
COLLATE NOCASE``). Kept this small on purpose: each form has one SQL text, one SQLAlchemy
expression and one Alembic rendering, so the world check compares like with like.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FUNCTIONS = ("lower", "upper", "trim")
COLLATIONS = ("NOCASE", "RTRIM", "BINARY")
_TERM = re.compile(
    r"\s*(?:(?P<fn>[a-z]+)\(\s*(?P<fcol>[a-z_][a-z0-9_]*)\s*\)"
    r"|(?P<col>[a-z_][a-z0-9_]*)(?:\s+COLLATE\s+(?P<coll>[A-Za-z]+))?)\s*\Z"
)


@dataclass(frozen=True)
class IndexTerm:
    column: str
    function: str | None = None
    collation: str | None = None

    @property
    def slug(self) -> str:
        """A name part: ``lower_email``, ``email_nocase``, ``zip``."""
        if self.function:
            return f"{self.function}_{self.column}"
        return f"{self.column}_{self.collation.lower()}" if self.collation else self.column


def index_terms(text: str) -> list[IndexTerm]:
    """Parse one index entry; ValueError naming the bad term."""
    out = []
    for raw in text.split(","):
        m = _TERM.match(raw)
        if m is None:
            raise ValueError(
                f"index term {raw.strip()!r}: write a column, fn(column) with fn in "
                f"{'/'.join(FUNCTIONS)}, or column COLLATE {'/'.join(COLLATIONS)}"
            )
        if m["fn"]:
            if m["fn"] not in FUNCTIONS:
                raise ValueError(f"index term {raw.strip()!r}: function must be one of {FUNCTIONS}")
            out.append(IndexTerm(m["fcol"], function=m["fn"]))
            continue
        coll = m["coll"].upper() if m["coll"] else None
        if coll is not None and coll not in COLLATIONS:
            raise ValueError(f"index term {raw.strip()!r}: collation must be one of {COLLATIONS}")
        out.append(IndexTerm(m["col"], collation=coll))
    if not out:
        raise ValueError("an index needs at least one term")
    return out


def index_name(table: str, text: str) -> str:
    """The index's name: ``ix_<table>_<terms>`` (distinct from the foreign-key indexes,
    which the naming convention names ``ix_<table>_<column>``: these add ``x_``)."""
    return f"ix_{table}_x_" + "_".join(t.slug for t in index_terms(text))
