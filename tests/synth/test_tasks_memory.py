"""Task generation keeps its memos bounded (issue 21: memory flat in the number of tasks):
the world's start-patch caches and the sampler's base-state lookups hold at most their
bound, however many tasks are made, and a bound only changes what is recomputed, never the
tasks."""

from __future__ import annotations

import pytest

import engine.runtime.shared as shared_mod
import synth.tasks.context as context
from engine.runtime.lru import Lru
from engine.runtime.shared import shared_state
from synth.build import build_world
from synth.graph import build_graph
from synth.tasks import generate_tasks
from synth.tasks.context import Ctx

BOUND = 4


def test_lru_drops_the_least_recently_used() -> None:
    lru: Lru[str, int | None] = Lru(2)
    lru["a"], lru["b"] = 1, None
    assert lru.get("a") == 1  # "a" is now the most recent
    lru["c"] = 3
    assert "b" not in lru and len(lru) == 2
    assert lru.get("b", -1) == -1 and lru["c"] == 3 and lru["a"] == 1
    lru["d"] = 4  # "a" was read after "c": "c" goes
    assert "c" not in lru and "a" in lru
    lru.resize(1)  # the least recently used go now
    assert len(lru) == 1 and "d" in lru
    with pytest.raises(ValueError, match="at least 1"):
        Lru(0)


def test_generation_keeps_its_caches_bounded_and_its_tasks(domains_dir, monkeypatch) -> None:
    spec = domains_dir / "tiny_shop.yaml"
    free = generate_tasks(build_world(spec, seed=1, proctest=False).world(), n=12, seed=0)

    world = build_world(spec, seed=1, proctest=False).world()
    shared = shared_state(world)  # the one generation's sessions share
    caches = (shared.patches, shared.compiled, shared.digests)
    monkeypatch.setattr(shared_mod, "SCRATCH_PATCHES", BOUND)
    monkeypatch.setattr(shared_mod, "SCRATCH_DIGESTS", BOUND)
    monkeypatch.setattr(context, "LINKS", BOUND)
    monkeypatch.setattr(context, "OWNERS", BOUND)
    held: list[int] = []  # the most any cache held, after each shipped task

    def progress(done: int, n: int) -> None:
        held.append(max(len(c) for c in caches))

    small = generate_tasks(world, n=12, seed=0, progress=progress)

    assert len(small.tasks) == 12 and len(held) == 12
    assert shared_state(world) is shared
    assert 0 < max(held) <= BOUND
    assert all(0 < len(c) <= BOUND for c in caches)
    patches = {shared.digest(t) for t in small.tasks if t.start_patch}
    assert len(patches) > BOUND, "more start patches than the bound were entered"
    # sessions after the run (training) have the full caches again
    assert [c.limit for c in caches] == [shared_mod.PATCHES] * 2 + [shared_mod.DIGESTS]
    assert small.to_jsonl() == free.to_jsonl()
    assert small.report["policies"] == free.report["policies"]


def test_the_samplers_base_lookups_are_bounded(domains_dir) -> None:
    world = build_world(domains_dir / "tiny_shop.yaml", seed=1, proctest=False).world()
    ctx = Ctx(world, build_graph(world.spec), 0)
    ctx.links.limit = ctx._owners.limit = BOUND
    table = ctx.info.user_table
    pk = ctx.info.pk(table)[0]
    keys = [ctx.key_dict(table, k) for k in ctx.keys(table)]
    assert len(keys) > BOUND
    first = [ctx.related(table, key, f"{table}.{pk}") for key in keys]
    owners = [ctx.owners(f"{table}.{pk}", key[pk]) for key in keys]
    assert len(ctx.links) == BOUND and len(ctx._owners) == BOUND
    # dropped lookups are made again, the same
    assert [ctx.related(table, key, f"{table}.{pk}") for key in keys] == first
    assert [ctx.owners(f"{table}.{pk}", key[pk]) for key in keys] == owners
    assert first[0] == [(keys[0][pk], 0, pk)]


def test_the_screen_memo_holds_only_the_current_states_entries(domains_dir) -> None:
    world = build_world(domains_dir / "tiny_shop.yaml", seed=1, proctest=False).world()
    ctx = Ctx(world, build_graph(world.spec), 0)
    ctx.at(ctx.base)
    ctx.memo[(ctx.token, "screen")] = ["kept while the state is entered again"]
    ctx.at(ctx.base)  # the same state object: its entries stay
    assert len(ctx.memo) == 1
    ctx.at(ctx.state([]))  # another state: the old token never comes back
    assert ctx.memo == {}
