"""tau2-bench airline's tools as scaleenv tool definitions (same names, params, messages).

The schema is ``tau2_specs/airline.yaml``. Checks run in tau2's order so the first failing
one gives tau2's message; checks over the ``flights`` and ``payment_methods`` arrays name
the first failing element. Amounts are tau2's: integer prices and payments, gift card and
certificate amounts unrounded (tau2 subtracts floats as they are).
"""

from __future__ import annotations

from typing import Any

from synth.importers.tau2_airline_read import read_tools
from synth.importers.tau2_airline_sql import (
    CABIN,
    FLIGHTS,
    OWNER,
    OWNER_EXISTS,
    PASSENGERS,
    PAYMENT_ID,
    PAYMENTS,
    RESERVATION_EXISTS,
    RESERVATION_ID,
    USER_EXISTS,
    USER_ID,
    flight_elements,
    flights_bookable,
    pay_for_update,
    payment_for_update,
    replace_rows,
    reservation,
)

NOW = "2024-05-15T15:00:00"  # tau2's _get_datetime
NEW_IDS = ("HATHAT", "HATHAU", "HATHAV")  # tau2's _get_new_reservation_id candidates
CERTIFICATES = tuple(f"certificate_{n}" for n in (3221322, 3221323, 3221324))

_BOOK_ELEMS = flight_elements(keep_booked=False)
_CHANGE_ELEMS = flight_elements(keep_booked=True)
_SEATS = "({c}_seats - CASE WHEN :cabin = '{c}' THEN :n * (SELECT COUNT(*) FROM json_each(:flights) a WHERE json_extract(a.value, '$.flight_number') = flight_dates.flight_number AND json_extract(a.value, '$.date') = flight_dates.date) ELSE 0 END)"  # fmt: skip
_RF_COLS = ("fn", "origin", "destination", "dt", "price")
_PAYS = (
    "(SELECT a.key AS k, json_extract(a.value, '$.payment_id') AS pid, json_extract(a.value, "
    "'$.amount') AS amt FROM json_each(:payment_methods) a)"
)


def _first_unused(candidates: tuple[str, ...], where: str) -> str:
    """The first candidate id no row holds yet (NULL when all are taken)."""
    whens = " ".join(f"WHEN NOT EXISTS (SELECT 1 {where} = '{c}') THEN '{c}'" for c in candidates)
    return f"SELECT CASE {whens} END"


def tools() -> dict[str, Any]:
    """The 12 airline tools (calculate and transfer_to_human_agents are builtins)."""
    return {**read_tools(), **_write_tools()}


def _write_tools() -> dict[str, Any]:
    return {
        "book_reservation": {
            "description": "Book a reservation.",
            "params": {
                "user_id": {
                    **USER_ID,
                    "description": "The ID of the user to book the reservation such as 'sara_doe_496'`.",
                },
                "origin": {
                    "type": "string",
                    "description": "The IATA code for the origin city such as 'SFO'.",
                },
                "destination": {
                    "type": "string",
                    "description": "The IATA code for the destination city such as 'JFK'.",
                },
                "flight_type": {
                    "type": "enum",
                    "values": ["round_trip", "one_way"],
                    "description": "The type of flight such as 'one_way' or 'round_trip'.",
                },
                "cabin": CABIN,
                "flights": {
                    **FLIGHTS,
                    "description": "An array of objects containing details about each piece of flight.",
                },
                "passengers": PASSENGERS,
                "payment_methods": PAYMENTS,
                "total_baggages": {
                    "type": "integer",
                    "description": "The total number of baggage items to book the reservation.",
                },
                "nonfree_baggages": {
                    "type": "integer",
                    "description": "The number of non-free baggage items to book the reservation.",
                },
                "insurance": {
                    "type": "enum",
                    "values": ["yes", "no"],
                    "description": "Whether the reservation has insurance.",
                },
            },  # fmt: skip
            "let": {
                "new_id": _first_unused(NEW_IDS, "FROM reservations WHERE reservation_id"),
                "n": "SELECT json_array_length(:passengers)",
                "total_price": f"SELECT COALESCE(SUM(price), 0) * :n + CASE WHEN :insurance = "
                f"'yes' THEN 30 * :n ELSE 0 END + 50 * :nonfree_baggages FROM {_BOOK_ELEMS}",
                "paid": "SELECT COALESCE(SUM(json_extract(value, '$.amount')), 0) FROM "
                "json_each(:payment_methods)",
            },
            "preconditions": [
                USER_EXISTS,
                {"check": "SELECT :new_id IS NOT NULL", "error": "Too many reservations"},
                flights_bookable(_BOOK_ELEMS, ":n"),
                {
                    "check": "SELECT m IS NULL, m FROM (SELECT (SELECT CASE WHEN pm.id IS NULL "
                    "THEN 'Payment method ' || pid || ' not found' WHEN pm.source IN "
                    "('gift_card', 'certificate') AND pm.amount < amt THEN 'Not enough balance "
                    f"in payment method ' || pid END AS m FROM {_PAYS} LEFT JOIN "
                    "payment_methods pm ON pm.user_id = :user_id AND pm.id = pid WHERE m IS "
                    "NOT NULL ORDER BY k LIMIT 1) AS m)",
                    "error": "{m}",
                },
                {
                    "check": "SELECT :paid = :total_price",
                    "error": "Payment amount does not add up, total price is {total_price}, "
                    "but paid {paid}",
                },
            ],
            "effects": [
                "UPDATE payment_methods SET amount = amount - (SELECT SUM(amt) FROM "
                f"{_PAYS} WHERE pid = payment_methods.id) WHERE user_id = :user_id AND source "
                f"= 'gift_card' AND id IN (SELECT pid FROM {_PAYS})",
                "DELETE FROM payment_methods WHERE user_id = :user_id AND source = "
                f"'certificate' AND id IN (SELECT pid FROM {_PAYS})",
                "UPDATE flight_dates SET "
                + ", ".join(
                    f"{c}_seats = {_SEATS.format(c=c)}"
                    for c in ("basic_economy", "economy", "business")
                )
                # the booked dates by their key (an index search; EXISTS scanned every date)
                + " WHERE (flight_number, date) IN (SELECT json_extract(a.value, "
                "'$.flight_number'), json_extract(a.value, '$.date') FROM json_each(:flights) a)",
                "INSERT INTO reservations (reservation_id, user_id, origin, destination, "
                "flight_type, cabin, payment_history, created_at, total_baggages, "
                "nonfree_baggages, insurance, status) VALUES (:new_id, :user_id, :origin, "
                ":destination, :flight_type, :cabin, (SELECT json_group_array(json_object("
                f"'payment_id', pid, 'amount', amt)) FROM (SELECT * FROM {_PAYS} ORDER BY k)), "
                f"'{NOW}', :total_baggages, :nonfree_baggages, :insurance, NULL)",
                "INSERT INTO reservation_flights (reservation_id, position, flight_number, "
                "origin, destination, date, price) SELECT :new_id, k, fn, origin, destination, "
                f"dt, price FROM {_BOOK_ELEMS} ORDER BY k",
                "INSERT INTO reservation_passengers (reservation_id, position, first_name, "
                "last_name, dob) SELECT :new_id, key, json_extract(value, '$.first_name'), "
                "json_extract(value, '$.last_name'), json_extract(value, '$.dob') FROM "
                "json_each(:passengers) ORDER BY key",
                "UPDATE users SET reservations = json_insert(reservations, '$[#]', :new_id) "
                "WHERE user_id = :user_id",
            ],
            "returns": reservation(":new_id"),
        },
        "cancel_reservation": {
            "description": "Cancel the whole reservation.",
            "params": {"reservation_id": RESERVATION_ID},
            "let": {
                "history": "SELECT payment_history FROM reservations WHERE reservation_id = "
                ":reservation_id"
            },
            "preconditions": [RESERVATION_EXISTS],
            "effects": [
                # every payment reversed (appended with a negative amount); no gift card is
                # credited and no seat released: tau2 does neither
                "UPDATE reservations SET status = 'cancelled', payment_history = (SELECT "
                "json_group_array(json(v)) FROM (SELECT v FROM (SELECT 0 AS g, h.key AS k, "
                "h.value AS v FROM json_each(:history) h UNION ALL SELECT 1, h.key, "
                "json_object('payment_id', json_extract(h.value, '$.payment_id'), 'amount', "
                "-json_extract(h.value, '$.amount')) FROM json_each(:history) h) ORDER BY g, "
                "k)) WHERE reservation_id = :reservation_id"
            ],
            "returns": reservation(),
        },
        "send_certificate": {
            "description": "Send a certificate to a user. Be careful!",
            "params": {
                "user_id": {
                    **USER_ID,
                    "description": "The ID of the user to book the reservation, such as 'sara_doe_496'.",
                },
                "amount": {
                    "type": "integer",
                    "description": "The amount of the certificate to send.",
                },
            },  # fmt: skip
            "let": {
                "certificate": _first_unused(
                    CERTIFICATES, "FROM payment_methods WHERE user_id = :user_id AND id"
                )
            },
            "preconditions": [
                USER_EXISTS,
                {"check": "SELECT :certificate IS NOT NULL", "error": "Too many certificates"},
            ],
            "effects": [
                "INSERT INTO payment_methods (user_id, id, source, brand, last_four, amount) "
                "VALUES (:user_id, :certificate, 'certificate', NULL, NULL, :amount)"
            ],
            "returns": {
                "query": "SELECT 'Certificate ' || :certificate || ' added to user ' || "
                ":user_id || ' with amount ' || :amount || '.'",
                "shape": "scalar",
            },
        },
        "update_reservation_baggages": {
            "description": "Update the baggage information of a reservation.",
            "params": {
                "reservation_id": {
                    **RESERVATION_ID,
                    "description": "The reservation ID, such as 'ZFA04Y'",
                },
                "total_baggages": {
                    "type": "integer",
                    "description": "The updated total number of baggage items included in the reservation.",
                },
                "nonfree_baggages": {
                    "type": "integer",
                    "description": "The updated number of non-free baggage items included in the reservation.",
                },
                "payment_id": PAYMENT_ID,
            },  # fmt: skip
            "let": {
                "owner": OWNER,
                "total_price": "SELECT 50 * max(0, :nonfree_baggages - nonfree_baggages) FROM "
                "reservations WHERE reservation_id = :reservation_id",
            },
            "preconditions": [
                RESERVATION_EXISTS,
                OWNER_EXISTS,
                *payment_for_update(":total_price"),
            ],
            "effects": [
                *pay_for_update(":total_price"),
                "UPDATE reservations SET total_baggages = :total_baggages, nonfree_baggages = "
                ":nonfree_baggages WHERE reservation_id = :reservation_id",
            ],
            "returns": reservation(),
        },
        "update_reservation_flights": {
            "description": "Update the flight information of a reservation.",
            "params": {
                "reservation_id": RESERVATION_ID,
                "cabin": {**CABIN, "description": "The cabin class of the reservation"},
                "flights": {
                    **FLIGHTS,
                    "description": "An array of objects containing details about each piece of flight in the ENTIRE new reservation. Even if the a flight segment is not changed, it should still be included in the array.",
                },
                "payment_id": PAYMENT_ID,
            },  # fmt: skip
            "let": {
                "owner": OWNER,
                "n": "SELECT COUNT(*) FROM reservation_passengers WHERE reservation_id = "
                ":reservation_id",
                "total_price": f"SELECT (COALESCE((SELECT SUM(price) FROM {_CHANGE_ELEMS}), 0) "
                "- COALESCE((SELECT SUM(price) FROM reservation_flights WHERE reservation_id = "
                ":reservation_id), 0)) * :n",
                # the new list before anything changes (kept flights keep their price)
                "new_flights": "SELECT json_group_array(json_object("
                + ", ".join(f"'{c}', {c}" for c in _RF_COLS)
                + f")) FROM (SELECT * FROM {_CHANGE_ELEMS} ORDER BY k)",
            },
            "preconditions": [
                RESERVATION_EXISTS,
                OWNER_EXISTS,
                flights_bookable(_CHANGE_ELEMS, ":n"),
                *payment_for_update(":total_price"),
            ],
            "effects": [
                # new flights: tau2 neither takes nor releases seats on a change
                *pay_for_update(":total_price"),
                *replace_rows(
                    "reservation_flights",
                    "(SELECT key AS k, value AS v FROM json_each(:new_flights))",
                    "flight_number, origin, destination, date, price",
                    ", ".join(f"json_extract(v, '$.{c}')" for c in _RF_COLS),
                ),
                "UPDATE reservations SET cabin = :cabin WHERE reservation_id = :reservation_id",
            ],
            "returns": reservation(),
        },
        "update_reservation_passengers": {
            "description": "Update the passenger information of a reservation.",
            "params": {"reservation_id": RESERVATION_ID, "passengers": PASSENGERS},
            "preconditions": [
                RESERVATION_EXISTS,
                {
                    "check": "SELECT json_array_length(:passengers) = (SELECT COUNT(*) FROM "
                    "reservation_passengers WHERE reservation_id = :reservation_id)",
                    "error": "Number of passengers does not match",
                },
            ],
            "effects": replace_rows(
                "reservation_passengers",
                "(SELECT key AS k, value AS v FROM json_each(:passengers))",
                "first_name, last_name, dob",
                "json_extract(v, '$.first_name'), json_extract(v, '$.last_name'), "
                "json_extract(v, '$.dob')",
            ),
            "returns": reservation(),
        },
    }
