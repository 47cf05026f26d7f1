"""A small, hand-made tiny_shop world for engine tests (fixtures in conftest.py).

Built directly with ``engine.schema.create_sqlite`` and plain INSERTs (no synth), so engine
tests stay independent of seeding. ``build_tiny_bytes(spec, extra=n)`` adds about ``n``
synthetic rows (n/4 each of customers, orders, items, payments) for benchmarks.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from engine.session import Session
from engine.spec.metadata import create_sqlite
from engine.spec.models import DomainSpec, read_spec_data
from engine.world import World

ROOT = Path(__file__).resolve().parents[2]
TINY_SHOP = ROOT / "fixtures" / "domains" / "tiny_shop.yaml"

CUSTOMERS = [
    ("C0001", "Ann Lee", "ann@example.com", "gold", 10.0, None),
    ("C0002", "Bob Stone", "bob@example.com", "regular", 0.0, "Prefers email."),
    ("C0003", "Cy Young", "cy@example.com", "regular", 25.5, None),
]
PRODUCTS = [
    ("P001", "Red Mug", 12.5, 5),
    ("P002", "Blue Mug", 14.0, 0),
    ("P003", "Green Teapot", 40.0, 3),
]
ORDERS = [  # order_id, customer_id, status, created_at, total
    ("#W0001", "C0001", "pending", "2024-05-10 10:00:00", 39.0),
    ("#W0002", "C0001", "delivered", "2024-04-01 09:30:00", 40.0),
    ("#W0003", "C0002", "pending", "2024-03-01 12:00:00", 14.0),
    ("#W0004", "C0003", "pending", "2024-05-14 08:00:00", 0.0),
]
ITEMS = [  # item_id, order_id, product_id, quantity, unit_price
    (1, "#W0001", "P001", 2, 12.5),
    (2, "#W0001", "P002", 1, 14.0),
    (3, "#W0002", "P003", 1, 40.0),
    (4, "#W0003", "P002", 1, 14.0),
]
PAYMENTS = [
    ("PAY00001", "#W0001", "card", 39.0),
    ("PAY00002", "#W0002", "gift_card", 40.0),
    ("PAY00003", "#W0003", "card", 14.0),
]


def load_tiny_spec() -> DomainSpec:
    return DomainSpec.model_validate(read_spec_data(TINY_SHOP))


def build_tiny_bytes(spec: DomainSpec, extra: int = 0) -> bytes:
    """Serialized tiny_shop database: the fixed rows above plus about ``extra`` synthetic rows."""
    conn = sqlite3.connect(":memory:")
    conn.execute("PRAGMA foreign_keys = ON")
    create_sqlite(spec, conn)
    conn.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?)", CUSTOMERS)
    conn.executemany("INSERT INTO products VALUES (?, ?, ?, ?)", PRODUCTS)
    conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?)", ORDERS)
    conn.executemany("INSERT INTO order_items VALUES (?, ?, ?, ?, ?)", ITEMS)
    conn.executemany("INSERT INTO payments VALUES (?, ?, ?, ?)", PAYMENTS)
    if extra:
        conn.executemany(
            "INSERT INTO customers VALUES (?, ?, ?, 'regular', 1, NULL)",
            [(f"C9{i:05d}", f"Name {i}", f"user{i}@example.com") for i in range(extra // 4)],
        )
        conn.executemany(
            "INSERT INTO orders VALUES (?, ?, 'delivered', '2024-04-01 00:00:00', 12.5)",
            [(f"#X{i:06d}", f"C9{i % max(1, extra // 4):05d}") for i in range(extra // 4)],
        )
        conn.executemany(
            "INSERT INTO order_items VALUES (?, ?, 'P001', 1, 12.5)",
            [(100 + i, f"#X{i:06d}") for i in range(extra // 4)],
        )
        conn.executemany(
            "INSERT INTO payments VALUES (?, ?, 'card', 12.5)",
            [(f"PAYX{i:06d}", f"#X{i:06d}") for i in range(extra // 4)],
        )
    conn.commit()
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    data = conn.serialize()
    conn.close()
    return data


def make_world(spec: DomainSpec | None = None, extra: int = 0) -> World:
    spec = spec or load_tiny_spec()
    return World.from_parts(spec, build_tiny_bytes(spec, extra))


def note(s: Session, text: str, customer: str = "C0002") -> None:
    """A customer note written through the tool (a one-row update that always succeeds)."""
    assert s.call("add_customer_note", {"customer_id": customer, "note": text}).ok


def reinsert_order(conn: sqlite3.Connection, order_id: str) -> None:
    """Delete an order and insert it again by hand (foreign keys off): the same row at a new
    rowid, which an in-place undo cannot put back."""
    row = conn.execute("SELECT * FROM orders WHERE order_id = ?", (order_id,)).fetchone()
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("DELETE FROM orders WHERE order_id = ?", (order_id,))
    conn.execute(f"INSERT INTO orders VALUES ({', '.join('?' * len(row))})", row)
    conn.execute("PRAGMA foreign_keys = ON")


def spec_with(spec: DomainSpec, **tools: dict) -> DomainSpec:
    """A copy of ``spec`` with tools added or replaced (plain dicts, no SQL validation)."""
    from engine.spec.models import Tool

    out = spec.model_copy(deep=True)
    for name, data in tools.items():
        out.tools[name] = Tool.model_validate(data)
    return out
