"""An airline world's database as tau2's ``db.json`` document (``FlightDB.model_dump``):
the inverse of ``AIRLINE_MAPPING``, so a final state can be compared with tau2's own."""

from __future__ import annotations

import json
from typing import Any

from synth.importers.tau2_doc import payment_methods, table_rows, user_identity

_CABINS = ("basic_economy", "economy", "business")
_TIMES = (
    "estimated_departure_time_est", "estimated_arrival_time_est",
    "actual_departure_time_est", "actual_arrival_time_est",
)  # fmt: skip
_TABLES = (
    "flights", "flight_dates", "users", "payment_methods", "saved_passengers",
    "reservations", "reservation_flights", "reservation_passengers",
)  # fmt: skip


def _airline_payment_fields(source: str) -> tuple[str, ...]:
    """A card keeps its brand and last four digits; a gift card or certificate its amount."""
    return ("brand", "last_four") if source == "credit_card" else ("amount",)


def _date_status(d: dict[str, Any]) -> dict[str, Any]:
    """One date of a flight as tau2's status model dumps it (only its own fields)."""
    out: dict[str, Any] = {"status": d["status"]}
    if d["status"] == "available":
        out["available_seats"] = {c: d[f"{c}_seats"] for c in _CABINS}
        out["prices"] = {c: d[f"{c}_price"] for c in _CABINS}
    out.update({k: d[k] for k in _TIMES if d[k] is not None})
    return out


def _grouped(rows: list[dict[str, Any]], key: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in sorted(rows, key=lambda r: (r[key], r.get("position", 0))):
        out.setdefault(r[key], []).append(r)
    return out


def to_airline_document(db_bytes: bytes) -> dict[str, Any]:
    """The database as ``{flights, users, reservations}`` in tau2's nesting."""
    rows = table_rows(db_bytes, _TABLES)
    dates: dict[str, dict[str, Any]] = {}
    for d in rows["flight_dates"]:
        dates.setdefault(d["flight_number"], {})[d["date"]] = _date_status(d)
    flights = {
        f["flight_number"]: {**f, "dates": dates.get(f["flight_number"], {})}
        for f in rows["flights"]
    }
    pms = payment_methods(rows["payment_methods"], _airline_payment_fields)
    person = ("first_name", "last_name", "dob")
    saved = _grouped(rows["saved_passengers"], "user_id")
    users = {
        u["user_id"]: {
            **user_identity(u),
            "dob": u["dob"],
            "payment_methods": pms.get(u["user_id"], {}),
            "saved_passengers": [{k: p[k] for k in person} for p in saved.get(u["user_id"], [])],
            "membership": u["membership"],
            "reservations": json.loads(u["reservations"]),
        }
        for u in rows["users"]
    }
    legs = _grouped(rows["reservation_flights"], "reservation_id")
    people = _grouped(rows["reservation_passengers"], "reservation_id")
    leg = ("flight_number", "origin", "destination", "date", "price")
    reservations = {}
    for r in rows["reservations"]:
        rid = r["reservation_id"]
        reservations[rid] = {
            **r,
            "flights": [{k: f[k] for k in leg} for f in legs.get(rid, [])],
            "passengers": [{k: p[k] for k in person} for p in people.get(rid, [])],
            "payment_history": json.loads(r["payment_history"]),
        }
    return {"flights": flights, "users": users, "reservations": reservations}
