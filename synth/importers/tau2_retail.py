"""tau2-bench retail's tools as scaleenv tool definitions (same names, params, messages).

The schema is ``tau2_specs/retail.yaml``; the tools are built here because seven of them
return the same Order document and three the same User document: one result shape each,
written once (``ORDER``, ``USER``). Checks run in tau2's order so the first failing one
gives tau2's message; checks over array params name the first failing element; item
modifications apply the (old, new) pairs one after another, as tau2's loop does.
"""

from __future__ import annotations

from typing import Any

from synth.importers.tau2_retail_sql import (
    _DIFF,
    _FINAL_IDS,
    _MODIFY_ITEMS,
    _PENDING_LIKE,
    _VARIANT_OBJECT,
    ADDRESS,
    ITEM_IDS,
    ITEMS_BEFORE,
    NEW_ADDRESS,
    NEW_ITEM_IDS,
    ORDER,
    ORDER_EXISTS,
    ORDER_ID,
    PM_ID,
    PM_OF_ORDER_USER,
    USER,
    USER_EXISTS,
    USER_ID,
    _counts,
    _gift_card_covers,
    _pairs,
    _same_length,
    _sorted,
)


def tools() -> dict[str, Any]:
    """The 15 retail tools (calculate and transfer_to_human_agents are builtins)."""
    return {
        "find_user_id_by_email": {
            "description": "Find user id by email. If the user is not found, the function "
            "will return an error message.",
            "params": {
                "email": {
                    "type": "string",
                    "references": "users.email",
                    "description": "The email of the user, such as 'something@example.com'.",
                }
            },
            "preconditions": [
                {
                    "check": "SELECT 1 FROM users WHERE casefold(email) = casefold(:email)",
                    "error": "User not found",
                }
            ],
            "returns": {
                "query": "SELECT user_id FROM users WHERE casefold(email) = casefold(:email) "
                "ORDER BY rowid LIMIT 1",
                "shape": "scalar",
            },
        },
        "find_user_id_by_name_zip": {
            "description": "Find user id by first name, last name, and zip code. If the user "
            "is not found, the function will return an error message. By default, find user "
            "id by email, and only call this function if the user is not found by email or "
            "cannot remember email.",
            "params": {
                "first_name": {
                    "type": "string",
                    "description": "The first name of the customer, such as 'John'.",
                },
                "last_name": {
                    "type": "string",
                    "description": "The last name of the customer, such as 'Doe'.",
                },
                "zip": {
                    "type": "string",
                    "description": "The zip code of the customer, such as '12345'.",
                },
            },
            "let": {
                "found": "SELECT user_id FROM users WHERE casefold(first_name) = "
                "casefold(:first_name) AND casefold(last_name) = casefold(:last_name) AND zip = "
                ":zip ORDER BY rowid LIMIT 1"
            },
            "preconditions": [{"check": "SELECT :found IS NOT NULL", "error": "User not found"}],
            "returns": {"query": "SELECT :found", "shape": "scalar"},
        },
        "get_order_details": {
            "description": "Get the status and details of an order.",
            "params": {"order_id": ORDER_ID},
            "preconditions": [ORDER_EXISTS],
            "returns": ORDER,
        },
        "get_product_details": {
            "description": "Get the inventory details of a product.",
            "params": {
                "product_id": {
                    "type": "string",
                    "references": "products.product_id",
                    "description": "The product id, such as '6086499569'. Be careful the product id is different from the item id.",
                }
            },
            "preconditions": [
                {
                    "check": "SELECT 1 FROM products WHERE product_id = :product_id",
                    "error": "Product not found",
                }
            ],
            "returns": {
                "query": "SELECT p.name, p.product_id, (SELECT json_group_object(item_id, "
                f"json({_VARIANT_OBJECT})) FROM (SELECT * FROM variants v WHERE "
                "v.product_id = p.product_id ORDER BY v.rowid)) AS variants FROM "
                "products p WHERE p.product_id = :product_id",
                "json_columns": ["variants"],
                "references": {"variants.*.item_id": "variants.item_id"},
            },
        },
        "get_item_details": {
            "description": "Get the inventory details of an item.",
            "params": {
                "item_id": {
                    "type": "string",
                    "references": "variants.item_id",
                    "description": "The item id, such as '6086499569'. Be careful the item id is different from the product id.",
                }
            },
            "preconditions": [
                {
                    "check": "SELECT 1 FROM variants WHERE item_id = :item_id",
                    "error": "Item not found",
                }
            ],
            "returns": {
                "query": f"SELECT json({_VARIANT_OBJECT}) AS item FROM variants WHERE "
                "item_id = :item_id",
                "shape": "scalar",
                "json_columns": ["item"],
            },
        },
        "get_user_details": {
            "description": "Get the details of a user, including their orders.",
            "params": {"user_id": USER_ID},
            "preconditions": [USER_EXISTS],
            "returns": USER,
        },
        "list_all_product_types": {
            "description": "List the name and product id of all product types. Each product "
            "type has a variety of different items with unique item ids and options. There "
            "are only 50 product types in the store.",
            # tau2 returns json.dumps(..., sort_keys=True): a JSON *string* with ', ' and ': '
            # (an agent reads that very text; json_group_object would write it compactly);
            # BINARY order on UTF-8 is Python's code point order of the keys
            "returns": {
                "query": "SELECT '{' || COALESCE(group_concat(json_quote(name) || ': ' || "
                "json_quote(product_id), ', '), '') || '}' FROM (SELECT name, product_id FROM "
                "products ORDER BY name)",
                "shape": "scalar",
            },
        },
        "cancel_pending_order": {
            "description": "Cancel a pending order. If the order is already processed or "
            "delivered, it cannot be cancelled. The agent needs to explain the cancellation "
            "detail and ask for explicit user confirmation (yes/no) to proceed. If the user "
            "confirms, the order status will be changed to 'cancelled' and the payment will be "
            "refunded. The refund will be added to the user's gift card balance immediately if "
            "the payment was made using a gift card, otherwise the refund would take 5-7 "
            "business days to process. The function returns the order details after the "
            "cancellation.",
            "params": {
                "order_id": ORDER_ID,
                "reason": {
                    "type": "string",
                    "description": "The reason for cancellation, which should be "
                    "either 'no longer needed' or 'ordered by mistake'.",
                },
            },
            "let": {
                "history": "SELECT payment_history FROM orders WHERE order_id = :order_id",
                # the first payment's method: the gift card a refund credits is then one the
                # call names (a pending order has exactly one payment)
                "paid_with": "SELECT json_extract(:history, '$[0].payment_method_id')",
            },
            "preconditions": [
                ORDER_EXISTS,
                {
                    "check": "SELECT status = 'pending' FROM orders WHERE order_id = :order_id",
                    "error": "Non-pending order cannot be cancelled",
                },
                {
                    "check": "SELECT :reason IN ('no longer needed', 'ordered by mistake')",
                    "error": "Invalid reason",
                },
            ],
            "effects": [
                "UPDATE payment_methods SET balance = round(balance + (SELECT "
                "SUM(json_extract(h.value, '$.amount')) FROM json_each(:history) h WHERE "
                "json_extract(h.value, '$.payment_method_id') = payment_methods.id), 2) WHERE "
                "source = 'gift_card' AND id IN (SELECT json_extract(h.value, "
                "'$.payment_method_id') FROM json_each(:history) h)",
                "UPDATE orders SET status = 'cancelled', cancel_reason = :reason, "
                "payment_history = (SELECT json_group_array(json(v)) FROM (SELECT v FROM "
                "(SELECT 0 AS g, h.key AS k, h.value AS v FROM json_each(:history) h UNION ALL "
                "SELECT 1, h.key, json_object('transaction_type', 'refund', 'amount', "
                "json_extract(h.value, '$.amount'), 'payment_method_id', json_extract(h.value, "
                "'$.payment_method_id')) FROM json_each(:history) h) ORDER BY g, k)) "
                "WHERE order_id = :order_id",
            ],
            "returns": ORDER,
        },
        "modify_pending_order_address": {
            "description": "Modify the shipping address of a pending order. The agent needs "
            "to explain the modification detail and ask for explicit user confirmation "
            "(yes/no) to proceed.",
            "params": {"order_id": ORDER_ID, **ADDRESS},
            "preconditions": [ORDER_EXISTS, _PENDING_LIKE],
            "effects": [f"UPDATE orders SET address = {NEW_ADDRESS} WHERE order_id = :order_id"],
            "returns": ORDER,
        },
        "modify_user_address": {
            "description": "Modify the default address of a user. The agent needs to explain "
            "the modification detail and ask for explicit user confirmation (yes/no) to "
            "proceed.",
            "params": {"user_id": USER_ID, **ADDRESS},
            "preconditions": [USER_EXISTS],
            "effects": [
                "UPDATE users SET address1 = :address1, address2 = :address2, city = :city, "
                "state = :state, country = :country, zip = :zip WHERE user_id = :user_id"
            ],
            "returns": USER,
        },
        "modify_pending_order_payment": {
            "description": "Modify the payment method of a pending order. The agent needs to "
            "explain the modification detail and ask for explicit user confirmation (yes/no) "
            "to proceed.",
            "params": {"order_id": ORDER_ID, "payment_method_id": PM_ID},
            "let": {
                "amount": "SELECT json_extract(payment_history, '$[0].amount') FROM orders "
                "WHERE order_id = :order_id",
                "old_pm": "SELECT json_extract(payment_history, '$[0].payment_method_id') FROM "
                "orders WHERE order_id = :order_id",
            },
            "preconditions": [
                ORDER_EXISTS,
                _PENDING_LIKE,
                PM_OF_ORDER_USER,
                {
                    "check": "SELECT json_array_length(payment_history) = 1 AND "
                    "json_extract(payment_history, '$[0].transaction_type') = 'payment' FROM "
                    "orders WHERE order_id = :order_id",
                    "error": "There should be exactly one payment for a pending order",
                },
                {
                    "check": "SELECT :old_pm IS NOT :payment_method_id",
                    "error": "The new payment method should be different from the current one",
                },
                _gift_card_covers(":amount", "Insufficient gift card balance to pay for the order"),
            ],  # fmt: skip
            "effects": [
                "UPDATE orders SET payment_history = json_insert(payment_history, '$[#]', "
                "json_object('transaction_type', 'payment', 'amount', :amount, "
                "'payment_method_id', :payment_method_id), '$[#]', json_object("
                "'transaction_type', 'refund', 'amount', :amount, 'payment_method_id', "
                ":old_pm)) WHERE order_id = :order_id",
                "UPDATE payment_methods SET balance = round(balance - :amount, 2) WHERE id = "
                ":payment_method_id AND source = 'gift_card'",
                "UPDATE payment_methods SET balance = round(balance + :amount, 2) WHERE id = "
                ":old_pm AND source = 'gift_card'",
            ],
            "returns": ORDER,
        },
        "modify_pending_order_items": {
            "description": "Modify items in a pending order to new items of the same product "
            "type. For a pending order, this function can only be called once. The agent "
            "needs to explain the exchange detail and ask for explicit user confirmation "
            "(yes/no) to proceed.",
            "params": {
                "order_id": ORDER_ID,
                "item_ids": ITEM_IDS,
                "new_item_ids": NEW_ITEM_IDS,
                "payment_method_id": PM_ID,
            },
            "let": {
                "items_before": ITEMS_BEFORE,
                "diff": _DIFF,
                "last_price": "SELECT price FROM variants WHERE item_id = "
                "json_extract(:new_item_ids, '$[#-1]')",
                "last_options": "SELECT options FROM variants WHERE item_id = "
                "json_extract(:new_item_ids, '$[#-1]')",
                "final_ids": _FINAL_IDS,
            },
            "preconditions": [
                ORDER_EXISTS,
                {
                    "check": "SELECT status = 'pending' FROM orders WHERE order_id = :order_id",
                    "error": "Non-pending order cannot be modified",
                },
                {**_counts("{bad} not found")},
                _same_length("The number of items to be exchanged should match"),
                _pairs(same_id_refused=True),
                PM_OF_ORDER_USER,
                _gift_card_covers(
                    ":diff", "Insufficient gift card balance to pay for the new item"
                ),
            ],  # fmt: skip
            "effects": [
                "UPDATE orders SET payment_history = json_insert(payment_history, '$[#]', "
                "json_object('transaction_type', CASE WHEN :diff > 0 THEN 'payment' ELSE "
                "'refund' END, 'amount', abs(:diff), 'payment_method_id', :payment_method_id)) "
                "WHERE order_id = :order_id",
                "UPDATE payment_methods SET balance = round(balance - :diff, 2) WHERE id = "
                ":payment_method_id AND source = 'gift_card'",
                "UPDATE orders SET status = 'pending (item modified)' WHERE order_id = :order_id",
                _MODIFY_ITEMS,
            ],
            "returns": ORDER,
        },
        "return_delivered_order_items": {
            "description": "Return some items of a delivered order. The order status will be "
            "changed to 'return requested'. The agent needs to explain the return detail and "
            "ask for explicit user confirmation (yes/no) to proceed. The user will receive "
            "follow-up email for how and where to return the item.",
            "params": {"order_id": ORDER_ID, "item_ids": ITEM_IDS, "payment_method_id": PM_ID},
            "preconditions": [
                ORDER_EXISTS,
                {
                    "check": "SELECT status = 'delivered' FROM orders WHERE order_id = :order_id",
                    "error": "Non-delivered order cannot be returned",
                },
                PM_OF_ORDER_USER,
                {
                    "check": "SELECT source = 'gift_card' OR id = (SELECT json_extract("
                    "payment_history, '$[0].payment_method_id') FROM orders WHERE order_id = "
                    ":order_id) FROM payment_methods WHERE id = :payment_method_id",
                    "error": "Payment method should be the original payment method",
                },
                _counts("Some item not found"),
            ],  # fmt: skip
            "effects": [
                "UPDATE orders SET status = 'return requested', return_items = "
                f"{_sorted('item_ids')}, return_payment_method_id = :payment_method_id "
                "WHERE order_id = :order_id"
            ],
            "returns": ORDER,
        },
        "exchange_delivered_order_items": {
            "description": "Exchange items in a delivered order to new items of the same "
            "product type. For a delivered order, return or exchange can be only done once "
            "by the agent. The agent needs to explain the exchange detail and ask for "
            "explicit user confirmation (yes/no) to proceed.",
            "params": {
                "order_id": ORDER_ID,
                "item_ids": ITEM_IDS,
                "new_item_ids": NEW_ITEM_IDS,
                "payment_method_id": PM_ID,
            },
            "let": {"diff": f"SELECT round(({_DIFF}), 2)"},
            "preconditions": [
                ORDER_EXISTS,
                {
                    "check": "SELECT status = 'delivered' FROM orders WHERE order_id = :order_id",
                    "error": "Non-delivered order cannot be exchanged",
                },
                _counts("Number of {bad} not found."),
                _same_length("The number of items to be exchanged should match."),
                _pairs(same_id_refused=False),
                PM_OF_ORDER_USER,
                _gift_card_covers(
                    ":diff", "Insufficient gift card balance to pay for the price difference"
                ),
            ],  # fmt: skip
            "effects": [
                "UPDATE orders SET status = 'exchange requested', exchange_items = "
                f"{_sorted('item_ids')}, exchange_new_items = {_sorted('new_item_ids')}, "
                "exchange_payment_method_id = :payment_method_id, exchange_price_difference = "
                ":diff WHERE order_id = :order_id"
            ],
            "returns": ORDER,
        },
    }
