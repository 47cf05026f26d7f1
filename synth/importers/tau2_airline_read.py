"""tau2-bench airline's read tools (reservation, user, airports, searches, flight status)
as scaleenv tool definitions: the same names, params, results and messages as tau2's
``AirlineTools``. Searches return tau2's DirectFlight documents in tau2's order (flights in
database order; one-stop pairs by first then second flight)."""

from __future__ import annotations

from typing import Any

from synth.importers.tau2_airline_sql import (
    RESERVATION_EXISTS,
    RESERVATION_ID,
    USER,
    USER_EXISTS,
    USER_ID,
    reservation,
)

AIRPORTS = (
    ("SFO", "San Francisco"), ("JFK", "New York"), ("LAX", "Los Angeles"), ("ORD", "Chicago"),
    ("DFW", "Dallas"), ("DEN", "Denver"), ("SEA", "Seattle"), ("ATL", "Atlanta"),
    ("MIA", "Miami"), ("BOS", "Boston"), ("PHX", "Phoenix"), ("IAH", "Houston"),
    ("LAS", "Las Vegas"), ("MCO", "Orlando"), ("EWR", "Newark"), ("CLT", "Charlotte"),
    ("MSP", "Minneapolis"), ("DTW", "Detroit"), ("PHL", "Philadelphia"), ("LGA", "LaGuardia"),
)  # fmt: skip
_ORIGIN_DEST = {
    "origin": {"type": "string", "description": "The origin city airport in three letters, such as 'JFK'."},
    "destination": {"type": "string", "description": "The destination city airport in three letters, such as 'LAX'."},
}  # fmt: skip
_SEARCH_DATE = {
    "type": "string",
    "references": "flight_dates.date",
    "description": "The date of the flight in the format 'YYYY-MM-DD', such as '2024-05-01'.",
}


def _direct(date: str, table: str = "f", dates: str = "d") -> str:
    """tau2's DirectFlight document (``date`` is NULL in a direct search, as in tau2)."""
    return (
        f"json_object('flight_number', {table}.flight_number, 'origin', {table}.origin, "
        f"'destination', {table}.destination, 'status', 'available', "
        f"'scheduled_departure_time_est', {table}.scheduled_departure_time_est, "
        f"'scheduled_arrival_time_est', {table}.scheduled_arrival_time_est, 'date', {date}, "
        f"'available_seats', json_object('basic_economy', {dates}.basic_economy_seats, "
        f"'economy', {dates}.economy_seats, 'business', {dates}.business_seats), 'prices', "
        f"json_object('basic_economy', {dates}.basic_economy_price, 'economy', "
        f"{dates}.economy_price, 'business', {dates}.business_price))"
    )


def read_tools() -> dict[str, Any]:
    """The six read tools; tau2's fixed airport list is a VALUES table in the query."""
    airports = ", ".join(f"({i}, '{a}', '{c}')" for i, (a, c) in enumerate(AIRPORTS))
    flight_number = {
        "type": "string",
        "references": "flights.flight_number",
        "description": "The flight number.",
    }
    return {
        "get_reservation_details": {
            "description": "Get the details of a reservation.",
            "params": {
                "reservation_id": {
                    **RESERVATION_ID,
                    "description": "The reservation ID, such as '8JX2WO'.",
                }
            },
            "preconditions": [RESERVATION_EXISTS],
            "returns": reservation(),
        },  # fmt: skip
        "get_user_details": {
            "description": "Get the details of a user, including their reservations.",
            "params": {"user_id": USER_ID},
            "preconditions": [USER_EXISTS],
            "returns": USER,
        },
        "list_all_airports": {
            "description": "Returns a list of all available airports.",
            "returns": {
                "query": "SELECT json_group_array(json_object('iata', column2, 'city', column3)) "
                f"AS airports FROM (SELECT * FROM (VALUES {airports}) ORDER BY column1)",
                "shape": "scalar",
                "json_columns": ["airports"],
            },
        },
        "search_direct_flight": {
            "description": "Search for direct flights between two cities on a specific date.",
            "params": {**_ORIGIN_DEST, "date": _SEARCH_DATE},
            "returns": {
                "query": "SELECT json_group_array(json(o)) AS flights FROM (SELECT "
                f"{_direct('NULL')} AS o FROM flights f JOIN flight_dates d ON d.flight_number "
                "= f.flight_number AND d.date = :date WHERE f.origin = :origin AND "
                "f.destination = :destination AND d.status = 'available' ORDER BY f.rowid)",
                "shape": "scalar",
                "json_columns": ["flights"],
            },
        },
        "search_onestop_flight": {
            "description": "Search for one-stop flights between two cities on a specific date.",
            "params": {
                **_ORIGIN_DEST,
                "date": {
                    **_SEARCH_DATE,
                    "description": "The date of the flight in the format 'YYYY-MM-DD', such as '2024-05-01'.",
                },
            },
            "returns": {
                # tau2's second date: '2024-05-' || day + 1 (not zero-padded) after a '+1' arrival
                "query": "SELECT json_group_array(json_array(json(o1), json(o2))) AS pairs FROM "
                f"(SELECT {_direct(':date', 'f1', 'd1')} AS o1, {_direct('d2.date', 'f2', 'd2')} "
                "AS o2 FROM flights f1 JOIN flight_dates d1 ON d1.flight_number = "
                "f1.flight_number AND d1.date = :date AND d1.status = 'available' JOIN flights "
                "f2 ON f2.origin = f1.destination AND f2.destination = :destination AND "
                "f2.scheduled_departure_time_est >= f1.scheduled_arrival_time_est JOIN "
                "flight_dates d2 ON d2.flight_number = f2.flight_number AND d2.status = "
                "'available' AND d2.date = CASE WHEN instr(f1.scheduled_arrival_time_est, '+1') "
                "THEN '2024-05-' || (CAST(substr(:date, -2) AS INTEGER) + 1) ELSE :date END "
                "WHERE f1.origin = :origin ORDER BY f1.rowid, f2.rowid)",
                "shape": "scalar",
                "json_columns": ["pairs"],
            },
        },  # fmt: skip
        "get_flight_status": {
            "description": "Get the status of a flight.",
            "params": {
                "flight_number": flight_number,
                "date": {**_SEARCH_DATE, "description": "The date of the flight."},
            },
            "preconditions": [
                {
                    "check": "SELECT 1 FROM flights WHERE flight_number = :flight_number",
                    "error": "Flight {flight_number} not found",
                },
                {
                    "check": "SELECT 1 FROM flight_dates WHERE flight_number = :flight_number AND date = :date",
                    "error": "Flight {flight_number} not found on date {date}",
                },
            ],
            "returns": {
                "query": "SELECT status FROM flight_dates WHERE flight_number = :flight_number AND date = :date",
                "shape": "scalar",
            },
        },  # fmt: skip
    }
