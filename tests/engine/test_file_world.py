"""A world whose base stays in a file (``World.from_file``, a build's procedural testing):
its sessions copy the file page by page and behave exactly as sessions of a world that holds
the same bytes (``test_lean_world.py`` runs its sessions beside a lean world's); the world
keeps no bytes of its own (issue 21: one database in memory)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tinyshop import note

import engine.session as session_mod
from engine.db import table_counts
from engine.errors import WorldError
from engine.runtime.filebase import FileBase
from engine.runtime.shared import shared_state
from engine.world import World, write_world


def on_file(world: World, tmp_path: Path, name: str = "base.sqlite") -> World:
    path = tmp_path / name
    path.write_bytes(world.base_bytes)
    return World.from_file(world.spec, path)


def test_file_world_holds_no_bytes(tiny_world: World, tmp_path: Path) -> None:
    world = on_file(tiny_world, tmp_path)
    assert world.lean and isinstance(shared_state(world, session_mod.SCHEMA).base, FileBase)
    assert world._base_bytes == b""  # nothing kept: read from the file when asked
    assert world.base_bytes == tiny_world.base_bytes
    assert world.row_counts == tiny_world.row_counts and sum(world.row_counts.values()) > 0
    s = world.session()
    names = {r[0] for r in s.conn.execute("SELECT name FROM world.sqlite_master")}
    assert "_scaleenv_undo_orders" in names  # the changelog, added in the session
    assert s.state_hash() == tiny_world.session().state_hash()


def test_a_missing_file_is_an_error_and_the_session_keeps_a_schema(
    tiny_world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = on_file(tiny_world, tmp_path).session()
    monkeypatch.setattr(session_mod, "UNDO_LIMIT", 0)  # the reset reloads the base
    note(s, "x")
    (tmp_path / "base.sqlite").unlink()
    with pytest.raises(WorldError, match="base.sqlite: cannot copy the world's base"):
        s.reset()
    assert s.conn.execute("SELECT COUNT(*) FROM world.sqlite_master").fetchone() == (0,)


def test_manifest_rows_are_counted_in_the_written_file(tiny_world: World, tmp_path: Path) -> None:
    files = {"spec.yaml": b"name: x\n", "world.sqlite": tiny_world.base_bytes}
    out = write_world(tmp_path / "w", files, {"seed": 0})
    rows = json.loads((out / "manifest.json").read_text())["rows"]
    assert rows == table_counts(tiny_world.base_bytes) and sum(rows.values()) > 0
