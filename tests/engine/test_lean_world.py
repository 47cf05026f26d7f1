"""A lean world (``World(lean=True)``, procedural testing's): sessions add the changelog to
their own copy of the plain base bytes, and behave exactly as sessions of a world that keeps
an instrumented copy (issue 21: one database less in memory while building). So do the
sessions of a world on a file (``test_file_world.py``), tested here beside it."""

from __future__ import annotations

from pathlib import Path

import pytest
from tinyshop import note

import engine.session as session_mod
from engine.runtime.shared import shared_state
from engine.world import World


def lean(world: World) -> World:
    return World.from_parts(world.spec, world.base_bytes, lean=True)


def test_lean_world_keeps_no_instrumented_copy(tiny_world: World) -> None:
    world = lean(tiny_world)
    s = world.session()
    assert shared_state(world, session_mod.SCHEMA).base is world.base_bytes
    assert shared_state(tiny_world, session_mod.SCHEMA).base is not tiny_world.base_bytes
    names = {r[0] for r in s.conn.execute("SELECT name FROM world.sqlite_master")}
    assert "_scaleenv_undo_orders" in names  # the changelog, added in the session
    assert s.snapshot() == tiny_world.session().snapshot()  # the same bytes as the copy's


@pytest.fixture(params=["lean", "file"])
def other(request: pytest.FixtureRequest, tiny_world: World, tmp_path: Path) -> World:
    """The tiny world as a lean world, or as a world on a file (``World.from_file``, whose
    sessions copy the file page by page): each must behave as the instrumented one."""
    if request.param == "lean":
        return lean(tiny_world)
    path = tmp_path / "base.sqlite"
    path.write_bytes(tiny_world.base_bytes)
    return World.from_file(tiny_world.spec, path)


def test_sessions_match_instrumented_ones(
    tiny_world: World, other: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session_mod, "UNDO_LIMIT", 2)  # resets past it reload the base
    a, b = other.session(), tiny_world.session()
    fresh = b.state_hash()
    for s in (a, b):
        for i in range(3):
            note(s, f"n{i}", customer=f"C000{i + 1}")
    assert a.changes() == b.changes() and len(a.changes()) == 3
    assert a.state_hash() == b.state_hash() != fresh
    for _ in range(3):  # the base reloaded again and again (the DDL runs, the file is copied)
        a.reset()
        assert a.state_hash() == fresh and a.changes() == []
        for i in range(3):
            note(a, f"m{i}", customer=f"C000{i + 1}")
        assert len(a.changes()) == 3
    fresh_session = other.session()  # its own copy: not the one a has written
    assert fresh_session.state_hash() == fresh


def test_snapshot_restore_and_fork(tiny_world: World, other: World) -> None:
    s = other.session()
    note(s, "kept")
    snap = s.snapshot()
    note(s, "dropped")
    s.restore(snap)
    assert s.changes() == []
    forked = s.fork()
    note(forked, "forked")
    assert len(forked.changes()) == 1 and s.changes() == []
    s.restore(tiny_world.base_bytes)  # plain bytes from outside
    assert s.state_hash() == tiny_world.session().state_hash()
    note(s, "again")
    assert len(s.changes()) == 1
    s.reset()  # back to the world's own base (the lean bytes, the file's copy)
    assert s.state_hash() == tiny_world.session().state_hash() and s.changes() == []
