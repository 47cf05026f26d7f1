"""Worlds passed between people and machines (issue 27): nothing is deleted that is not a
world, writers take turns, a crash leaves a world, and a tampered world does not load."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path

import pytest

from engine.errors import WorldError
from engine.spec.metadata import create_sqlite
from engine.spec.models import DomainSpec, read_spec_data
from engine.world import MANIFEST, World, write_world

ROOT = Path(__file__).resolve().parents[2]


def _spec() -> DomainSpec:
    return DomainSpec.model_validate(read_spec_data(ROOT / "fixtures/domains/tiny_shop.yaml"))


def _files(edit: str | None = None) -> dict[str, bytes]:
    spec = _spec()
    conn = sqlite3.connect(":memory:")
    create_sqlite(spec, conn)
    conn.execute(
        "INSERT INTO customers VALUES ('C0001', 'Ann', 'ann@example.com', 'gold', 10, NULL)"
    )
    if edit:
        conn.executescript(edit)
    conn.commit()
    return {"spec.yaml": spec.to_yaml().encode(), "world.sqlite": conn.serialize()}


def test_a_directory_that_is_not_a_world_is_never_replaced(tmp_path: Path) -> None:
    (tmp_path / "thesis.tex").write_text("years of work")
    with pytest.raises(WorldError, match="not a world; refusing"):
        write_world(tmp_path, _files(), {})
    assert (tmp_path / "thesis.tex").read_text() == "years of work"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "thesis.tex"
    ]


def test_a_world_is_replaced_only_when_asked(tmp_path: Path) -> None:
    write_world(tmp_path / "w", _files(), {"seed": 1})
    with pytest.raises(WorldError, match="already there"):
        write_world(tmp_path / "w", _files(), {"seed": 2}, overwrite=False)
    write_world(tmp_path / "w", _files(), {"seed": 2})
    assert World.load(tmp_path / "w").manifest["seed"] == 2


def test_concurrent_writers_take_turns(tmp_path: Path) -> None:
    errors: list[BaseException] = []

    def one(seed: int) -> None:
        try:
            write_world(tmp_path / "w", _files(), {"seed": seed})
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert World.load(tmp_path / "w").manifest["seed"] in range(12)
    assert [p.name for p in tmp_path.iterdir() if ".tmp." in p.name or ".old." in p.name] == []


def test_leftovers_of_a_killed_writer_are_recovered(tmp_path: Path) -> None:
    write_world(tmp_path / "w", _files(), {"seed": 1})
    dead = 2**22 + 12345  # no such process
    (tmp_path / "w").rename(tmp_path / f".w.old.{dead}")  # killed between the two renames
    (tmp_path / f".w.tmp.{dead}.abcd").mkdir()  # and an orphaned temporary directory
    write_world(tmp_path / "x", _files(), {"seed": 9})  # another target: untouched
    assert not (tmp_path / "w").exists()
    write_world(tmp_path / "w", _files(), {"seed": 2})
    assert World.load(tmp_path / "w").manifest["seed"] == 2
    assert not list(tmp_path.glob(f".w.*.{dead}*"))


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        ("CREATE TRIGGER keep AFTER UPDATE ON customers BEGIN SELECT 1; END;", "trigger"),
        ("CREATE VIEW v AS SELECT 1;", "view"),
        ("CREATE TABLE extra (x);", "table extra"),
        ("CREATE UNIQUE INDEX ix_evil ON customers (name);", "index ix_evil"),
    ],
)
def test_a_database_that_differs_from_its_spec_does_not_load(
    tmp_path: Path, edit: str, why: str
) -> None:
    write_world(tmp_path / "w", _files(edit), {})
    with pytest.raises(WorldError, match="does not match its spec") as info:
        World.load(tmp_path / "w")
    assert why in str(info.value) and "\n" not in str(info.value)


def test_a_dropped_check_does_not_load(tmp_path: Path) -> None:
    files = _files()
    conn = sqlite3.connect(":memory:")
    conn.deserialize(files["world.sqlite"])
    conn.execute("PRAGMA writable_schema = ON")
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'products'").fetchone()[0]
    weaker = sql.replace(", \n\tCONSTRAINT ck_products_price CHECK (price > 0)", "")
    assert weaker != sql
    conn.execute("UPDATE sqlite_master SET sql = ? WHERE name = 'products'", (weaker,))
    conn.commit()
    files["world.sqlite"] = conn.serialize()
    write_world(tmp_path / "w", files, {})
    with pytest.raises(WorldError, match="table products differs"):
        World.load(tmp_path / "w")


def test_a_database_without_tables_does_not_load(tmp_path: Path) -> None:
    files = _files()
    empty = sqlite3.connect(":memory:")
    empty.executescript("CREATE TABLE t (x); DROP TABLE t;")
    files["world.sqlite"] = empty.serialize()
    write_world(tmp_path / "w", files, {})
    with pytest.raises(WorldError, match="missing"):
        World.load(tmp_path / "w")


def _rewrite_manifest(d: Path, change) -> None:
    m = json.loads((d / MANIFEST).read_text())
    change(m)
    (d / MANIFEST).write_text(json.dumps(m))


def test_manifest_paths_stay_inside_the_world(tmp_path: Path) -> None:
    write_world(tmp_path / "w", _files(), {})
    _rewrite_manifest(
        tmp_path / "w",
        lambda m: m["files"].update({"../../etc/passwd": {"sha256": "0", "bytes": 1}}),
    )
    with pytest.raises(WorldError, match="outside the world directory"):
        World.load(tmp_path / "w")


def test_a_symlinked_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    d = write_world(tmp_path / "w", _files(), {})
    big = tmp_path / "sparse.bin"
    with open(big, "wb") as f:
        f.truncate(6 * 2**30)  # 6 GiB, sparse: reading it would take minutes and RAM
    os.replace(big, d / "tasks.bin")
    (d / "link.sqlite").symlink_to(d / "tasks.bin")
    _rewrite_manifest(d, lambda m: m["files"].update({"link.sqlite": {"sha256": "0", "bytes": 1}}))
    with pytest.raises(WorldError, match="symbolic link"):
        World.load(d)
    _rewrite_manifest(d, lambda m: m["files"].pop("link.sqlite"))
    _rewrite_manifest(d, lambda m: m["files"].update({"tasks.bin": {"sha256": "0", "bytes": 1}}))
    with pytest.raises(WorldError, match="truncated or edited"):
        World.load(d)
