"""The scope language of invariants: where a changed row's key is.

An invariant's ``scope`` maps each table it reads to the entries that lead from a changed
row of that table to the invariant's key: a column of its own, ``other.fk`` (a table whose
foreign key points here) or ``other.col=mine``. Validation reads it statically; the runtime
plans its key log from it. Both use these functions, so they agree by construction.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from engine.db import q
from engine.spec.models import DomainSpec, Invariant
from engine.spec.sql import column_map, columns_used

Via = tuple[str, str, str, bool]  # linking table, its column, the column it links, is an FK


def scope_columns(inv: Invariant) -> dict[str, tuple[str, ...]]:
    """``inv.scope`` as table -> entries (a single entry given as text becomes a 1-tuple)."""
    if not inv.scope:
        return {}
    return {t: (c,) if isinstance(c, str) else tuple(c) for t, c in inv.scope.items()}


def cascade_closure(spec: DomainSpec, written: set[str] | frozenset[str]) -> set[str]:
    """``written`` plus every table SQLite itself changes (ON DELETE CASCADE / SET NULL)."""
    out = set(written)
    grew = True
    while grew:
        grew = False
        for table, entity in spec.entities.items():
            if table not in out and any(
                c.references and c.on_delete and c.references.split(".", 1)[0] in out
                for c in entity.columns.values()
                if c.on_delete in ("cascade", "set null")
            ):
                out.add(table)
                grew = True
    return out


def link(spec: DomainSpec, table: str, entry: str) -> Via | None:
    """Scope entry "other.col=mine" of ``table``, or "other.fk" when other.fk references
    ``table`` (``mine`` is then the referenced column); None when it names no such link."""
    link, _, mine = entry.partition("=")
    other, _, col = link.strip().partition(".")
    entity = spec.entities.get(other)
    column = entity.columns.get(col) if entity is not None else None
    if column is None:
        return None
    if mine:
        mine = mine.strip()
        return (other, col, mine, False) if mine in spec.entities[table].columns else None
    ref_table, _, ref_col = (column.references or "").partition(".")
    return (other, col, ref_col, True) if ref_table == table else None


def read_columns(
    spec: DomainSpec, expr: Any, tables: frozenset[str]
) -> dict[str, frozenset[str] | None]:
    """Per table read, the columns the query reads (None: cannot tell, so all)."""
    schema = column_map(spec)
    known = [t for t in tables if t in spec.entities]
    for star in expr.find_all(exp.Star):
        if not isinstance(star.parent, exp.Count):
            return dict.fromkeys(known)
    if any(j.args.get("using") or j.args.get("method") for j in expr.find_all(exp.Join)):
        return dict.fromkeys(known)
    out: dict[str, set[str]] = {t: set() for t in known}
    for table, col in columns_used(expr, schema):
        for t in known if table is None else [table] if table in out else []:
            if col in schema[t]:
                out[t].add(col)  # an unresolved name counts for every table that has it
    return {t: frozenset(c) for t, c in out.items()}


def scoped_violations_sql(index: int, violations: str, key: str, marks: str, n: int) -> str:
    """The violations of invariant ``index`` restricted to ``n`` bound keys (``marks``)."""
    body = violations.rstrip().rstrip(";")
    return (
        f"/*scaleenv:inv{index}:k{n}*/ SELECT * FROM ({body}\n) AS _v "
        f"WHERE _v.{q(key)} IN ({marks})"
    )
