"""Structural fingerprint of one world: what its shape is, independent of its names.

Two worlds with the same fingerprint have the same number of tables, the same foreign-key
shape, the same tools by kind, about the same graph density and the same mechanism set: a
renamed copy, not a new domain. The catalog-level report counts distinct fingerprints.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from typing import Any

from engine import DomainSpec

_VERB = re.compile(r"^\s*(?:WITH\b.*?\)\s*)?(INSERT|UPDATE|DELETE|REPLACE)\b", re.I | re.S)


def tool_kind(tool: Any) -> str:
    """read, or its effects' SQL verbs joined: create, update, delete, create+update ..."""
    if not tool.effects:
        return "read"
    kinds = {"INSERT": "create", "REPLACE": "create", "UPDATE": "update", "DELETE": "delete"}
    verbs = set()
    for eff in tool.effects:
        m = _VERB.match(eff.sql)
        verbs.add(kinds[m.group(1).upper()] if m else "other")
    return "+".join(sorted(verbs))


def foreign_keys(spec: DomainSpec) -> list[tuple[str, str]]:
    """(child table, parent table) for every column that references another table."""
    out = []
    for tname, ent in spec.entities.items():
        for col in ent.columns.values():
            if col.references:
                out.append((tname, col.references.split(".", 1)[0]))
    return sorted(out)


def fk_shape(spec: DomainSpec) -> list[list[int]]:
    """Sorted (out-degree, in-degree) per table of the FK graph: the schema's shape."""
    outd: Counter = Counter()
    ind: Counter = Counter()
    for child, parent in foreign_keys(spec):
        outd[child] += 1
        ind[parent] += 1
    return sorted([outd[t], ind[t]] for t in spec.entities)


def tools_by_kind(spec: DomainSpec) -> dict[str, int]:
    counts = Counter(tool_kind(t) for t in spec.active_tools().values())
    return dict(sorted(counts.items()))


def name_tokens(name: str) -> set[str]:
    """Lower-case word tokens of an identifier: get_order_status -> {get, order, status}."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return {t for t in re.split(r"[^a-zA-Z0-9]+", spaced.lower()) if t}


def features(
    spec: DomainSpec, *, mechanisms: list[str] | None = None, edges: int = 0
) -> dict[str, Any]:
    """The structural features of one world (JSON-able, deterministic)."""
    n_tools = len(spec.active_tools())
    density = edges / (n_tools * (n_tools - 1)) if n_tools > 1 else 0.0
    return {
        "tables": len(spec.entities),
        "fk_shape": fk_shape(spec),
        "tools_by_kind": tools_by_kind(spec),
        "graph_density": round(density, 2),
        "mechanisms": sorted(set(mechanisms or [])),
    }


def fingerprint(feats: dict[str, Any]) -> str:
    """A short hash of the features: equal for renamed copies of one structure."""
    blob = json.dumps(feats, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def schema_vector(spec: DomainSpec) -> dict[str, int]:
    """A bag of shape tokens (table widths, FK degrees, column types) for distances."""
    bag: Counter = Counter()
    for ent in spec.entities.values():
        bag[f"cols:{min(len(ent.columns), 20)}"] += 1
        for col in ent.columns.values():
            bag[f"type:{col.type}"] += 1
            if col.references:
                bag["fk"] += 1
    for out_d, in_d in fk_shape(spec):
        bag[f"deg:{out_d}/{in_d}"] += 1
    return dict(sorted(bag.items()))
