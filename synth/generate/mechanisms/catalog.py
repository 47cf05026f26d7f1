"""Catalog with availability: the things a business offers, searchable, priced, by category.

Shared entity: ``b.shared["item"]`` (role, table, key) lets orders, holds and reviews point
at catalog items. Seed choices: a variants table (sizes, durations ...) or not.
"""

from __future__ import annotations

from typing import Any

from synth.generate.builder import QUALIFIERS, Builder, enum, exists, label, money, pk, sql
from synth.generate.sketch import Role

NAME = "catalog"
REQUIRES: tuple[str, ...] = ("accounts",)

DEFAULT = Role(
    table="products",
    noun="product",
    id_pattern="PR####",
    provider="catch_phrase",
    kinds=["standard", "premium", "basic"],
)


def apply(b: Builder, params: dict[str, Any]) -> None:
    r = b.role("item", DEFAULT)
    rng = b.rng(NAME)
    t, key = r.table, f"{r.key}_id"
    kinds = r.kinds or ["standard", "premium", "basic"]
    status = rng.choice(
        [
            ["available", "unavailable"],
            ["in_stock", "out_of_stock", "discontinued"],
            ["active", "paused", "retired"],
        ]
    )
    lo, hi = params.get("price", [10, 400])
    name_col, name_rows = label(r, 40, QUALIFIERS)
    b.table(
        t,
        {
            "description": r.description or f"The {r.noun}s offered by {b.sketch.title}.",
            "rows": name_rows,
            "columns": {
                key: pk(r.id_pattern, description=f"{r.noun.capitalize()} id."),
                "name": name_col,
                "category": enum(kinds),
                "price": money(lo, hi, "price", f"Price of one {r.noun}."),
                "status": enum(
                    status,
                    [0.8] + [0.2 / (len(status) - 1)] * (len(status) - 1),
                    description=f"Only {status[0]} {r.noun}s can be ordered.",
                ),
            },
        },
    )
    b.shared["item"] = {"role": r, "table": t, "key": key, "ok": status[0]}
    b.find_by_name(t, key, r.noun)
    b.tool(
        f"search_{r.table}",
        {
            "description": f"Search {r.noun}s whose name contains a text, optionally in one category; cheapest first.",
            "params": {
                "query": {"type": "string", "min_length": 1, "max_length": 80},
                "category": {"type": "enum", "values": kinds, "required": False},
            },
            "reads": [t],
            "returns": {
                "query": sql(f"""
                SELECT {key}, name, category, price, status FROM {t}
                WHERE name LIKE '%' || :query || '%'
                  AND (:category IS NULL OR category = :category)
                ORDER BY price, {key} LIMIT 20
            """),
                "shape": "list",
            },
        },
    )
    b.tool(
        f"get_{r.key}",
        {
            "description": f"Get one {r.noun}: name, category, price and availability.",
            "params": {key: {"type": "string", "references": f"{t}.{key}"}},
            "reads": [t],
            "preconditions": [exists(t, key)],
            "returns": {
                "query": f"SELECT {key}, name, category, price, status FROM {t} WHERE {key} = :{key}"
            },
        },
    )
    b.tool(
        f"list_{r.key}_categories",
        {
            "description": f"Count the {status[0]} {r.noun}s per category.",
            "reads": [t],
            "returns": {
                "query": f"SELECT category, COUNT(*) AS {r.key}_count FROM {t} WHERE status = '{status[0]}' GROUP BY category ORDER BY category",
                "shape": "list",
            },
        },
    )
    if rng.random() < 0.5:
        _variants(b, r, t, key, rng)


def _variants(b: Builder, r: Role, t: str, key: str, rng: Any) -> None:
    opts = rng.choice(
        [
            ["small", "medium", "large"],
            ["standard", "extended", "express"],
            ["single", "double", "family"],
        ]
    )
    vt = f"{r.key}_options"
    b.table(
        vt,
        {
            "description": f"Options a {r.noun} comes in, each with its own price.",
            "rows": 80,
            "natural_key": [key, "option"],
            "unique": [[key, "option"]],
            "columns": {
                "option_id": pk("OP#####"),
                key: {"type": "string", "references": f"{t}.{key}", "on_delete": "cascade"},
                "option": enum(opts),
                "price": {
                    "type": "decimal",
                    "check": "price >= 0",
                    "faker": {
                        "sql": f"SELECT round(price * (1 + (CAST(substr({vt}.option_id, -1) AS INTEGER) % 3) / 10.0), 2) FROM {t} WHERE {t}.{key} = {vt}.{key}"
                    },
                },
                "available": {"type": "boolean"},
            },
        },
    )
    b.tool(
        f"list_{r.key}_options",
        {
            "description": f"List the options of a {r.noun} with their prices and availability.",
            "params": {key: {"type": "string", "references": f"{t}.{key}"}},
            "reads": [t, vt],
            "preconditions": [exists(t, key)],
            "returns": {
                "query": f"SELECT option_id, option, price, available FROM {vt} WHERE {key} = :{key} ORDER BY option_id",
                "shape": "list",
            },
        },
    )
