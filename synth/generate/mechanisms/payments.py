"""A payment ledger: bills of the user, stored-balance payment methods, payments and refunds.

Invariants: a refund total never exceeds its payment; a stored balance never goes negative
(a column check). Seeding pays some bills in full from one of the owner's methods. Seed
choices: table names (invoices/bills/statements), the refund limit an agent may grant.
"""

from __future__ import annotations

from typing import Any

from synth.generate.builder import Builder, enum, exists, pk, sql, when

NAME = "payments"
REQUIRES: tuple[str, ...] = ("accounts",)


def apply(b: Builder, params: dict[str, Any]) -> None:
    rng = b.rng(NAME)
    uid, ut, un = b.uid, b.ut, b.user.noun
    bill_noun = params.get("bill") or rng.choice(["invoice", "bill", "statement"])
    bt, bkey = f"{bill_noun}s", f"{bill_noun}_id"
    mt = rng.choice(["payment_methods", "wallets"])
    mkey = "method_id"
    kinds = (
        ["card", "gift_card", "bank_account"]
        if mt == "payment_methods"
        else ["card", "store_credit", "bank_account"]
    )
    stored = kinds[1]
    limit = rng.choice([100, 150, 200, 250])
    items = params.get("charges") or [
        "Service fee",
        "Monthly charge",
        "Late fee",
        "Consultation",
        "Materials",
        "Cancellation fee",
    ]
    b.table(
        mt,
        {
            "description": f"Payment methods on file for a {un}; a {stored.replace('_', ' ')} holds a balance.",
            "rows": 90,
            "natural_key": [uid, "kind", "last_four"],
            "columns": {
                mkey: pk("PM#####", generated=True),
                uid: {"type": "string", "references": f"{ut}.{uid}"},
                "kind": enum(kinds, [0.6, 0.25, 0.15]),
                "last_four": {"type": "string", "max_length": 4, "faker": {"pattern": "####"}},
                "balance": {
                    "type": "decimal",
                    "check": "balance >= 0",
                    "faker": {
                        "sql": f"SELECT CASE WHEN {mt}.kind = '{stored}' THEN 25 + CAST(substr({mt}.{mkey}, -3) AS INTEGER) % 300 ELSE 0 END"
                    },
                    "description": f"Money left on a {stored.replace('_', ' ')} (0 for other kinds).",
                },
                "status": enum(["active", "removed"], [0.92, 0.08]),
            },
        },
    )
    b.table(
        bt,
        {
            "description": f"{bill_noun.capitalize()}s issued to {un}s.",
            "rows": 120,
            "columns": {
                bkey: pk(bill_noun[:2].upper() + "######"),
                uid: {"type": "string", "references": f"{ut}.{uid}"},
                "item": {"type": "string", "max_length": 60, "faker": {"choices": list(items)}},
                "amount": {"type": "decimal", "minimum": 10, "maximum": 600, "check": "amount > 0"},
                "due_date": when("2024-04-01", "2024-06-30", exempt=False),
                "status": {
                    "type": "enum",
                    "values": ["open", "paid", "void"],
                    "faker": {
                        "sql": f"SELECT CASE WHEN EXISTS (SELECT 1 FROM payments p WHERE p.{bkey} = {bt}.{bkey}) THEN 'paid' WHEN CAST(substr({bt}.{bkey}, -2) AS INTEGER) < 8 THEN 'void' ELSE 'open' END"
                    },
                },
            },
        },
    )
    b.table(
        "payments",
        {
            "description": f"Payments of {bill_noun}s, each from one payment method of the {un}.",
            "rows": 60,
            "natural_key": [bkey],
            "columns": {
                "payment_id": pk("PAY######", generated=True),
                bkey: {"type": "string", "references": f"{bt}.{bkey}", "unique": True},
                mkey: {
                    "type": "string",
                    "references": f"{mt}.{mkey}",
                    "nullable": True,
                    "description": "NULL: paid at the desk in cash.",
                    "faker": {
                        "sql": f"SELECT m.{mkey} FROM {mt} m JOIN {bt} i ON i.{uid} = m.{uid} WHERE i.{bkey} = payments.{bkey} AND m.kind <> '{stored}' ORDER BY m.{mkey} LIMIT 1"
                    },
                },
                "amount": {
                    "type": "decimal",
                    "check": "amount > 0",
                    "faker": {"sql": f"SELECT amount FROM {bt} i WHERE i.{bkey} = payments.{bkey}"},
                },
                "paid_at": when("2024-03-01 00:00:00", "2024-05-15 12:00:00"),
            },
        },
    )
    b.table(
        "refunds",
        {
            "description": "Refunds of payments, back to the method that paid.",
            "rows": 0,
            "natural_key": ["payment_id", "created_at", "amount"],
            "columns": {
                "refund_id": pk("RF######", generated=True),
                "payment_id": {"type": "string", "references": "payments.payment_id"},
                "amount": {"type": "decimal", "check": "amount > 0"},
                "reason": enum(["billing error", "service not delivered", "goodwill"]),
                "created_at": {"type": "datetime", "match": "exempt"},
            },
        },
    )
    b.invariant(
        {
            "name": "refunds_within_payment",
            "description": "The refunds of a payment never add up to more than the payment.",
            "violations": sql("""
            SELECT p.payment_id, p.amount FROM payments p
            WHERE (SELECT COALESCE(SUM(r.amount), 0) FROM refunds r WHERE r.payment_id = p.payment_id) > p.amount
        """),
            "message": "Payment {payment_id} of {amount} is refunded beyond its amount.",
            "scope": {"payments": "payment_id", "refunds": "payment_id"},
        }
    )
    b.tool(
        f"list_{b.user.key}_{mt}",
        {
            "description": f"List a {un}'s payment methods with balances.",
            "params": {uid: b.user_param()},
            "reads": [ut, mt],
            "preconditions": [b.user_exists()],
            "returns": {
                "query": f"SELECT {mkey}, kind, last_four, balance, status FROM {mt} WHERE {uid} = :{uid} ORDER BY {mkey}",
                "shape": "list",
            },
        },
    )
    b.tool(
        "remove_payment_method",
        {
            "description": "Remove a payment method from the profile (it stays on past payments).",
            "params": {mkey: {"type": "string", "references": f"{mt}.{mkey}"}},
            "reads": [mt],
            "writes": [mt],
            "preconditions": [
                exists(mt, mkey),
                {
                    "check": f"SELECT status = 'active', status FROM {mt} WHERE {mkey} = :{mkey}",
                    "error": "Payment method {method_id} is already {status}.",
                },
            ],
            "effects": [f"UPDATE {mt} SET status = 'removed' WHERE {mkey} = :{mkey}"],
            "returns": {"query": f"SELECT {mkey}, status FROM {mt} WHERE {mkey} = :{mkey}"},
        },
    )
    b.tool(
        f"list_{b.user.key}_{bt}",
        {
            "description": f"List a {un}'s {bill_noun}s, most recent due date first.",
            "params": {
                uid: b.user_param(),
                "status": {"type": "enum", "values": ["open", "paid", "void"], "required": False},
            },
            "reads": [ut, bt],
            "preconditions": [b.user_exists()],
            "returns": {
                "query": f"SELECT {bkey}, item, amount, due_date, status FROM {bt} WHERE {uid} = :{uid} AND (:status IS NULL OR status = :status) ORDER BY due_date DESC, {bkey}",
                "shape": "list",
            },
        },
    )
    b.tool(
        f"get_{bill_noun}",
        {
            "description": f"Get a {bill_noun} with its payment and refunds, if any.",
            "params": {bkey: {"type": "string", "references": f"{bt}.{bkey}"}},
            "reads": [bt, "payments", "refunds"],
            "preconditions": [exists(bt, bkey)],
            "returns": {
                "query": sql(f"""
            SELECT i.{bkey}, i.{uid}, i.item, i.amount, i.due_date, i.status, p.payment_id, p.{mkey},
              (SELECT COALESCE(SUM(r.amount), 0) FROM refunds r WHERE r.payment_id = p.payment_id) AS refunded
            FROM {bt} i LEFT JOIN payments p ON p.{bkey} = i.{bkey}
            WHERE i.{bkey} = :{bkey}
        """)
            },
        },
    )
    b.tool(
        f"pay_{bill_noun}",
        {
            "description": f"Pay an open {bill_noun} in full with one of the {un}'s active payment methods; a {stored.replace('_', ' ')} must cover it.",
            "params": {
                bkey: {"type": "string", "references": f"{bt}.{bkey}"},
                mkey: {"type": "string", "references": f"{mt}.{mkey}"},
            },
            "reads": [bt, mt, "payments"],
            "writes": [bt, mt, "payments"],
            "generate": {
                "payment_id": {"pattern": "PAY######", "table": "payments", "column": "payment_id"}
            },
            "let": {"amount": f"SELECT amount FROM {bt} WHERE {bkey} = :{bkey}"},
            "preconditions": [
                exists(bt, bkey),
                {
                    "check": f"SELECT status = 'open', status FROM {bt} WHERE {bkey} = :{bkey}",
                    "error": f"{bill_noun.capitalize()} {{{bkey}}} is {{status}}.",
                },
                exists(mt, mkey),
                {
                    "check": f"SELECT m.{uid} = i.{uid} FROM {mt} m, {bt} i WHERE m.{mkey} = :{mkey} AND i.{bkey} = :{bkey}",
                    "error": f"Payment method {{{mkey}}} belongs to another {un}.",
                },
                {
                    "check": f"SELECT status = 'active', status FROM {mt} WHERE {mkey} = :{mkey}",
                    "error": f"Payment method {{{mkey}}} is {{status}}.",
                },
                {
                    "check": f"SELECT kind <> '{stored}' OR balance >= :amount, balance FROM {mt} WHERE {mkey} = :{mkey}",
                    "error": "The balance {balance} does not cover {amount}.",
                },
                {
                    "check": f"SELECT NOT EXISTS (SELECT 1 FROM payments WHERE {bkey} = :{bkey})",
                    "error": f"{bill_noun.capitalize()} {{{bkey}}} already has a payment.",
                },
            ],
            "effects": [
                f"INSERT INTO payments (payment_id, {bkey}, {mkey}, amount, paid_at) VALUES (:payment_id, :{bkey}, :{mkey}, :amount, :now)",
                f"UPDATE {bt} SET status = 'paid' WHERE {bkey} = :{bkey}",
                {
                    "sql": f"UPDATE {mt} SET balance = balance - :amount WHERE {mkey} = :{mkey}",
                    "when": f"SELECT kind = '{stored}' FROM {mt} WHERE {mkey} = :{mkey}",
                },
            ],
            "returns": {
                "query": f"SELECT payment_id, {bkey}, amount FROM payments WHERE payment_id = :payment_id"
            },
        },
    )
    left = "p.amount - (SELECT COALESCE(SUM(r.amount), 0) FROM refunds r WHERE r.payment_id = p.payment_id)"
    b.tool(
        "get_payment",
        {
            "description": "Get a payment with what is already refunded and what can still be refunded.",
            "params": {"payment_id": {"type": "string", "references": "payments.payment_id"}},
            "reads": ["payments", "refunds"],
            "preconditions": [exists("payments", "payment_id")],
            "returns": {
                "query": f"SELECT p.payment_id, p.{bkey}, p.{mkey}, p.amount, p.paid_at, {left} AS refundable FROM payments p WHERE p.payment_id = :payment_id"
            },
        },
    )
    b.tool(
        "refund_payment",
        {
            "description": f"Refund part or all of a payment to the method that paid it; a {stored.replace('_', ' ')} is credited at once.",
            "params": {
                "payment_id": {"type": "string", "references": "payments.payment_id"},
                "amount": {"type": "number", "minimum": 0.01, "maximum": 600},
                "reason": {
                    "type": "enum",
                    "values": ["billing error", "service not delivered", "goodwill"],
                },
            },
            "reads": ["payments", "refunds", mt],
            "writes": ["refunds", mt],
            "generate": {
                "refund_id": {"pattern": "RF######", "table": "refunds", "column": "refund_id"}
            },
            "let": {"method": f"SELECT {mkey} FROM payments WHERE payment_id = :payment_id"},
            "preconditions": [
                exists("payments", "payment_id"),
                {
                    "check": f"SELECT :amount <= {left}, {left} AS refundable FROM payments p WHERE p.payment_id = :payment_id",
                    "error": "Only {refundable} of payment {payment_id} can still be refunded.",
                },
            ],
            "effects": [
                "INSERT INTO refunds (refund_id, payment_id, amount, reason, created_at) VALUES (:refund_id, :payment_id, :amount, :reason, :now)",
                {
                    "sql": f"UPDATE {mt} SET balance = balance + :amount WHERE {mkey} = :method",
                    "when": f"SELECT kind = '{stored}' FROM {mt} WHERE {mkey} = :method",
                },
            ],
            "returns": {
                "query": "SELECT refund_id, payment_id, amount FROM refunds WHERE refund_id = :refund_id"
            },
        },
    )
    b.rule(
        {
            "name": f"refunds_above_{limit}_need_a_supervisor",
            "tool": "refund_payment",
            "description": f"The agent may refund at most {limit} per request; larger refunds go to a supervisor.",
            "violated": f"SELECT :amount > {limit}",
            "explanation": f"Refunds above {limit} need a supervisor; transfer the {un} to a human agent.",
        }
    )
    b.say(
        "Payments",
        f"{bill_noun.capitalize()}s are paid in full, once, with an active payment method of the same {un}; a {stored.replace('_', ' ')} must hold enough balance.",
        f"Refunds go back to the method that paid and never exceed what was paid; you may refund at most {limit} per request.",
    )
