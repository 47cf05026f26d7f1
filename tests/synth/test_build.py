"""World builds: every fixture builds, deterministically, with sound data."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from engine.world import World
from synth.build import build_world, check_database

ROOT = Path(__file__).resolve().parents[2]
DOMAINS = ROOT / "fixtures" / "domains"
ALL = ["tiny_shop", "airline", "retail", "bank"]


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


@pytest.mark.parametrize("domain", ALL)
def test_fixture_builds_sound_world(domain: str, tmp_path: Path) -> None:
    res = build_world(DOMAINS / f"{domain}.yaml", seed=7, rows=3000, out=tmp_path / domain, proctest=False)
    assert check_database(res.db_bytes, res.spec) == []
    world = World.load(res.path)
    counts = world.row_counts
    seeded = [t for t, e in res.spec.entities.items() if e.rows > 0]
    assert all(counts[t] > 0 for t in seeded), counts
    assert counts["alembic_version"] == 1, "the schema was built by the world's own migrations"
    assert any(p.startswith("migrations/versions/") for p in world.manifest["files"])


@pytest.mark.parametrize("domain", ALL)
def test_same_seed_same_bytes_other_seed_differs(domain: str, tmp_path: Path) -> None:
    spec = DOMAINS / f"{domain}.yaml"
    a = build_world(spec, seed=11, rows=2000, out=tmp_path / "a", proctest=False)
    b = build_world(spec, seed=11, rows=2000, out=tmp_path / "b", proctest=False)
    c = build_world(spec, seed=12, rows=2000, proctest=False)
    assert _sha(a.db_bytes) == _sha(b.db_bytes)
    for rel in a.files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    assert (tmp_path / "a" / "manifest.json").read_bytes() == (tmp_path / "b" / "manifest.json").read_bytes()
    assert _sha(c.db_bytes) != _sha(a.db_bytes)


def test_rows_scales_the_world(tmp_path: Path) -> None:
    small = build_world(DOMAINS / "tiny_shop.yaml", seed=1, rows=1000, proctest=False).world()
    big = build_world(DOMAINS / "tiny_shop.yaml", seed=1, rows=10000, proctest=False).world()
    s, b = sum(small.row_counts.values()), sum(big.row_counts.values())
    assert 900 <= s <= 1100
    assert 9000 <= b <= 11000
