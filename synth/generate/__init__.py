"""Domains from scratch, offline: catalog sketches + a mechanism library -> DomainSpecs.

``generate_spec(load_sketch(name), seed)`` is a validated spec that builds like a curated
one; ``domain_for_index(seed, i)`` spreads N worlds over the catalog for ``scaleenv synth``.
"""

from __future__ import annotations

import random

from synth.generate.catalog import list_catalog, load_sketch, sectors
from synth.generate.compose import choose_mechanisms, generate_spec, spec_yaml
from synth.generate.sketch import DomainSketch

__all__ = [
    "DomainSketch",
    "choose_mechanisms",
    "domain_for_index",
    "generate_spec",
    "list_catalog",
    "load_sketch",
    "sectors",
    "spec_yaml",
]


def domain_for_index(seed: int, i: int) -> tuple[str, int]:
    """The (sketch name, spec seed) of world ``i`` of a run seeded ``seed``.

    Worlds go round the catalog in a seed-shuffled order, so any N <= catalog size uses N
    different sketches; each later round reuses a sketch with a new spec seed (new variants).
    """
    if i < 0:
        raise ValueError(f"world index must be >= 0, got {i}")
    names = list_catalog()
    order = sorted(names, key=lambda n: random.Random(f"{seed}:order:{n}").random())
    rnd, pos = divmod(i, len(order))
    return order[pos], seed * 1000 + rnd
