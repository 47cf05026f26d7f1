"""The SQL pieces tau2 retail's tools share: params, the Order and User result shapes
(one each, used by seven and three tools), and the checks tau2 runs in the same order in
several tools (item counts, (old, new) pairs, gift card balance)."""

from __future__ import annotations

ORDER_ID = {
    "type": "string",
    "references": "orders.order_id",
    "description": "The order id, such as '#W0000000'. Be careful there is a '#' symbol at "
    "the beginning of the order id.",
}
USER_ID = {
    "type": "string",
    "references": "users.user_id",
    "description": "The user id, such as 'sara_doe_496'.",
}
PM_ID = {
    "type": "string",
    "references": "payment_methods.id",
    "description": "The payment method id to pay or receive refund for the item price "
    "difference, such as 'gift_card_0000000' or 'credit_card_0000000'. These can be looked "
    "up from the user or order details.",
}
ITEM_IDS = {
    "type": "array",
    "items": {"type": "string", "references": "order_items.item_id"},
    "description": "The item ids, each such as '1008292230'. There could be duplicate items "
    "in the list.",
}
NEW_ITEM_IDS = {
    "type": "array",
    "items": {"type": "string", "references": "variants.item_id"},
    "description": "The new item ids, each such as '1008292230'. Each new item id should "
    "match the item id in the same position and be of the same product.",
}
ADDRESS = {
    "address1": {"type": "string", "description": "The first line of the address, such as '123 Main St'."},
    "address2": {"type": "string", "description": "The second line of the address, such as 'Apt 1' or ''."},
    "city": {"type": "string", "description": "The city, such as 'San Francisco'."},
    "state": {"type": "string", "description": "The state, such as 'CA'."},
    "country": {"type": "string", "description": "The country, such as 'USA'."},
    "zip": {"type": "string", "description": "The zip code, such as '12345'."},
}  # fmt: skip
NEW_ADDRESS = (
    "json_object('address1', :address1, 'address2', :address2, 'city', :city, "
    "'country', :country, 'state', :state, 'zip', :zip)"
)
_ITEMS = (
    "(SELECT json_group_array(json_object('name', name, 'product_id', product_id, 'item_id', "
    "item_id, 'price', price, 'options', json(options))) FROM (SELECT * FROM order_items oi "
    "WHERE oi.order_id = orders.order_id ORDER BY oi.position)) AS items"
)
_JSON_COLS = [
    "address", "items", "fulfillments", "payment_history", "exchange_items",
    "exchange_new_items", "return_items",
]  # fmt: skip
ORDER = {
    "query": f"SELECT order_id, user_id, address, {_ITEMS}, status, fulfillments, payment_history, "
    "cancel_reason, exchange_items, exchange_new_items, exchange_payment_method_id, "
    "exchange_price_difference, return_items, return_payment_method_id "
    "FROM orders WHERE order_id = :order_id",
    "json_columns": _JSON_COLS,
    # values inside the JSON columns that later calls take: an item to return or exchange,
    # its product (whose variants an exchange picks from), the payment method used
    "references": {
        "items[].item_id": "order_items.item_id",
        "items[].product_id": "order_items.product_id",
        "payment_history[].payment_method_id": "payment_methods.id",
    },
}
_PM_OBJECT = (
    "CASE source WHEN 'credit_card' THEN json_object('source', source, 'id', id, 'brand', "
    "brand, 'last_four', last_four) WHEN 'gift_card' THEN json_object('source', source, "
    "'id', id, 'balance', balance) ELSE json_object('source', source, 'id', id) END"
)
USER = {
    "query": "SELECT u.user_id, json_object('first_name', u.first_name, 'last_name', "
    "u.last_name) AS name, json_object('address1', u.address1, 'address2', u.address2, "
    "'city', u.city, 'country', u.country, 'state', u.state, 'zip', u.zip) AS address, "
    "u.email, (SELECT json_group_object(id, "
    f"json({_PM_OBJECT})) FROM (SELECT * FROM payment_methods p WHERE p.user_id = u.user_id "
    "ORDER BY p.rowid)) AS payment_methods, u.orders FROM users u WHERE u.user_id = :user_id",
    "json_columns": ["name", "address", "payment_methods", "orders"],
    # payment methods are an object keyed by id ('*': each of its values); orders a list
    "references": {"payment_methods.*.id": "payment_methods.id", "orders[]": "orders.order_id"},
}
_VARIANT_OBJECT = (
    "json_object('item_id', item_id, 'options', json(options), 'available', "
    "json(CASE WHEN available THEN 'true' ELSE 'false' END), 'price', price)"
)
ORDER_EXISTS = {
    "check": "SELECT 1 FROM orders WHERE order_id = :order_id",
    "error": "Order not found",
}
USER_EXISTS = {"check": "SELECT 1 FROM users WHERE user_id = :user_id", "error": "User not found"}
PM_OF_ORDER_USER = {
    "check": "SELECT 1 FROM payment_methods WHERE id = :payment_method_id AND user_id = "
    "(SELECT user_id FROM orders WHERE order_id = :order_id)",
    "error": "Payment method not found",
}
ITEMS_BEFORE = (
    "SELECT json_group_array(item_id) FROM (SELECT item_id FROM order_items WHERE order_id = "
    ":order_id ORDER BY position)"
)  # the order's item ids by position (positions are 0, 1, ...: tau2's list indexes)
_OLD = (
    "(SELECT i.{f} FROM order_items i WHERE i.order_id = :order_id AND i.item_id = a.value "
    "ORDER BY i.position LIMIT 1)"
)


def _counts(message: str) -> dict[str, str]:
    """Each item id at most as often as the order holds it; the first one that is not."""
    return {
        "check": "SELECT bad IS NULL, bad FROM (SELECT (SELECT a.value FROM "
        "json_each(:item_ids) a WHERE (SELECT COUNT(*) FROM json_each(:item_ids) b WHERE "
        "b.value = a.value) > (SELECT COUNT(*) FROM order_items i WHERE i.order_id = :order_id "
        "AND i.item_id = a.value) ORDER BY a.key LIMIT 1) AS bad)",
        "error": message,
    }


def _same_length(message: str) -> dict[str, str]:
    return {
        "check": "SELECT json_array_length(:item_ids) = json_array_length(:new_item_ids)",
        "error": message,
    }


def _pairs(same_id_refused: bool) -> dict[str, str]:
    """tau2's loop over (old, new) pairs: the first failing pair's message."""
    same = (
        "WHEN a.value = b.value THEN 'The new item id should be different from the old item id' "
        if same_id_refused
        else ""
    )
    return {
        "check": "SELECT msg IS NULL, msg FROM (SELECT (SELECT CASE "
        f"{same}WHEN v.item_id IS NULL THEN 'Variant not found' WHEN NOT v.available THEN "
        "'New item ' || b.value || ' not found or available' END AS m FROM "
        "json_each(:item_ids) a JOIN json_each(:new_item_ids) b ON b.key = a.key LEFT JOIN "
        f"variants v ON v.item_id = b.value AND v.product_id = {_OLD.format(f='product_id')} "
        "WHERE m IS NOT NULL ORDER BY a.key LIMIT 1) AS msg)",
        "error": "{msg}",
    }


_DIFF = (
    "SELECT SUM(v.price - {old}) FROM json_each(:item_ids) a JOIN json_each(:new_item_ids) b "
    "ON b.key = a.key JOIN variants v ON v.item_id = b.value"
).format(old=_OLD.format(f="price"))


def _gift_card_covers(amount: str, message: str) -> dict[str, str]:
    return {
        "check": "SELECT NOT EXISTS (SELECT 1 FROM payment_methods WHERE id = "
        f":payment_method_id AND source = 'gift_card' AND balance < {amount})",
        "error": message,
    }


def _sorted(param: str) -> str:
    return f"(SELECT json_group_array(value) FROM (SELECT value FROM json_each(:{param}) ORDER BY value))"


_PENDING_LIKE = {
    "check": "SELECT status LIKE '%pending%' FROM orders WHERE order_id = :order_id",
    "error": "Non-pending order cannot be modified",
}
_FINAL_IDS = (
    "WITH RECURSIVE step(i, ids) AS (SELECT 0, :items_before UNION ALL SELECT i + 1, "
    "json_set(ids, '$[' || (SELECT MIN(e.key) FROM json_each(ids) e WHERE e.value = "
    "json_extract(:item_ids, '$[' || i || ']')) || ']', json_extract(:new_item_ids, '$[' || i "
    "|| ']')) FROM step WHERE i < json_array_length(:item_ids)) SELECT ids FROM step ORDER BY "
    "i DESC LIMIT 1"
)  # pairs applied in order: each replaces the first id still holding its old id
_MODIFY_ITEMS = (
    "UPDATE order_items SET item_id = json_extract(:final_ids, '$[' || position || ']'), "
    "price = :last_price, options = :last_options WHERE order_id = :order_id AND item_id IS "
    "NOT json_extract(:final_ids, '$[' || position || ']')"
)
