"""Did the world get the rows it asked for? Per table: target, actual, rows lost (capped by
uniques or deleted by the invariant repair), with a warning when a table ends far below its
target; ``strict_problems`` turns losses and quarantines into build failures (``--strict``).

A 500-row request that silently becomes a 117-row world, or a ``unique`` column with two
choices that leaves 2 of 60 rows, makes every later number (tasks, coverage) mean less.
"""

from __future__ import annotations

from typing import Any

from engine.spec import DomainSpec

FAR_BELOW = 0.8  # a table with less than this share of its target gets a warning


def seeding_report(
    targets: dict[str, int],
    actual: dict[str, int],
    capped: dict[str, str] | None = None,
    repaired: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Per table target / actual / lost, the repair's deletions per invariant, warnings."""
    tables = {}
    warnings = []
    for t in targets:
        want, got = int(targets[t]), int(actual.get(t, 0))
        tables[t] = {"target": want, "actual": got, "lost": max(0, want - got)}
        if want and got < FAR_BELOW * want:
            why = (capped or {}).get(t)
            warnings.append(
                f"{t}: {got} of {want} target rows ({got / want:.0%})"
                + (f"; capped: {why}" if why else "")
            )
    removed = {k: int(v) for k, v in sorted((repaired or {}).items()) if v}
    for inv, n in removed.items():
        warnings.append(f"the invariant repair deleted {n} rows violating {inv}")
    return {
        "tables": tables,
        "target_total": sum(v["target"] for v in tables.values()),
        "actual_total": sum(v["actual"] for v in tables.values()),
        "repair_removed": removed,
        "capped": dict(sorted((capped or {}).items())),
        "warnings": warnings,
    }


def strict_problems(spec: DomainSpec, seeding: dict[str, Any] | None) -> list[str]:
    """What ``world build --strict`` refuses: any quarantined tool, any lost row."""
    out = [f"tool {n} quarantined: {t.quarantined}" for n, t in spec.tools.items() if t.quarantined]
    if seeding:
        for t, row in seeding["tables"].items():
            if row["lost"]:
                out.append(f"table {t}: {row['actual']} of {row['target']} target rows")
        out += [
            f"invariant repair deleted {n} rows ({inv})"
            for inv, n in seeding["repair_removed"].items()
        ]
    return out
