"""What to seed and in which order: rows per table, parents before children.

``rows`` spreads a world-size target over the tables in proportion to ``Entity.rows``;
the table order follows foreign keys, breaking a cycle at a nullable FK that is filled in
after every table has rows.
"""

from __future__ import annotations

from engine.spec.models import DomainSpec
from synth.seed.values import SeedError


def plan_counts(
    spec: DomainSpec, rows: int | None = None, scale: float | None = None
) -> dict[str, int]:
    """Target rows per table: ``rows`` spread in proportion to ``Entity.rows``, or scaled."""
    base = {t: e.rows for t, e in spec.entities.items()}
    if rows is not None and scale is not None:
        raise SeedError("give rows or scale, not both")
    if rows is None and scale is None:
        return base
    if rows is not None:
        if rows < 0:
            raise SeedError(f"rows must be >= 0, got {rows}")
        total = sum(base.values())
        factor = rows / total if total else 0.0
    else:
        factor = float(scale or 0.0)
    need = _min_rows(spec)
    return {
        t: (max(need.get(t, 1), round(b * factor)) if b > 0 and factor > 0 else 0)
        for t, b in base.items()
    }


def _min_rows(spec: DomainSpec) -> dict[str, int]:
    """Rows a table needs at any scale: as many as one child row points at it through
    distinct foreign keys (a flight's origin and destination must be two airports)."""
    need: dict[str, int] = {}
    for entity in spec.entities.values():
        per_parent: dict[str, int] = {}
        for col in entity.columns.values():
            if col.references:
                parent = col.references.split(".", 1)[0]
                per_parent[parent] = per_parent.get(parent, 0) + 1
        for parent, n in per_parent.items():
            cap = spec.entities[parent].rows if parent in spec.entities else n
            need[parent] = max(need.get(parent, 1), min(n, max(1, cap)))
    return need


def table_order(spec: DomainSpec) -> tuple[list[str], list[tuple[str, str]]]:
    """Tables parents-first (spec order breaks ties) and FKs deferred to break cycles."""
    deferred: list[tuple[str, str]] = []
    order: list[str] = []

    def parents(t: str) -> set[str]:
        return {
            c.references.split(".")[0]
            for n, c in spec.entities[t].columns.items()
            if c.references and (t, n) not in deferred and c.references.split(".")[0] != t
        }

    while len(order) < len(spec.entities):
        left = [t for t in spec.entities if t not in order]
        ready = [t for t in left if parents(t) <= set(order)]
        if ready:
            order.append(ready[0])
            continue
        breakable = [
            (t, n)
            for t in left
            for n, c in spec.entities[t].columns.items()
            if c.references and c.nullable and c.references.split(".")[0] in left
        ]
        if not breakable:
            raise SeedError(f"tables {', '.join(left)} form a cycle of NOT NULL foreign keys")
        deferred.append(breakable[0])
    return order, deferred
