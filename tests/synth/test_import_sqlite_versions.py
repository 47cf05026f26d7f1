"""One SQLite, everywhere: the runtime's results do not depend on the SQLite of the user's
Python. SQLite 3.4x changed round() (retail's seeded prices differed in the cents between
3.40 and 3.51) and 3.43 made SUM() a compensated sum (last-bit differences).
``engine.db.add_functions`` puts a deterministic round() on every connection; this test runs
every sql fill of the curated fixtures on the stdlib SQLite and on a second, newer one
(pysqlite3-binary, a dev dependency): every value is the same at its column's scale (what
the reward compares) and every round() result is the same exactly."""

from __future__ import annotations

import random
import sqlite3

import pytest

from engine.db import add_functions
from engine.spec.kinds import to_decimal
from synth.build import build_world

s3 = pytest.importorskip("pysqlite3.dbapi2")


def _fills(conn, spec) -> list:
    """(value at the column's scale, exact value if the fill rounds) of every sql fill."""
    out = []
    for table, entity in spec.entities.items():
        for col in entity.columns.values():
            if col.faker and col.faker.sql and col.type in ("decimal", "integer"):
                sql = f'SELECT ({col.faker.sql}) FROM "{table}" ORDER BY rowid'
                rounds = "round(" in col.faker.sql.lower()
                out += [
                    (to_decimal(r[0], col.scale), r[0] if rounds else None)
                    for r in conn.execute(sql)
                ]
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


def test_money_sums_differ_in_the_last_bits_only_and_round_is_one():
    rng = random.Random(7)
    prices = [(round(rng.uniform(0.01, 999.99), 2),) for _ in range(1000)]
    got = []
    for conn in (sqlite3.connect(":memory:"), s3.connect(":memory:")):
        conn.execute("CREATE TABLE t (x REAL)")
        conn.executemany("INSERT INTO t VALUES (?)", prices)
        plain = conn.execute("SELECT SUM(x), round(31.755, 2) FROM t").fetchone()
        add_functions(conn)
        fixed = conn.execute("SELECT SUM(x), round(31.755, 2) FROM t").fetchone()
        got.append((plain, fixed))
    (plain_a, fixed_a), (plain_b, fixed_b) = got
    if sqlite3.sqlite_version_info < (3, 43):
        assert plain_a != plain_b  # the host's SQLite disagrees with a modern one
    assert fixed_a[1] == fixed_b[1] == 31.75  # round(): one result everywhere
    assert to_decimal(fixed_a[0], 2) == to_decimal(fixed_b[0], 2)  # sums: equal in cents
