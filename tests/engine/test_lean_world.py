"""A lean world (``World(lean=True)``, procedural testing's): sessions add the changelog to
their own copy of the plain base bytes, and behave exactly as sessions of a world that keeps
an instrumented copy (issue 21: one database less in memory while building)."""

from __future__ import annotations

import pytest

import engine.session as session_mod
from engine.runtime.shared import shared_state
from engine.session import Session
from engine.world import World


def lean(world: World) -> World:
    return World.from_parts(world.spec, world.base_bytes, lean=True)


def note(s: Session, text: str, customer: str = "C0002") -> None:
    assert s.call("add_customer_note", {"customer_id": customer, "note": text}).ok


def test_lean_world_keeps_no_instrumented_copy(tiny_world: World) -> None:
    world = lean(tiny_world)
    s = world.session()
    assert shared_state(world, session_mod.SCHEMA).base is world.base_bytes
    assert shared_state(tiny_world, session_mod.SCHEMA).base is not tiny_world.base_bytes
    names = {r[0] for r in s.conn.execute("SELECT name FROM world.sqlite_master")}
    assert "_scaleenv_undo_orders" in names  # the changelog, added in the session
    assert s.snapshot() == tiny_world.session().snapshot()  # the same bytes as the copy's


def test_lean_sessions_match_instrumented_ones(
    tiny_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session_mod, "UNDO_LIMIT", 2)  # resets past it reload the base
    a, b = lean(tiny_world).session(), tiny_world.session()
    fresh = b.state_hash()
    for s in (a, b):
        for i in range(3):
            note(s, f"n{i}", customer=f"C000{i + 1}")
    assert a.changes() == b.changes() and len(a.changes()) == 3
    assert a.state_hash() == b.state_hash() != fresh
    for _ in range(3):  # the base reloaded again and again: the DDL runs each time
        a.reset()
        assert a.state_hash() == fresh and a.changes() == []
        for i in range(3):
            note(a, f"m{i}", customer=f"C000{i + 1}")
        assert len(a.changes()) == 3


def test_lean_snapshot_restore_and_fork(tiny_world: World) -> None:
    s = lean(tiny_world).session()
    note(s, "kept")
    snap = s.snapshot()
    note(s, "dropped")
    s.restore(snap)
    assert s.changes() == []
    other = s.fork()
    note(other, "forked")
    assert len(other.changes()) == 1 and s.changes() == []
    s.restore(tiny_world.base_bytes)  # plain bytes from outside
    assert s.state_hash() == tiny_world.session().state_hash()
    note(s, "again")
    assert len(s.changes()) == 1
