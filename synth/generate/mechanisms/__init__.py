"""The mechanism library: one module per business mechanism, applied in dependency order.

A mechanism module has ``NAME``, ``REQUIRES`` (mechanisms it builds on, through shared
entities such as the user, the catalog item or the case) and ``apply(builder, params)``,
which adds tables with seeding hints, invariants, tools and policy rules to the builder.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# dependency order: a mechanism comes after every mechanism it may build on
ORDER: tuple[str, ...] = (
    "accounts",
    "catalog",
    "inventory",
    "lifecycle",
    "shipments",
    "claims",
    "slot_booking",
    "reservations",
    "payments",
    "transfers",
    "subscriptions",
    "tickets",
    "loyalty",
    "enrollments",
    "renewals",
    "reviews",
    "scheduling",
)


def available() -> list[str]:
    """Mechanisms that exist (a module per name), in dependency order."""
    out = []
    for name in ORDER:
        try:
            importlib.import_module(f"synth.generate.mechanisms.{name}")
        except ModuleNotFoundError:
            continue
        out.append(name)
    return out


def get(name: str) -> ModuleType:
    if name not in ORDER:
        raise KeyError(f"unknown mechanism {name!r}; known: {', '.join(ORDER)}")
    return importlib.import_module(f"synth.generate.mechanisms.{name}")
