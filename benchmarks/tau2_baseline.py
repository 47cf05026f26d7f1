"""The baseline of ``bench_session.py``: a tau2-bench-style environment of tiny_shop.

The same rows as one JSON document loaded into pydantic models (a model per table, a DB model
holding dicts of rows), reset by re-parsing the JSON, tools as Python methods on the models,
evaluation by replaying the gold actions on a fresh copy and comparing SHA-256 hashes of
``model_dump_json``. Kept apart so the benchmark reads as "ours next to theirs".
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel

from engine.spec.task import Action

NOW = "2024-05-15 15:00:00"


class Item(BaseModel):
    item_id: int
    product_id: str
    quantity: int
    unit_price: float


class Payment(BaseModel):
    payment_id: str
    method: str
    amount: float


class Order(BaseModel):
    order_id: str
    customer_id: str
    status: str
    created_at: str
    total: float
    items: list[Item]
    payment: Payment | None = None


class Customer(BaseModel):
    customer_id: str
    name: str
    email: str
    tier: str
    balance: float
    note: str | None = None
    order_ids: list[str] = []


class Product(BaseModel):
    product_id: str
    title: str
    price: float
    stock: int


class Refund(BaseModel):
    refund_id: str
    payment_id: str
    amount: float
    created_at: str


class ShopDB(BaseModel):
    customers: dict[str, Customer]
    products: dict[str, Product]
    orders: dict[str, Order]
    refunds: dict[str, Refund] = {}


def baseline_json(rows: dict[str, list[dict[str, Any]]]) -> str:
    """The same rows as one JSON document (items and payment nested in their order, as
    tau2-bench's retail DB nests them)."""
    items: dict[str, list[dict]] = {}
    for r in rows["order_items"]:
        items.setdefault(r["order_id"], []).append({k: v for k, v in r.items() if k != "order_id"})
    pays = {
        r["order_id"]: {k: v for k, v in r.items() if k != "order_id"} for r in rows["payments"]
    }
    owned: dict[str, list[str]] = {}
    for r in rows["orders"]:
        owned.setdefault(r["customer_id"], []).append(r["order_id"])
    db = ShopDB(
        customers={
            r["customer_id"]: Customer(**r, order_ids=owned.get(r["customer_id"], []))
            for r in rows["customers"]
        },
        products={r["product_id"]: Product(**r) for r in rows["products"]},
        orders={
            r["order_id"]: Order(
                **r, items=items.get(r["order_id"], []), payment=pays.get(r["order_id"])
            )
            for r in rows["orders"]
        },
        refunds={r["refund_id"]: Refund(**r) for r in rows["refunds"]},
    )
    return db.model_dump_json()


class BaselineEnv:
    """tau2-bench's shape: a pydantic DB, tools as methods, errors as exceptions."""

    def __init__(self, db_json: str) -> None:
        self.db = ShopDB.model_validate_json(db_json)

    def get_order(self, order_id: str) -> dict:
        if order_id not in self.db.orders:
            raise ValueError(f"Order {order_id} not found.")
        return self.db.orders[order_id].model_dump()

    def get_customer(self, customer_id: str) -> dict:
        if customer_id not in self.db.customers:
            raise ValueError(f"Customer {customer_id} not found.")
        return self.db.customers[customer_id].model_dump(exclude={"note"})

    def add_customer_note(self, customer_id: str, note: str) -> dict:
        if customer_id not in self.db.customers:
            raise ValueError(f"Customer {customer_id} not found.")
        self.db.customers[customer_id].note = note
        return {"customer_id": customer_id, "note": note}

    def cancel_order(self, order_id: str, reason: str) -> dict:
        order = self.db.orders.get(order_id)
        if order is None:
            raise ValueError(f"Order {order_id} not found.")
        if order.status != "pending":
            raise ValueError(
                f"Order {order_id} is {order.status}; only pending orders can be cancelled."
            )
        order.status = "cancelled"
        for it in order.items:
            self.db.products[it.product_id].stock += it.quantity
        if order.payment is not None and order.payment.amount > 0:
            n = len(self.db.refunds)
            while f"RF{n:05d}" in self.db.refunds:
                n += 1
            rid = f"RF{n:05d}"
            self.db.refunds[rid] = Refund(
                refund_id=rid,
                payment_id=order.payment.payment_id,
                amount=order.payment.amount,
                created_at=NOW,
            )
        return {"order_id": order_id, "status": order.status}

    def call(self, name: str, args: dict) -> str:
        """tau2's ``get_response``: run the tool, errors as text, result as JSON text."""
        try:
            return json.dumps(getattr(self, name)(**args), default=str)
        except ValueError as exc:
            return f"Error: {exc}"

    def state_hash(self) -> str:
        return hashlib.sha256(self.db.model_dump_json().encode()).hexdigest()


def baseline_evaluate(start_json: str, gold: list[Action], agent: list[Action]) -> bool:
    """tau2-bench's environment check: two fresh envs, replay both, compare DB hashes."""
    gold_env, agent_env = BaselineEnv(start_json), BaselineEnv(start_json)
    for a in gold:  # the gold replay fails closed (tau2-bench #499)
        out = gold_env.call(a.tool, a.args)
        if out.startswith("Error"):
            raise RuntimeError(f"gold action {a.tool} failed: {out}")
    for a in agent:  # errors come back as text, as in tau2
        agent_env.call(a.tool, a.args)
    return gold_env.state_hash() == agent_env.state_hash()
