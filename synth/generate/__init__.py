"""Domains from scratch, offline: catalog sketches + a mechanism library -> DomainSpecs.

``generate_spec(load_sketch(name), seed)`` is a validated spec that builds like a curated
one; ``domain_for_index(seed, i)`` spreads N worlds over the catalog for ``scaleenv synth``.
"""

from __future__ import annotations

import random
from functools import lru_cache

from synth.generate.catalog import list_catalog, load_sketch, sectors
from synth.generate.compose import choose_mechanisms, compose, generate_spec, spec_yaml
from synth.generate.sketch import DomainSketch

__all__ = [
    "DomainSketch",
    "choose_mechanisms",
    "domain_for_index",
    "generate_spec",
    "list_catalog",
    "load_sketch",
    "sectors",
    "shape",
    "spec_yaml",
]


def domain_for_index(seed: int, i: int) -> tuple[str, int]:
    """The (sketch name, spec seed) of world ``i`` of a run seeded ``seed``.

    Worlds go round the catalog in a seed-shuffled order, so any N <= catalog size uses N
    different sketches; each later round reuses a sketch with a spec seed whose shape
    (mechanism set, table names) no earlier round of that sketch has, so no two worlds of
    a run share (sector, mechanisms, tables) as long as a sketch has shapes left.
    """
    if i < 0:
        raise ValueError(f"world index must be >= 0, got {i}")
    order = _order(seed)
    rnd, pos = divmod(i, len(order))
    name = order[pos]
    return name, _spec_seeds(seed, name, rnd + 1)[rnd]


@lru_cache(maxsize=8)
def _order(seed: int) -> tuple[str, ...]:
    return tuple(sorted(list_catalog(), key=lambda n: random.Random(f"{seed}:order:{n}").random()))


def shape(name: str, spec_seed: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """What makes two worlds of one sketch alike: their mechanisms and table names."""

    b = compose(load_sketch(name), spec_seed)
    return tuple(b.mechanisms), tuple(sorted(b.entities))


SEED_TRIES = 100


@lru_cache(maxsize=4096)
def _spec_seeds(seed: int, name: str, rounds: int) -> tuple[int, ...]:
    """Spec seeds of the first ``rounds`` rounds of sketch ``name``: the first candidate of
    each round whose shape is new (deterministic; a sketch out of shapes repeats one)."""
    if rounds == 0:
        return ()
    prev = _spec_seeds(seed, name, rounds - 1)
    seen = {shape(name, s) for s in prev}
    r = rounds - 1
    first = seed * 100_000 + r * SEED_TRIES
    for k in range(SEED_TRIES):
        if shape(name, first + k) not in seen:
            return (*prev, first + k)
    return (*prev, first)
