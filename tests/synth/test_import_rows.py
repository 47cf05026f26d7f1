"""world import: JSON (flat and nested with a mapping), CSV, Parquet and SQLite rows go
through type checks, constraints, foreign keys and invariants; refusals are reported row by
row and nothing is written; a curated world's own rows round-trip byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine import World
from engine.db import bytes_to_connection
from synth.build import build_world
from synth.cli import app
from synth.importers.export import export_rows, world_rows
from synth.importers.rows import ImportRefused, import_world, load_rows
from synth.importers.sources import read_rows


@pytest.fixture(scope="module")
def shop():
    return build_world("tiny_shop", seed=0, proctest=False)


CURATED = sorted(
    p.stem for p in (Path(__file__).parents[2] / "fixtures" / "domains").glob("*.yaml")
)


def test_every_curated_fixture_is_in_the_round_trip() -> None:
    assert {"airline", "bank", "retail", "tiny_shop", "car_rental", "vet_clinic"} <= set(CURATED)


@pytest.mark.parametrize("domain", CURATED)
def test_round_trip_is_byte_identical_in_every_format(domain: str, tmp_path: Path) -> None:
    # airline and bank seeders delete rows (invariant repair) and create/drop helper indexes:
    # seeding closes the rowid gaps and restores the schema cookie, so the bytes match too
    built = build_world(domain, seed=0, proctest=False)
    sqlite_file = tmp_path / "w.sqlite"
    sqlite_file.write_bytes(built.db_bytes)
    sources = [
        export_rows(built.spec, built.db_bytes, tmp_path / "rows.json", "json"),
        export_rows(built.spec, built.db_bytes, tmp_path / "csv", "csv"),
        export_rows(built.spec, built.db_bytes, tmp_path / "parquet", "parquet"),
        sqlite_file,
    ]
    for src in sources:
        kind, rows = read_rows(built.spec, src)
        assert sum(len(r) for r in rows.values()) > 100
        db, report = load_rows(built.spec, rows, kind)
        assert report["rejected_rows"] == 0, (src, report["rejected"][:3])
        assert db == built.db_bytes, src
    res = import_world(built.spec, sources[0], seed=0)  # the pipeline on the imported rows
    assert res.db_bytes == built.db_bytes
    assert res.spec.tools and res.reports["proctest"].failing() == {}
    assert not [n for n, t in res.spec.tools.items() if t.quarantined]


def test_a_repaired_world_is_renumbered_like_an_import() -> None:
    # the repair deleted airline rows; the tables without a rowid column are dense again
    built = build_world("airline", seed=0, proctest=False)
    assert built.reports["seeding"]["repair_removed"]
    conn = bytes_to_connection(built.db_bytes)
    for table in ("reservations", "payments"):
        n, top = conn.execute(f"SELECT COUNT(*), MAX(rowid) FROM {table}").fetchone()
        assert n == top and n > 0


def test_import_runs_the_pipeline_and_quarantines_nothing_seeding_did_not(shop, tmp_path):
    seeded = build_world("tiny_shop", seed=0)
    data = export_rows(shop.spec, shop.db_bytes, tmp_path / "rows.json")
    res = import_world("tiny_shop", data, tmp_path / "w", tasks=3)
    assert res.db_bytes == shop.db_bytes
    quarantined = sorted(n for n, t in res.spec.tools.items() if t.quarantined)
    assert quarantined == sorted(n for n, t in seeded.spec.tools.items() if t.quarantined)
    world = World.load(tmp_path / "w")  # passes the schema check and the manifest
    counts = world.row_counts
    assert all(counts[t] == len(r) for t, r in world_rows(shop.spec, shop.db_bytes).items())
    assert len(world.tasks) == 3
    report = json.loads((tmp_path / "w" / "import.json").read_text())
    assert report["source"] == "json" and report["rejected_rows"] == 0


def _bad_rows(shop) -> dict:
    rows = world_rows(shop.spec, shop.db_bytes)
    rows["customers"][0]["tier"] = "platinum"  # not an enum member
    rows["customers"][1]["balance"] = "lots"  # not a number
    rows["customers"][2]["email"] = rows["customers"][3]["email"]  # UNIQUE
    rows["products"][0]["stock"] = -1  # CHECK
    rows["products"][1].pop("title")  # NOT NULL without a default
    return rows


def test_refused_rows_are_reported_and_nothing_is_written(shop, tmp_path):
    rows = _bad_rows(shop)
    lost = {rows["customers"][i]["customer_id"] for i in (0, 1, 3)}
    orphans = sum(o["customer_id"] in lost for o in rows["orders"])
    with pytest.raises(ImportRefused) as info:
        import_world("tiny_shop", rows, tmp_path / "w", proctest=False)
    assert not (tmp_path / "w").exists()
    report = info.value.report
    assert "customers row 1.tier" in str(info.value)
    by_where = {(r["table"], r["row"]): r for r in report["rejected"]}
    assert "platinum" in by_where[("customers", 1)]["reason"]
    assert "not a number" in by_where[("customers", 2)]["reason"]
    assert "UNIQUE" in by_where[("customers", 4)]["reason"]
    assert "CHECK" in by_where[("products", 1)]["reason"]
    assert by_where[("products", 2)]["column"] == "title"
    fk = [r for r in report["rejected"] if r["table"] == "orders"]
    assert len(fk) == orphans and orphans > 0
    assert all(any(c in r["reason"] for c in lost) for r in fk)
    assert any(r["table"] == "order_items" for r in report["rejected"])  # orphans of orphans
    assert report["tables"]["customers"]["rejected"] == 3


def test_allow_rejected_writes_the_world_without_them(shop, tmp_path):
    rows = _bad_rows(shop)
    res = import_world("tiny_shop", rows, tmp_path / "w", proctest=False, allow_rejected=True)
    counts = World.load(tmp_path / "w").row_counts
    assert counts["customers"] == len(rows["customers"]) - 3
    assert res.report["tables"]["customers"]["imported"] == counts["customers"]
    assert res.report["rejected_rows"] >= 5


def test_a_broken_invariant_always_refuses(shop, tmp_path):
    rows = world_rows(shop.spec, shop.db_bytes)
    pay = rows["payments"][0]
    rows["refunds"] = [
        {
            "refund_id": "RF1",
            "payment_id": pay["payment_id"],
            "amount": pay["amount"] + 1,
            "created_at": "2024-05-01 10:00:00",
        }
    ]
    with pytest.raises(ImportRefused, match="refund_not_above_payment"):
        import_world("tiny_shop", rows, tmp_path / "w", proctest=False, allow_rejected=True)
    assert not (tmp_path / "w").exists()


def test_nested_document_through_a_mapping(tmp_path):
    doc = {
        "customers": {
            "C0001": {
                "name": "Zoë",
                "email": "z@x.org",
                "tier": "gold",
                "balance": 10,
                "orders": {
                    "#W0001": {"status": "pending", "created_at": "2024-05-01T10:00:00", "total": 0}
                },
            },
        },
        "products": [{"product_id": "P001", "title": "Lamp", "price": 12.5, "stock": 3}],
    }
    mapping = {
        "tables": {
            "customers": {"path": "customers.*", "columns": {"customer_id": "@key"}},
            "products": "products.*",
            "orders": {
                "path": "customers.*.orders.*",
                "columns": {"order_id": "@key", "customer_id": "^@key"},
            },
        }
    }
    (tmp_path / "doc.json").write_text(json.dumps(doc))
    res = import_world("tiny_shop", tmp_path / "doc.json", mapping=mapping, proctest=False)
    conn = bytes_to_connection(res.db_bytes)
    assert conn.execute("SELECT customer_id, name, note FROM customers").fetchall() == [
        ("C0001", "Zoë", None)
    ]
    assert conn.execute("SELECT order_id, customer_id, created_at FROM orders").fetchall() == [
        ("#W0001", "C0001", "2024-05-01 10:00:00")
    ]


def test_cli_imports_and_refuses_in_one_line(shop, tmp_path):
    runner = CliRunner()
    data = export_rows(shop.spec, shop.db_bytes, tmp_path / "csv", "csv")
    ok = runner.invoke(
        app,
        [
            "world",
            "import",
            "tiny_shop",
            "--data",
            str(data),
            "--out",
            str(tmp_path / "w"),
            "--no-proctest",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert "imported" in ok.output
    (data / "products.csv").write_text("product_id,title,price,stock\nP1,Lamp,free,1\n")
    bad = runner.invoke(
        app,
        [
            "world",
            "import",
            "tiny_shop",
            "--data",
            str(data),
            "--out",
            str(tmp_path / "w2"),
            "--report",
            str(tmp_path / "r.json"),
        ],
    )
    assert bad.exit_code == 1
    assert "products row 1.price" in bad.output and "Traceback" not in bad.output
    assert json.loads((tmp_path / "r.json").read_text())["rejected_rows"] > 1
    assert not (tmp_path / "w2").exists()
