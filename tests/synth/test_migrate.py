"""Alembic chains from specs: schema parity, determinism, evolution keeps rows, PostgreSQL."""

from __future__ import annotations

import copy
import json
import sqlite3
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from engine.spec.metadata import create_sqlite
from engine.spec.models import DomainSpec
from engine.world import DB_FILE, SPEC_FILE, read_world_files, write_world
from synth.migrate.apply import (
    create_world_db,
    downgrade,
    downgrade_world,
    head,
    initial_revision,
    migrate_world,
    new_revision,
    upgrade,
)
from synth.migrate.revisions import MigrationError

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "fixtures" / "domains" / "tiny_shop.yaml"

ROWS: dict[str, list[dict[str, Any]]] = {
    "customers": [
        {
            "customer_id": "C0001",
            "name": "Ann Lee",
            "email": "ann@x.org",
            "tier": "gold",
            "balance": 10.5,
            "note": None,
        },
        {
            "customer_id": "C0002",
            "name": "Bo O'Neil",
            "email": "bo@x.org",
            "tier": "regular",
            "balance": 0,
            "note": "vip",
        },
    ],
    "products": [
        {"product_id": "P001", "title": "Red ball", "price": 9.99, "stock": 5},
        {"product_id": "P002", "title": "Kite", "price": 5, "stock": 0},
    ],
    "orders": [
        {
            "order_id": "#W0001",
            "customer_id": "C0001",
            "status": "pending",
            "created_at": "2024-05-01 10:00:00",
            "total": 19.98,
        },
        {
            "order_id": "#W0002",
            "customer_id": "C0002",
            "status": "delivered",
            "created_at": "2024-04-01 09:30:00",
            "total": 5,
        },
    ],
    "order_items": [
        {
            "item_id": 1,
            "order_id": "#W0001",
            "product_id": "P001",
            "quantity": 2,
            "unit_price": 9.99,
        },
        {"item_id": 2, "order_id": "#W0002", "product_id": "P002", "quantity": 1, "unit_price": 5},
    ],
    "payments": [
        {"payment_id": "PAY00001", "order_id": "#W0001", "method": "card", "amount": 19.98},
        {"payment_id": "PAY00002", "order_id": "#W0002", "method": "gift_card", "amount": 5},
    ],
    "refunds": [
        {
            "refund_id": "RF00001",
            "payment_id": "PAY00002",
            "amount": 5,
            "created_at": "2024-04-02 08:00:00",
        },
    ],
}


def tiny_data() -> dict[str, Any]:
    return yaml.safe_load(TINY.read_text())


def spec_of(data: dict[str, Any]) -> DomainSpec:
    return DomainSpec.model_validate(data)


def evolved_data() -> dict[str, Any]:
    """tiny_shop plus: a nullable column, NOT NULL columns (default / derived fill), a new
    table with FKs, and a widened enum."""
    d = copy.deepcopy(tiny_data())
    customers = d["entities"]["customers"]["columns"]
    customers["tier"]["values"] = ["regular", "gold", "platinum"]
    customers["loyalty_code"] = {"type": "string", "nullable": True, "max_length": 20}
    customers["referrer_id"] = {
        "type": "string",
        "nullable": True,
        "references": "customers.customer_id",
    }
    products = d["entities"]["products"]["columns"]
    products["active"] = {"type": "boolean", "default": True}
    products["category"] = {"type": "enum", "values": ["misc", "toys"]}
    d["entities"]["reviews"] = {
        "columns": {
            "review_id": {"type": "integer", "primary_key": True},
            "product_id": {"type": "string", "references": "products.product_id"},
            "customer_id": {"type": "string", "references": "customers.customer_id"},
            "stars": {"type": "integer", "check": "stars BETWEEN 1 AND 5"},
        }
    }
    return d


@pytest.fixture(scope="module")
def old_spec() -> DomainSpec:
    return spec_of(tiny_data())


@pytest.fixture(scope="module")
def new_spec() -> DomainSpec:
    return spec_of(evolved_data())


@pytest.fixture(scope="module")
def chain(old_spec: DomainSpec, new_spec: DomainSpec) -> dict[str, bytes]:
    return new_revision(old_spec, new_spec, initial_revision(old_spec))


def insert_rows(conn: sqlite3.Connection | sa.Connection) -> None:
    for table, rows in ROWS.items():
        for row in rows:
            cols = ", ".join(row)
            if isinstance(conn, sqlite3.Connection):
                conn.execute(
                    f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(row))})",
                    list(row.values()),
                )
            else:
                conn.execute(
                    sa.text(
                        f"INSERT INTO {table} ({cols}) VALUES ({', '.join(':' + c for c in row)})"
                    ),
                    row,
                )


def old_columns(conn: sqlite3.Connection | sa.Connection) -> dict[str, list[tuple]]:
    """Every original row, restricted to the original columns, in key order."""
    out = {}
    for table, rows in ROWS.items():
        cols = ", ".join(rows[0])
        sql = f"SELECT {cols} FROM {table} ORDER BY 1"
        res = (
            conn.execute(sql)
            if isinstance(conn, sqlite3.Connection)
            else conn.execute(sa.text(sql))
        )
        out[table] = [tuple(map(_norm, r)) for r in res]
    return out


def _norm(v: Any) -> Any:
    """One representation for SQLite and PostgreSQL values (numbers, timestamps)."""
    if isinstance(v, int | float | Decimal):
        return float(v)
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    return v


def expected_old_columns() -> dict[str, list[tuple]]:
    return {t: sorted(tuple(map(_norm, r.values())) for r in rows) for t, rows in ROWS.items()}


def db_with_rows(spec: DomainSpec, files: dict[str, bytes], path: Path) -> Path:
    path.write_bytes(create_world_db(spec, files))
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys=ON")
    insert_rows(conn)
    conn.commit()
    conn.close()
    return path


def schema_facts(bind: sa.Engine | sa.Connection) -> dict[str, Any]:
    """Names and shapes of everything in a schema (column order and DDL text ignored)."""
    insp = sa.inspect(bind)
    facts: dict[str, Any] = {}
    for t in sorted(insp.get_table_names()):
        if t == "alembic_version":
            continue
        facts[t] = {
            "columns": sorted(
                (c["name"], str(c["type"]), c["nullable"], c["default"])
                for c in insp.get_columns(t)
            ),
            "pk": (
                insp.get_pk_constraint(t)["name"],
                insp.get_pk_constraint(t)["constrained_columns"],
            ),
            "fks": sorted(
                (
                    f["name"],
                    tuple(f["constrained_columns"]),
                    f["referred_table"],
                    (f.get("options") or {}).get("ondelete"),
                )
                for f in insp.get_foreign_keys(t)
            ),
            "uniques": sorted(
                (u["name"], tuple(u["column_names"])) for u in insp.get_unique_constraints(t)
            ),
            "checks": sorted((c["name"], c["sqltext"]) for c in insp.get_check_constraints(t)),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]))
                for i in insp.get_indexes(t)
                if not i.get("duplicates_constraint")  # PostgreSQL: a unique's own index
            ),
        }
    return facts


def sqlite_facts(path_or_conn: Path | sqlite3.Connection) -> dict[str, Any]:
    if isinstance(path_or_conn, sqlite3.Connection):
        conn = path_or_conn
        engine = sa.create_engine("sqlite://", creator=lambda: conn, poolclass=sa.pool.StaticPool)
    else:
        engine = sa.create_engine(f"sqlite:///{path_or_conn}", poolclass=sa.pool.NullPool)
    try:
        return schema_facts(engine)
    finally:
        engine.dispose()


def reference_facts(spec: DomainSpec) -> dict[str, Any]:
    conn = sqlite3.connect(":memory:")
    create_sqlite(spec, conn)
    return sqlite_facts(conn)


def version_of(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    finally:
        conn.close()


# ---- SQLite -----------------------------------------------------------------------------


def test_initial_chain_builds_the_spec_schema(old_spec: DomainSpec, tmp_path: Path) -> None:
    files = initial_revision(old_spec)
    (rel,) = files
    assert rel.startswith("migrations/versions/0001_") and rel.endswith(".py")
    db = tmp_path / "w.sqlite"
    db.write_bytes(create_world_db(old_spec, files))
    assert sqlite_facts(db) == reference_facts(old_spec)
    assert version_of(db) == head(files).rev
    assert b"Create Date" not in files[rel]


def test_revisions_and_databases_are_deterministic(
    old_spec: DomainSpec, new_spec: DomainSpec
) -> None:
    a, b = initial_revision(old_spec), initial_revision(spec_of(tiny_data()))
    assert a == b
    assert create_world_db(old_spec, a) == create_world_db(old_spec, b)
    c1 = new_revision(old_spec, new_spec, a)
    c2 = new_revision(spec_of(tiny_data()), spec_of(evolved_data()), b)
    assert c1 == c2 and len(c1) == 2
    assert create_world_db(new_spec, c1) == create_world_db(new_spec, c2)


def test_evolution_keeps_rows_and_downgrade_restores(
    old_spec: DomainSpec, new_spec: DomainSpec, chain: dict[str, bytes], tmp_path: Path
) -> None:
    first = initial_revision(old_spec)
    db = db_with_rows(old_spec, first, tmp_path / "w.sqlite")
    upgrade(db, chain)
    assert version_of(db) == head(chain).rev
    facts = sqlite_facts(db)
    assert facts == reference_facts(new_spec)  # same names, types, constraints as a fresh build
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA foreign_keys=ON")
    assert old_columns(conn) == expected_old_columns()
    assert (
        conn.execute("SELECT active, category FROM products ORDER BY 1").fetchall()
        == [(1, "misc")] * 2
    )
    assert conn.execute("SELECT COUNT(*) FROM customers WHERE loyalty_code IS NULL").fetchone() == (
        2,
    )
    conn.execute(
        "INSERT INTO customers VALUES ('C0003', 'Cy', 'cy@x.org', 'platinum', 1, NULL, 'L-1', 'C0001')"
    )
    conn.execute("INSERT INTO reviews VALUES (1, 'P001', 'C0003', 5)")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO reviews VALUES (2, 'P001', 'C0003', 9)")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO products (product_id, title, price, stock) VALUES ('P9', 't', 1, 1)"
        )
    conn.commit()

    # the narrow enum cannot come back while a platinum customer exists
    with pytest.raises(MigrationError, match="downgrade"):
        downgrade(db, chain, head(first).rev)
    assert version_of(db) == head(chain).rev  # the failed run changed nothing
    assert sqlite_facts(db) == facts
    conn.execute("DELETE FROM reviews")
    conn.execute("DELETE FROM customers WHERE customer_id = 'C0003'")
    conn.commit()
    conn.close()

    downgrade(db, chain, head(first).rev)
    assert version_of(db) == head(first).rev
    assert sqlite_facts(db) == reference_facts(old_spec)
    conn = sqlite3.connect(db)
    assert old_columns(conn) == expected_old_columns()
    with pytest.raises(sqlite3.IntegrityError, match="ck_customers_tier_enum"):
        conn.execute(
            "INSERT INTO customers VALUES ('C0004', 'Di', 'di@x.org', 'platinum', 1, NULL)"
        )
    conn.close()

    upgrade(db, chain)  # and forward again
    conn = sqlite3.connect(db)
    assert old_columns(conn) == expected_old_columns()
    conn.close()


def test_downgrade_to_base_empties_the_database(chain: dict[str, bytes], tmp_path: Path) -> None:
    db = tmp_path / "w.sqlite"
    upgrade(db, chain)
    downgrade(db, chain, "base")
    assert sqlite_facts(db) == {}


def test_new_revision_refusals(old_spec: DomainSpec, new_spec: DomainSpec) -> None:
    first = initial_revision(old_spec)
    with pytest.raises(MigrationError, match="did not change"):
        new_revision(old_spec, spec_of(tiny_data()), first)
    with pytest.raises(MigrationError, match="another schema"):
        new_revision(new_spec, old_spec, first)
    d = tiny_data()
    d["entities"]["orders"]["columns"]["product_id"] = {
        "type": "string",
        "references": "products.product_id",
    }
    with pytest.raises(MigrationError, match=r"^orders\.product_id: .*default"):
        new_revision(old_spec, spec_of(d), first)
    with pytest.raises(MigrationError, match="head does not build"):
        create_world_db(new_spec, first)
    broken = {k.replace("0001_", "0002_"): v for k, v in first.items()}
    with pytest.raises(MigrationError, match="breaks the chain"):
        upgrade(":memory:", broken)


def test_change_a_column_and_drop_things(old_spec: DomainSpec, tmp_path: Path) -> None:
    """Type/nullability/default changes, a dropped column and a dropped table keep rows."""
    d = tiny_data()
    cols = d["entities"]["customers"]["columns"]
    cols["name"]["max_length"] = 80  # VARCHAR(255) -> VARCHAR(80)
    cols["email"]["unique"] = False  # drop a unique constraint
    cols["balance"]["default"] = 0
    cols["note"]["nullable"] = False  # NULL notes become ''
    del d["entities"]["orders"]["columns"]["total"]
    del d["entities"]["refunds"]
    spec = spec_of(d)
    first = initial_revision(old_spec)
    files = new_revision(old_spec, spec, first)
    db = db_with_rows(old_spec, first, tmp_path / "w.sqlite")
    upgrade(db, files)
    assert sqlite_facts(db) == reference_facts(spec)
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT customer_id, note FROM customers ORDER BY 1").fetchall() == [
        ("C0001", ""),
        ("C0002", "vip"),
    ]
    assert conn.execute("SELECT COUNT(*) FROM orders").fetchone() == (2,)
    conn.close()

    downgrade(db, files, head(first).rev)  # total comes back filled with 0, refunds empty
    assert sqlite_facts(db) == reference_facts(old_spec)
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT order_id, total FROM orders ORDER BY 1").fetchall() == [
        ("#W0001", 0),
        ("#W0002", 0),
    ]
    assert conn.execute("SELECT COUNT(*) FROM refunds").fetchone() == (0,)
    assert conn.execute("SELECT note FROM customers ORDER BY 1").fetchall() == [("",), ("vip",)]
    conn.close()


def test_migrate_world_round_trip(
    old_spec: DomainSpec, new_spec: DomainSpec, tmp_path: Path
) -> None:
    first = initial_revision(old_spec)
    db = db_with_rows(old_spec, first, tmp_path / "seed.sqlite").read_bytes()
    report = json.dumps({"tools": {}}).encode()
    files = {SPEC_FILE: old_spec.to_yaml().encode(), DB_FILE: db, "proctest.json": report, **first}
    world = write_world(tmp_path / "tiny_shop-0", files, {"domain": "tiny_shop", "seed": 7})

    assert migrate_world(world, new_spec) == world
    manifest, out = read_world_files(world)
    assert manifest["seed"] == 7 and manifest["domain"] == "tiny_shop"
    assert out["proctest.json"] == report
    assert spec_of(yaml.safe_load(out[SPEC_FILE])) == new_spec
    revs = sorted(k for k in out if k.startswith("migrations/versions/"))
    assert len(revs) == 2 and manifest["migration_head"] == head(out).rev
    path = tmp_path / "after.sqlite"
    path.write_bytes(out[DB_FILE])
    assert version_of(path) == head(out).rev
    assert manifest["rows"]["reviews"] == 0 and manifest["rows"]["orders"] == 2
    assert old_columns(sqlite3.connect(path)) == expected_old_columns()
    with pytest.raises(MigrationError, match="did not change"):
        migrate_world(world, new_spec)

    downgrade_world(world, old_spec)
    manifest, back = read_world_files(world)
    assert sorted(k for k in back if k.startswith("migrations/")) == sorted(first)
    assert spec_of(yaml.safe_load(back[SPEC_FILE])) == old_spec
    path.write_bytes(back[DB_FILE])
    assert version_of(path) == head(first).rev
    assert old_columns(sqlite3.connect(path)) == expected_old_columns()
    assert sqlite_facts(path) == reference_facts(old_spec)


def test_migrate_world_needs_a_db_at_the_head(
    old_spec: DomainSpec, new_spec: DomainSpec, tmp_path: Path
) -> None:
    conn = sqlite3.connect(":memory:")
    create_sqlite(old_spec, conn)  # a schema not made by migrations: no alembic_version
    files = {
        SPEC_FILE: old_spec.to_yaml().encode(),
        DB_FILE: conn.serialize(),
        **initial_revision(old_spec),
    }
    world = write_world(tmp_path / "w", files, {})
    with pytest.raises(MigrationError, match="no alembic_version"):
        migrate_world(world, new_spec)


@pytest.mark.parametrize(
    "path", sorted((ROOT / "fixtures" / "domains").glob("*.yaml")), ids=lambda p: p.stem
)
def test_every_fixture_chain_builds_its_schema(path: Path, tmp_path: Path) -> None:
    spec = spec_of(yaml.safe_load(path.read_text()))
    db = tmp_path / "w.sqlite"
    db.write_bytes(create_world_db(spec, initial_revision(spec)))
    assert sqlite_facts(db) == reference_facts(spec)


# ---- PostgreSQL -------------------------------------------------------------------------


@pytest.mark.postgres
def test_chain_runs_on_postgres(
    postgres_db_url: str, old_spec: DomainSpec, new_spec: DomainSpec, chain: dict[str, bytes]
) -> None:
    first = initial_revision(old_spec)
    upgrade(postgres_db_url, first)
    engine = sa.create_engine(postgres_db_url, poolclass=sa.pool.NullPool)
    try:
        facts = schema_facts(engine)
        ref = reference_facts(old_spec)
        assert sorted(facts) == sorted(ref)
        for t, f in facts.items():  # names agree; types and DDL text are PostgreSQL's own
            for kind in ("fks", "uniques", "indexes"):
                assert [x[0] for x in f[kind]] == [x[0] for x in ref[t][kind]], (t, kind)
            assert [c[0] for c in f["checks"]] == [c[0] for c in ref[t]["checks"]], t
            assert f["pk"] == ref[t]["pk"]
            assert [c[0] for c in f["columns"]] == [c[0] for c in ref[t]["columns"]]
        with engine.begin() as conn:
            insert_rows(conn)

        upgrade(postgres_db_url, chain)
        with engine.begin() as conn:
            assert old_columns(conn) == expected_old_columns()
            assert (
                conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
                == head(chain).rev
            )
            assert conn.execute(
                sa.text("SELECT DISTINCT active, category FROM products")
            ).all() == [(True, "misc")]
            conn.execute(
                sa.text(
                    "INSERT INTO customers VALUES ('C0003', 'Cy', 'cy@x.org', 'platinum', 1, NULL, 'L', 'C0002')"
                )
            )
            conn.execute(sa.text("INSERT INTO reviews VALUES (1, 'P001', 'C0003', 5)"))
        assert {c[0] for c in schema_facts(engine)["reviews"]["checks"]} == {"ck_reviews_stars"}
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM reviews"))
            conn.execute(sa.text("DELETE FROM customers WHERE customer_id = 'C0003'"))

        downgrade(postgres_db_url, chain, head(first).rev)
        assert "reviews" not in schema_facts(engine)
        with engine.begin() as conn:
            assert old_columns(conn) == expected_old_columns()
        # PostgreSQL enforces the VARCHAR length before the check; both came back narrow
        with pytest.raises((sa.exc.IntegrityError, sa.exc.DataError)), engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO customers VALUES ('C0004', 'Di', 'di@x.org', 'platinum', 1, NULL)"
                )
            )
        checks = dict(schema_facts(engine)["customers"]["checks"])
        assert "'gold'" in checks["ck_customers_tier_enum"]
        assert "platinum" not in checks["ck_customers_tier_enum"]
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize(
    "path", sorted((ROOT / "fixtures" / "domains").glob("*.yaml")), ids=lambda p: p.stem
)
def test_every_fixture_chain_runs_on_postgres(path: Path, postgres_db_url: str) -> None:
    """Spec CHECKs are SQLite SQL; a fixture whose checks PostgreSQL can't parse fails here."""
    spec = spec_of(yaml.safe_load(path.read_text()))
    files = initial_revision(spec)
    upgrade(postgres_db_url, files)
    engine = sa.create_engine(postgres_db_url, poolclass=sa.pool.NullPool)
    try:
        assert sorted(schema_facts(engine)) == sorted(spec.entities)
    finally:
        engine.dispose()
    downgrade(postgres_db_url, files, "base")


def test_migrate_never_runs_python_carried_by_the_world(
    old_spec: DomainSpec, new_spec: DomainSpec, tmp_path: Path
) -> None:
    """Issue 27 item 3: revision scripts in a world are data. An attacker who can write the
    directory (and recompute its unkeyed hashes) gets no code run by migrate/downgrade."""
    first = initial_revision(old_spec)
    db = db_with_rows(old_spec, first, tmp_path / "seed.sqlite").read_bytes()
    marker = tmp_path / "pwned"
    evil = {
        k: v.replace(
            b"def downgrade() -> None:",
            f"import pathlib\npathlib.Path({str(marker)!r}).write_text('x')\n\n\n"
            "def downgrade() -> None:".encode(),
        )
        for k, v in first.items()
    }
    assert evil != first
    files = {SPEC_FILE: old_spec.to_yaml().encode(), DB_FILE: db, **evil}
    world = write_world(tmp_path / "w", files, {})  # hashes recomputed, as an attacker would
    migrate_world(world, new_spec)
    downgrade_world(world, old_spec)
    assert not marker.exists()
    manifest, back = read_world_files(world)
    path = tmp_path / "back.sqlite"
    path.write_bytes(back[DB_FILE])
    assert old_columns(sqlite3.connect(path)) == expected_old_columns()
