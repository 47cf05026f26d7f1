"""No false quarantines: params restricted by the SQL that checks them (``:reason IN (...)``,
CASE branches, compared literals, LIKE) get valid values in procedural testing and in the
task sampler; a tau2-style cancel / modify-payment / exchange set passes on seeded data."""

from __future__ import annotations

import yaml

from engine.spec import DomainSpec
from engine.spec.validate import load_spec
from synth.build import build_world
from synth.proctest.literals import sql_literals
from synth.tasks import generate_tasks

TAU2 = """
name: tau2_mini
now: "2024-05-15 15:00:00"
user_entity: users
policy: Authenticate by email. Act only on the user's own orders.
entities:
  users:
    rows: 30
    columns:
      user_id: {type: string, primary_key: true, faker: {pattern: "U####"}}
      name: {type: string, faker: {provider: name}}
      email: {type: string, unique: true, faker: {provider: email}}
  payment_methods:
    rows: 60
    columns:
      payment_method_id: {type: string, primary_key: true, faker: {pattern: "PM#####"}}
      user_id: {type: string, references: users.user_id}
      kind: {type: enum, values: [credit_card, gift_card, paypal]}
  products:
    rows: 8
    columns:
      product_id: {type: string, primary_key: true, faker: {pattern: "P###"}}
      title: {type: string, faker: {provider: catch_phrase}}
  variants:
    rows: 40
    columns:
      item_id: {type: string, primary_key: true, faker: {pattern: "I#####"}}
      product_id: {type: string, references: products.product_id}
      size: {type: enum, values: [S, M, L, XL]}
      available: {type: boolean, faker: {choices: [true, true, true, false]}}
  orders:
    rows: 60
    columns:
      order_id: {type: string, primary_key: true, faker: {pattern: "\\\\#W#####"}}
      payment_method_id: {type: string, references: payment_methods.payment_method_id}
      user_id:
        type: string
        references: users.user_id
        faker: {sql: "SELECT pm.user_id FROM payment_methods pm WHERE pm.payment_method_id = orders.payment_method_id"}
      status: {type: enum, values: [pending, delivered, cancelled, exchange_requested], faker: {choices: [pending, delivered]}}
      cancel_reason: {type: string, nullable: true, faker: {choices: [null]}}
  order_items:
    rows: 120
    unique: [[order_id, item_id]]
    columns:
      line_id: {type: integer, primary_key: true}
      order_id: {type: string, references: orders.order_id}
      item_id: {type: string, references: variants.item_id}
invariants:
  - name: order_paid_by_owner
    violations: >-
      SELECT o.order_id FROM orders o JOIN payment_methods pm ON pm.payment_method_id = o.payment_method_id
      WHERE pm.user_id <> o.user_id
    scope: {orders: order_id}
tools:
  find_user_by_email:
    description: Find a user id by email.
    params: {email: {type: string, references: users.email}}
    reads: [users]
    preconditions: [{check: "SELECT 1 FROM users WHERE email = :email", error: "No user."}]
    returns: {query: "SELECT user_id FROM users WHERE email = :email", shape: scalar}
  get_order:
    description: An order with its items.
    params: {order_id: {type: string, references: orders.order_id}}
    reads: [orders, order_items]
    preconditions: [{check: "SELECT 1 FROM orders WHERE order_id = :order_id", error: "No order."}]
    returns:
      query: >-
        SELECT o.order_id, o.status, o.payment_method_id,
          (SELECT json_group_array(i.item_id) FROM order_items i WHERE i.order_id = o.order_id) AS item_ids
        FROM orders o WHERE o.order_id = :order_id
      json_columns: [item_ids]
      references: {"item_ids[]": variants.item_id}
  cancel_pending_order:
    description: Cancel a pending order.
    params:
      order_id: {type: string, references: orders.order_id}
      reason: {type: string, max_length: 40}
    reads: [orders]
    writes: [orders]
    preconditions:
      - {check: "SELECT status = 'pending' FROM orders WHERE order_id = :order_id", error: "Not pending."}
      - {check: "SELECT :reason IN ('no longer needed', 'ordered by mistake')", error: "Bad reason {reason}."}
    effects: ["UPDATE orders SET status = 'cancelled', cancel_reason = :reason WHERE order_id = :order_id"]
    returns: {query: "SELECT order_id, status FROM orders WHERE order_id = :order_id"}
  modify_pending_order_payment:
    description: Pay a pending order with another of the user's payment methods.
    params:
      order_id: {type: string, references: orders.order_id}
      payment_method_id: {type: string, references: payment_methods.payment_method_id}
    reads: [orders, payment_methods]
    writes: [orders]
    preconditions:
      - {check: "SELECT status = 'pending' FROM orders WHERE order_id = :order_id", error: "Not pending."}
      - check: >-
          SELECT 1 FROM orders o JOIN payment_methods pm ON pm.user_id = o.user_id
          WHERE o.order_id = :order_id AND pm.payment_method_id = :payment_method_id AND o.payment_method_id <> :payment_method_id
        error: "Not another payment method of this user."
    effects: ["UPDATE orders SET payment_method_id = :payment_method_id WHERE order_id = :order_id"]
    returns: {query: "SELECT order_id, payment_method_id FROM orders WHERE order_id = :order_id"}
  exchange_delivered_order_items:
    description: Exchange items of a delivered order for available variants of the same products.
    params:
      order_id: {type: string, references: orders.order_id}
      item_ids: {type: array, items: {type: string, references: variants.item_id}, min_items: 1, max_items: 3, unique_items: true}
      new_item_ids: {type: array, items: {type: string, references: variants.item_id}, min_items: 1, max_items: 3}
    reads: [orders, order_items, variants]
    writes: [orders, order_items]
    preconditions:
      - {check: "SELECT status = 'delivered' FROM orders WHERE order_id = :order_id", error: "Not delivered."}
      - {check: "SELECT json_array_length(:item_ids) = json_array_length(:new_item_ids)", error: "One new item per item."}
      - check: >-
          SELECT COUNT(*) = json_array_length(:item_ids) FROM order_items
          WHERE order_id = :order_id AND item_id IN (SELECT value FROM json_each(:item_ids))
        error: "Some items are not in the order."
      - check: >-
          SELECT COUNT(*) = json_array_length(:item_ids)
          FROM json_each(:item_ids) o JOIN json_each(:new_item_ids) n ON n.key = o.key
          JOIN variants a ON a.item_id = o.value JOIN variants b ON b.item_id = n.value
          WHERE a.product_id = b.product_id AND b.available AND a.item_id <> b.item_id
            AND NOT EXISTS (SELECT 1 FROM order_items x WHERE x.order_id = :order_id AND x.item_id = b.item_id)
        error: "New items must be other available variants of the same products."
    effects:
      - >-
        UPDATE order_items SET item_id = (SELECT n.value FROM json_each(:item_ids) o JOIN json_each(:new_item_ids) n
          ON n.key = o.key WHERE o.value = order_items.item_id)
        WHERE order_id = :order_id AND item_id IN (SELECT value FROM json_each(:item_ids))
      - "UPDATE orders SET status = 'exchange_requested' WHERE order_id = :order_id"
    returns: {query: "SELECT order_id, status FROM orders WHERE order_id = :order_id"}
"""


def _spec() -> DomainSpec:
    return load_spec(yaml.safe_load(TAU2))


def test_literals_read_from_in_lists_case_comparisons_and_like():
    spec = load_spec(
        {
            "name": "lit",
            "entities": {"t": {"columns": {"id": {"type": "integer", "primary_key": True}}}},
            "tools": {
                "f": {
                    "description": "x",
                    "params": {
                        "reason": {"type": "string"},
                        "tier": {"type": "string"},
                        "days": {"type": "integer"},
                        "code": {"type": "string"},
                    },
                    "preconditions": [
                        {"check": "SELECT :reason IN ('fixed', 'wontfix')", "error": "e"},
                        {
                            "check": "SELECT CASE :tier WHEN 'gold' THEN 1 WHEN 'silver' THEN 1 ELSE 0 END",
                            "error": "e",
                        },
                        {"check": "SELECT :days > 3", "error": "e"},
                        {"check": "SELECT :code LIKE 'AB%'", "error": "e"},
                    ],
                    "returns": {"query": "SELECT 1"},
                }
            },
        }
    )
    lits = sql_literals(spec.tools["f"])
    assert lits == {
        "reason": ["fixed", "wontfix"],
        "tier": ["gold", "silver"],
        "days": [4],
        "code": ["AB"],
    }


def test_in_list_param_tool_is_not_quarantined(domains_dir):
    """void_invoice takes ``reason`` checked by ``:reason IN ('duplicate', 'billing_error')``."""
    res = build_world(domains_dir / "vet_clinic.yaml", seed=3)
    assert res.spec.tools["void_invoice"].quarantined is None
    assert (
        res.spec.tools["close_damage_report"].quarantined is None
        if "close_damage_report" in res.spec.tools
        else True
    )
    car = build_world(domains_dir / "car_rental.yaml", seed=3)
    assert [n for n, t in car.spec.tools.items() if t.quarantined] == []


def test_tau2_cancel_modify_payment_exchange_not_quarantined_and_tasked():
    spec = _spec()
    for seed in (1, 2):
        res = build_world(spec, seed=seed)
        quarantined = {n: t.quarantined for n, t in res.spec.tools.items() if t.quarantined}
        assert quarantined == {}, quarantined
    world = res.world()
    ts = generate_tasks(world, 12, seed=0)
    assert len(ts.tasks) == 12
    used = {a.tool for t in ts.tasks for a in t.gold_actions}
    assert "cancel_pending_order" in used
    reasons = {
        a.args["reason"]
        for t in ts.tasks
        for a in t.gold_actions
        if a.tool == "cancel_pending_order"
    }
    assert reasons <= {"no longer needed", "ordered by mistake"}
    assert ts.report["policies"]["gold"] == 1.0 and ts.report["policies"]["empty"] == 0.0
