"""One SQLite, everywhere: the runtime's results do not depend on the SQLite of the user's
Python. SQLite 3.43 changed SUM() to compensated summation and 3.4x changed round(), so the
same fill or tool SQL gave other money on another host. ``engine.db.add_functions`` puts
deterministic round/sum/total/avg on every connection; this test runs every sql fill of the
curated fixtures on the stdlib SQLite and on a second, newer one (pysqlite3-binary, a dev
dependency) and requires identical values with the functions and shows they differ without."""

from __future__ import annotations

import sqlite3

import pytest

from engine.db import add_functions
from synth.build import build_world

s3 = pytest.importorskip("pysqlite3.dbapi2")


def _fills(conn, spec) -> list:
    out = []
    for table, entity in spec.entities.items():
        for col in entity.columns.values():
            if col.faker and col.faker.sql and col.type in ("decimal", "integer"):
                sql = f'SELECT ({col.faker.sql}) FROM "{table}" ORDER BY rowid'
                out += [r[0] for r in conn.execute(sql)]
    return out


@pytest.mark.parametrize("domain", ["tiny_shop", "retail", "bank"])
def test_fills_give_the_same_values_on_two_sqlite_versions(domain, tmp_path):
    assert s3.sqlite_version != sqlite3.sqlite_version  # two different SQLites
    built = build_world(domain, seed=0, proctest=False)
    path = tmp_path / "w.sqlite"
    path.write_bytes(built.db_bytes)
    ours = _fills(add_functions(sqlite3.connect(path)), built.spec)
    other = _fills(add_functions(s3.connect(str(path))), built.spec)
    assert len(ours) > 100 and ours == other


def test_without_the_functions_the_versions_differ():
    rows = [(v,) for v in [1e16, 1.0, -1e16, 0.1, 0.2, 0.3] * 3]
    got = []
    for conn in (sqlite3.connect(":memory:"), s3.connect(":memory:")):
        conn.execute("CREATE TABLE t (x REAL)")
        conn.executemany("INSERT INTO t VALUES (?)", rows)
        plain = conn.execute("SELECT SUM(x), round(31.755, 2) FROM t").fetchone()
        add_functions(conn)
        fixed = conn.execute("SELECT SUM(x), round(31.755, 2) FROM t").fetchone()
        got.append((plain, fixed))
    (plain_a, fixed_a), (plain_b, fixed_b) = got
    if sqlite3.sqlite_version_info < (3, 43):
        assert plain_a != plain_b  # the host's SQLite disagrees with a modern one
    assert fixed_a == fixed_b == (4.8, 31.75)
