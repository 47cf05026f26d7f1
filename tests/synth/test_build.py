"""World builds: every fixture builds, deterministically, with sound data."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from engine.budget import BudgetExceeded
from engine.spec.validate import load_spec
from engine.world import World
from synth.build import build_world, check_database

ROOT = Path(__file__).resolve().parents[2]
DOMAINS = ROOT / "fixtures" / "domains"
ALL = ["tiny_shop", "airline", "retail", "bank"]


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


@pytest.mark.parametrize("domain", ALL)
def test_fixture_builds_sound_world(domain: str, tmp_path: Path) -> None:
    res = build_world(
        DOMAINS / f"{domain}.yaml", seed=7, rows=3000, out=tmp_path / domain, proctest=False
    )
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
    assert (tmp_path / "a" / "manifest.json").read_bytes() == (
        tmp_path / "b" / "manifest.json"
    ).read_bytes()
    assert _sha(c.db_bytes) != _sha(a.db_bytes)


def test_rows_scales_the_world(tmp_path: Path) -> None:
    small = build_world(DOMAINS / "tiny_shop.yaml", seed=1, rows=1000, proctest=False).world()
    big = build_world(DOMAINS / "tiny_shop.yaml", seed=1, rows=10000, proctest=False).world()
    s, b = sum(small.row_counts.values()), sum(big.row_counts.values())
    assert 900 <= s <= 1100
    assert 9000 <= b <= 11000


def _mutate(path: str, value):
    def apply(data: dict) -> None:
        *parents, last = path.split("/")
        node = data
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return apply


BAD_SPECS = [
    (
        "entities/orders/columns/customer_id/references",
        "clients.client_id",
        "entities.orders.columns.customer_id.references",
    ),
    ("entities/orders/columns/status/values", [], "entities.orders.columns.status"),
    ("entities/products/columns/stock/type", "float", "entities.products.columns.stock.type"),
    ("tools/get_order/reads", ["orders", "order_lines"], "tools.get_order.reads"),
    (
        "tools/cancel_order/effects/0",
        "UPDATE orders SET colour = 'x'",
        "tools.cancel_order.effects[0]",
    ),
    ("tools/cancel_order/effects/0", "DROP TABLE orders", "tools.cancel_order.effects[0]"),
    (
        "tools/cancel_order/let/payment",
        "ATTACH DATABASE 'x.db' AS x",
        "tools.cancel_order.let.payment",
    ),
    (
        "tools/get_customer/preconditions/0/check",
        "PRAGMA table_info(customers)",
        "tools.get_customer.preconditions[0].check",
    ),
    (
        "tools/add_customer_note/effects/0",
        "UPDATE orders SET status = 'x' WHERE order_id = :customer_id",
        "tools.add_customer_note.effects[0]",
    ),
    (
        "tools/find_customer_by_email/returns/query",
        "SELECT customer_id FROM customers WHERE email = :mail",
        "tools.find_customer_by_email.returns.query",
    ),
    ("invariants/0/violations", "SELECT * FROM ghosts", "invariants[0].violations"),
    ("policy_rules/0/tool", "refund_everything", "policy_rules[0].tool"),
    (
        "tools/cancel_order/effects/1",
        "UPDATE products SET stock = 1; DELETE FROM orders",
        "tools.cancel_order.effects[1]",
    ),
]


@pytest.mark.parametrize(("path", "value", "field"), BAD_SPECS, ids=[b[2] for b in BAD_SPECS])
def test_bad_spec_is_rejected_with_its_path_and_writes_nothing(
    path, value, field, tmp_path: Path
) -> None:
    import yaml

    from engine.errors import SpecError

    data = yaml.safe_load((DOMAINS / "tiny_shop.yaml").read_text())
    _mutate(path, value)(data)
    out = tmp_path / "out" / "world"
    with pytest.raises(SpecError) as info:
        build_world(data, seed=1, out=out, proctest=False)
    assert field in str(info.value)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_cartesian_fill_stops_at_its_budget_and_writes_nothing(tmp_path: Path) -> None:
    """A fill that passes validation (it finishes on empty tables) but would run for hours
    on seeded rows is cut off by the step budget: one line, no world on disk."""
    data = load_spec(DOMAINS / "tiny_shop.yaml").to_dict()
    total = data["entities"]["orders"]["columns"]["total"]
    total["faker"]["sql"] = (
        "SELECT count(*) FROM order_items a, order_items b, order_items c, order_items d "
        "WHERE a.order_id = orders.order_id"
    )
    out = tmp_path / "w"
    with pytest.raises(BudgetExceeded) as info:
        build_world(data, seed=1, rows=400, proctest=False, tasks=0, out=out)
    assert "ran past its budget" in str(info.value) and "\n" not in str(info.value)
    assert not out.exists()
