"""The SQL pieces tau2 airline's tools share: params, the Reservation and User result
shapes (one each, used by six and one tools), the per-flight checks that booking and a
flight change run in tau2's order, and tau2's ``_payment_for_update`` checks."""

from __future__ import annotations

from typing import Any

RESERVATION_ID = {
    "type": "string",
    "references": "reservations.reservation_id",
    "description": "The reservation ID, such as 'ZFA04Y'.",
}
USER_ID = {
    "type": "string",
    "references": "users.user_id",
    "description": "The user ID, such as 'sara_doe_496'.",
}
CABIN = {
    "type": "enum",
    "values": ["business", "economy", "basic_economy"],
    "description": "The cabin class such as 'basic_economy', 'economy', or 'business'.",
}
PAYMENT_ID = {
    "type": "string",
    "references": "payment_methods.id",
    "description": "The payment id stored in user profile, such as 'credit_card_7815826', "
    "'gift_card_7815826', 'certificate_7815826'.",
}
FLIGHTS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "flight_number": {
                "type": "string",
                "references": "flights.flight_number",
                "description": "Flight number, such as 'HAT001'.",
            },
            "date": {
                "type": "string",
                "references": "flight_dates.date",
                "description": "The date for the flight in the format 'YYYY-MM-DD', such as "
                "'2024-05-01'.",
            },
        },
    },
}
PASSENGERS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "first_name": {"type": "string", "description": "Passenger's first name"},
            "last_name": {"type": "string", "description": "Passenger's last name"},
            "dob": {"type": "string", "description": "Date of birth in YYYY-MM-DD format"},
        },
    },
    "description": "An array of objects containing details about each passenger.",
}
PAYMENTS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "payment_id": {
                "type": "string",
                "references": "payment_methods.id",
                "description": "Unique identifier for the payment",
            },
            "amount": {"type": "integer", "description": "Payment amount in dollars"},
        },
    },
    "description": "An array of objects containing details about each payment method.",
}

_FLIGHT_LIST = (
    "(SELECT json_group_array(json_object('flight_number', flight_number, 'origin', origin, "
    "'destination', destination, 'date', date, 'price', price)) FROM (SELECT * FROM "
    "reservation_flights f WHERE f.reservation_id = r.reservation_id ORDER BY f.position)) "
    "AS flights"
)
_PASSENGER_LIST = (
    "(SELECT json_group_array(json_object('first_name', first_name, 'last_name', last_name, "
    "'dob', dob)) FROM (SELECT * FROM reservation_passengers p WHERE p.reservation_id = "
    "r.reservation_id ORDER BY p.position)) AS passengers"
)


def reservation(bind: str = ":reservation_id") -> dict[str, Any]:
    """tau2's Reservation document of the reservation ``bind`` names."""
    return {
        "query": "SELECT r.reservation_id, r.user_id, r.origin, r.destination, r.flight_type, "
        f"r.cabin, {_FLIGHT_LIST}, {_PASSENGER_LIST}, r.payment_history, r.created_at, "
        "r.total_baggages, r.nonfree_baggages, r.insurance, r.status FROM reservations r "
        f"WHERE r.reservation_id = {bind}",
        "json_columns": ["flights", "passengers", "payment_history"],
        "references": {
            "flights[].flight_number": "flights.flight_number",
            "flights[].date": "flight_dates.date",
            "payment_history[].payment_id": "payment_methods.id",
        },
    }


_PM_OBJECT = (
    "CASE source WHEN 'credit_card' THEN json_object('source', source, 'id', id, 'brand', "
    "brand, 'last_four', last_four) ELSE json_object('source', source, 'id', id, 'amount', "
    "amount) END"
)
USER = {
    "query": "SELECT u.user_id, json_object('first_name', u.first_name, 'last_name', "
    "u.last_name) AS name, json_object('address1', u.address1, 'address2', u.address2, "
    "'city', u.city, 'country', u.country, 'state', u.state, 'zip', u.zip) AS address, "
    f"u.email, u.dob, (SELECT json_group_object(id, json({_PM_OBJECT})) FROM (SELECT * FROM "
    "payment_methods p WHERE p.user_id = u.user_id ORDER BY p.rowid)) AS payment_methods, "
    "(SELECT json_group_array(json_object('first_name', first_name, 'last_name', last_name, "
    "'dob', dob)) FROM (SELECT * FROM saved_passengers s WHERE s.user_id = u.user_id ORDER BY "
    "s.position)) AS saved_passengers, u.membership, u.reservations FROM users u WHERE "
    "u.user_id = :user_id",
    "json_columns": ["name", "address", "payment_methods", "saved_passengers", "reservations"],
    "references": {"reservations[]": "reservations.reservation_id"},
}
RESERVATION_EXISTS = {
    "check": "SELECT 1 FROM reservations WHERE reservation_id = :reservation_id",
    "error": "Reservation {reservation_id} not found",
}
USER_EXISTS = {
    "check": "SELECT 1 FROM users WHERE user_id = :user_id",
    "error": "User {user_id} not found",
}
OWNER_EXISTS = {  # tau2 looks the reservation's user up again
    "check": "SELECT 1 FROM users WHERE user_id = :owner",
    "error": "User {owner} not found",
}
OWNER = "SELECT user_id FROM reservations WHERE reservation_id = :reservation_id"


def _by_cabin(kind: str) -> str:
    return (
        f"CASE :cabin WHEN 'business' THEN d.business_{kind} WHEN 'economy' THEN "
        f"d.economy_{kind} WHEN 'basic_economy' THEN d.basic_economy_{kind} END"
    )


def flight_elements(keep_booked: bool) -> str:
    """One row per element of ``:flights`` (``k`` its index): the flight and its date's
    row, the seats and price of ``:cabin``; with ``keep_booked`` the reservation's own
    flight of that number and date when the cabin is unchanged (tau2 keeps it as it is)."""
    kept = (
        "LEFT JOIN reservation_flights rf ON rf.rowid = (SELECT x.rowid FROM "
        "reservation_flights x WHERE x.reservation_id = :reservation_id AND x.flight_number "
        "= json_extract(a.value, '$.flight_number') AND x.date = json_extract(a.value, "
        "'$.date') AND :cabin = (SELECT cabin FROM reservations WHERE reservation_id = "
        ":reservation_id) ORDER BY x.position LIMIT 1) "
        if keep_booked
        else ""
    )
    price = _by_cabin("price")
    if keep_booked:
        cols = (
            f"rf.rowid AS kept, COALESCE(rf.origin, f.origin) AS origin, COALESCE("
            f"rf.destination, f.destination) AS destination, COALESCE(rf.price, {price}) AS price"
        )
    else:
        cols = f"NULL AS kept, f.origin AS origin, f.destination AS destination, {price} AS price"
    return (
        "(SELECT a.key AS k, json_extract(a.value, '$.flight_number') AS fn, "
        f"json_extract(a.value, '$.date') AS dt, {cols}, f.flight_number AS known, d.date AS "
        f"dated, d.status AS status, {_by_cabin('seats')} AS seats FROM json_each(:flights) a "
        f"{kept}LEFT JOIN flights f ON f.flight_number = json_extract(a.value, "
        "'$.flight_number') LEFT JOIN flight_dates d ON d.flight_number = f.flight_number AND "
        "d.date = json_extract(a.value, '$.date'))"
    )


def flights_bookable(elements: str, seats_needed: str) -> dict[str, str]:
    """tau2's loop over the flights: the first failing flight's first failing check."""
    return {
        "check": "SELECT m IS NULL, m FROM (SELECT (SELECT CASE WHEN kept IS NOT NULL THEN "
        "NULL WHEN known IS NULL THEN 'Flight ' || fn || ' not found' WHEN dated IS NULL THEN "
        "'Flight ' || fn || ' not found on date ' || dt WHEN status IS NOT 'available' THEN "
        "'Flight ' || fn || ' not available on date ' || dt WHEN seats < "
        f"{seats_needed} THEN 'Not enough seats on flight ' || fn END AS m FROM {elements} "
        "WHERE m IS NOT NULL ORDER BY k LIMIT 1) AS m)",
        "error": "{m}",
    }


def payment_for_update(amount: str) -> list[dict[str, str]]:
    """tau2's ``_payment_for_update`` checks of ``:payment_id`` of the reservation's user."""
    pm = "FROM payment_methods WHERE user_id = :owner AND id = :payment_id"
    return [
        {"check": f"SELECT 1 {pm}", "error": "Payment method not found"},
        {
            "check": f"SELECT source IS NOT 'certificate' {pm}",
            "error": "Certificate cannot be used to update reservation",
        },
        {
            "check": f"SELECT NOT (source = 'gift_card' AND amount < {amount}) {pm}",
            "error": "Gift card balance is not enough",
        },
    ]


def pay_for_update(amount: str) -> list[Any]:
    """The gift card pays (a negative amount credits it); a non-zero amount is appended to
    the payment history."""
    return [
        "UPDATE payment_methods SET amount = amount - " + amount + " WHERE user_id = :owner AND "
        "id = :payment_id AND source = 'gift_card'",
        {
            "sql": "UPDATE reservations SET payment_history = json_insert(payment_history, "
            f"'$[#]', json_object('payment_id', :payment_id, 'amount', {amount})) WHERE "
            "reservation_id = :reservation_id",
            "when": f"SELECT {amount} <> 0",
        },
    ]


def replace_rows(table: str, source: str, columns: str, values: str) -> list[str]:
    """A reservation's flights or passengers replaced by the rows of ``source``."""
    return [
        f"DELETE FROM {table} WHERE reservation_id = :reservation_id",
        f"INSERT INTO {table} (reservation_id, position, {columns}) SELECT :reservation_id, "
        f"k, {values} FROM {source} ORDER BY k",
    ]
