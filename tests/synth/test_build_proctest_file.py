"""A build tests its tools on the seeded file, not on the database's bytes (issue 21: one
copy of the database in memory): the same report, byte for byte, as procedural testing on
the bytes, and the same world files build after build."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import synth.build as build
from synth.build import build_world
from synth.proctest.run import run_proctest


@pytest.mark.parametrize(("domain", "fuzz"), [("retail", 0), ("airline", 0), ("tiny_shop", 300)])
def test_proctest_on_the_seeded_file_reports_as_on_the_bytes(
    domain: str, fuzz: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    given: list[Any] = []
    real = build.run_proctest

    def recording(spec: Any, db: Any, **kw: Any) -> Any:
        given.append(db)
        return real(spec, db, **kw)

    monkeypatch.setattr(build, "run_proctest", recording)
    res = build_world(domain, seed=3, rows=2000, fuzz_steps=fuzz)
    assert len(given) == 1 and isinstance(given[0], Path), "proctest reads the seeded file"
    assert not given[0].exists(), "the scratch file is gone after the build"
    on_bytes = run_proctest(res.spec, res.db_bytes, seed=3, fuzz_steps=fuzz)
    assert sum(on_bytes.totals().values()) > 100
    assert (fuzz > 0) == (on_bytes.fuzz is not None)
    assert res.files["proctest.json"] == on_bytes.to_json().encode()


def test_builds_with_proctest_write_the_same_files(tmp_path: Path) -> None:
    a = build_world("retail", seed=5, rows=3000, out=tmp_path / "a", tasks=2)
    build_world("retail", seed=5, rows=3000, out=tmp_path / "b", tasks=2)
    assert {"proctest.json", "world.sqlite", "tasks.jsonl"} <= set(a.files)
    assert a.db_bytes == (tmp_path / "a" / "world.sqlite").read_bytes()
    names = sorted(
        p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()
    )
    assert len(names) == len(a.files) + 1  # and the manifest
    for rel in names:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
