"""The index advisor: no curated tool statement scans a table it must filter on.

Checked through SQLite's own query plans; the login lookups cost the same number of
SQLite steps whatever the world's size (a scan would grow with the users table).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from engine.spec.metadata import create_sqlite
from engine.spec.sql import parse_one_statement
from engine.spec.validate import load_spec
from engine.world import World
from synth.build import build_world
from synth.indexes import _aliases, advise, filters, plan, scanned, tool_statements
from synth.resources import resolve_spec

CURATED = ["retail", "airline", "bank", "tiny_shop"]


@pytest.mark.parametrize("domain", CURATED)
def test_no_statement_scans_a_table_it_must_filter_on(domain: str) -> None:
    spec, advice = advise(load_spec(resolve_spec(domain)))
    conn = sqlite3.connect(":memory:")
    create_sqlite(spec, conn)  # the schema the world gets: declared indexes included
    checked = 0
    for tool, where, sql in tool_statements(spec):
        tree = parse_one_statement(sql)
        must = {t for t, (_, _, filtered) in filters(tree, spec).items() if filtered}
        bad = scanned(plan(conn, sql), _aliases(tree, spec)) & must
        assert not bad, f"{domain}.{tool}.{where} scans {sorted(bad)}"
        checked += 1
    assert checked > 10
    for scan in advice.unfixed:  # only filters no index can serve are left, with the reason
        assert scan.reason and ("optional" in scan.reason or "LIKE" in scan.reason), scan


def test_retail_login_gets_an_expression_index() -> None:
    spec, advice = advise(load_spec(resolve_spec("retail")))
    assert "lower(email)" in spec.entities["users"].indexes
    fixed = {(s.tool, s.table): s.fixed_by for s in advice.scans}
    assert fixed[("find_user_id_by_email", "users")] == "lower(email)"
    again, more = advise(spec)  # declared indexes are kept, nothing is added twice
    assert again.entities["users"].indexes == spec.entities["users"].indexes and not more.added


def test_indexes_reach_migrations_and_pass_the_world_check(tmp_path: Path) -> None:
    out = tmp_path / "w"
    built = build_world("retail", rows=300, proctest=False, out=out)
    assert built.reports["indexes"].added["users"][0] == "lower(email)"
    world = World.load(out)  # compares the database with the spec's schema, indexes included
    names = {r[0] for r in world.session().conn.execute("SELECT name FROM world.sqlite_master")}
    assert "ix_users_x_lower_email" in names
    revisions = "".join(p.read_text() for p in (out / "migrations").rglob("*.py"))
    assert "lower(email)" in revisions


def _steps(db: bytes, sql: str, params: dict) -> int:
    conn = sqlite3.connect(":memory:")
    conn.deserialize(db)
    count = [0]

    def tick() -> int:
        count[0] += 1
        return 0

    conn.set_progress_handler(tick, 1)
    assert conn.execute(sql, params).fetchone() is not None
    return count[0]


def test_login_lookup_steps_do_not_grow_with_the_world() -> None:
    spec = load_spec(resolve_spec("retail"))
    query = spec.tools["find_user_id_by_email"].returns.query
    steps = {}
    for rows in (1000, 10000):
        db = build_world("retail", rows=rows, proctest=False).db_bytes
        conn = sqlite3.connect(":memory:")
        conn.deserialize(db)
        email = conn.execute("SELECT email FROM users ORDER BY user_id LIMIT 1").fetchone()[0]
        steps[rows] = _steps(db, query, {"email": email.upper()})
        conn.execute("DROP INDEX ix_users_x_lower_email")  # the control: without the index
        steps[(rows, "scan")] = _steps(conn.serialize(), query, {"email": email.upper()})
    assert steps[10000] <= steps[1000] * 1.5, steps
    assert steps[(10000, "scan")] > steps[(1000, "scan")] * 5, steps  # a scan grows
