"""World directories: atomic write, hash-verified load, clear refusal of damaged worlds."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from engine.errors import WorldError
from engine.spec.metadata import create_sqlite
from engine.spec.models import DomainSpec, read_spec_data
from engine.world import World, read_world_files, write_world

ROOT = Path(__file__).resolve().parents[2]


def _files() -> dict[str, bytes]:
    spec = DomainSpec.model_validate(read_spec_data(ROOT / "fixtures/domains/tiny_shop.yaml"))
    conn = sqlite3.connect(":memory:")
    create_sqlite(spec, conn)
    conn.execute(
        "INSERT INTO customers VALUES ('C0001', 'Ann Lee', 'ann@example.com', 'gold', 10, NULL)"
    )
    conn.commit()
    return {"spec.yaml": spec.to_yaml().encode(), "world.sqlite": conn.serialize()}


def test_write_then_load_round_trip(tmp_path: Path) -> None:
    out = write_world(tmp_path / "w", _files(), {"seed": 3})
    world = World.load(out)
    assert world.spec.name == "tiny_shop"
    assert world.manifest["seed"] == 3
    assert world.row_counts["customers"] == 1
    assert not list(tmp_path.glob(".w.*")), "no temporary directory is left behind"


def test_overwrite_replaces_whole_world(tmp_path: Path) -> None:
    files = _files()
    write_world(tmp_path / "w", {**files, "extra.json": b"{}"}, {})
    write_world(tmp_path / "w", files, {})
    assert not (tmp_path / "w" / "extra.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w"]


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(WorldError, match="stay inside"):
        write_world(tmp_path / "w", {**_files(), "../escape.txt": b"x"}, {})
    assert list(tmp_path.iterdir()) == []


def test_missing_required_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WorldError, match="world.sqlite"):
        write_world(tmp_path / "w", {"spec.yaml": b"name: x"}, {})
    assert not (tmp_path / "w").exists()


@pytest.mark.parametrize(
    ("damage", "phrase"),
    [
        (lambda p: p.write_bytes(p.read_bytes()[:-100]), "truncated"),
        (lambda p: p.write_bytes(p.read_bytes()[:-1] + b"\x01"), "SHA-256"),
        (lambda p: p.unlink(), "missing"),
    ],
    ids=["truncated", "edited", "deleted"],
)
def test_damaged_database_is_refused(tmp_path: Path, damage, phrase: str) -> None:
    out = write_world(tmp_path / "w", _files(), {})
    damage(out / "world.sqlite")
    with pytest.raises(WorldError, match=phrase) as info:
        World.load(out)
    assert "world.sqlite" in str(info.value)
    assert "\n" not in str(info.value)


def test_edited_spec_and_manifest_are_refused(tmp_path: Path) -> None:
    out = write_world(tmp_path / "w", _files(), {})
    spec = out / "spec.yaml"
    spec.write_text(spec.read_text().replace("tiny_shop", "tiny_shoq"))
    with pytest.raises(WorldError, match="spec.yaml"):
        World.load(out)
    (out / "manifest.json").write_text("{not json")
    with pytest.raises(WorldError, match="unreadable manifest"):
        read_world_files(out)


def test_not_a_world(tmp_path: Path) -> None:
    with pytest.raises(WorldError, match="no manifest.json"):
        World.load(tmp_path)
    with pytest.raises(WorldError, match="not a world directory"):
        World.load(tmp_path / "nope")
