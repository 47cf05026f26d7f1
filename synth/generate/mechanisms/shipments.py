"""Shipments with tracking and address changes for cases (deliveries, dispatches, pick-ups).

A shipment belongs to a case; its tracking number is what a user reads off a notice. The
delivery address can change only before the parcel leaves. Seed choices: carriers, whether
a shipment can be held at a depot, the table's name.
"""

from __future__ import annotations

from typing import Any

from synth.generate.builder import Builder, enum, exists, pk, when

NAME = "shipments"
REQUIRES: tuple[str, ...] = ("accounts", "lifecycle")


def apply(b: Builder, params: dict[str, Any]) -> None:
    rng = b.rng(NAME)
    case = b.shared["case"]
    ct, ck, cn = case["table"], case["key"], case["role"].noun
    noun = params.get("noun") or rng.choice(["shipment", "delivery", "dispatch"])
    t = {"shipment": "shipments", "delivery": "deliveries", "dispatch": "dispatches"}.get(
        noun, f"{noun}s"
    )
    key = f"{noun}_id"
    carriers = params.get("carriers") or rng.choice(
        [["UPS", "FedEx", "USPS"], ["DHL", "UPS", "OnTrac"], ["Local courier", "USPS", "FedEx"]]
    )
    hold = rng.random() < 0.5
    states = ["label_created", "in_transit", "delivered", "returned"] + (
        ["held_at_depot"] if hold else []
    )
    b.table(
        t,
        {
            "description": f"{noun.capitalize()}s of {cn}s with their tracking numbers and delivery addresses.",
            "rows": 90,
            "natural_key": ["tracking_number"],
            "columns": {
                key: pk("SH######"),
                ck: {"type": "string", "references": f"{ct}.{ck}"},
                "carrier": enum(carriers),
                "tracking_number": {
                    "type": "string",
                    "unique": True,
                    "max_length": 18,
                    "faker": {"pattern": "1Z##########"},
                },
                "status": enum(states, [0.3, 0.3, 0.3, 0.1] + ([0.05] if hold else [])),
                "street": {
                    "type": "string",
                    "max_length": 120,
                    "faker": {"provider": "street_address"},
                },
                "city": {"type": "string", "max_length": 60, "faker": {"provider": "city"}},
                "postal_code": {"type": "string", "max_length": 10, "faker": {"pattern": "#####"}},
                "updated_at": when("2024-04-01 00:00:00", "2024-05-15 12:00:00"),
            },
        },
    )
    kp = {key: {"type": "string", "references": f"{t}.{key}"}}
    b.tool(
        f"track_{noun}",
        {
            "description": f"Look up a {noun} by its tracking number.",
            "params": {
                "tracking_number": {
                    "type": "string",
                    "references": f"{t}.tracking_number",
                    "max_length": 18,
                }
            },
            "reads": [t],
            "preconditions": [
                {
                    "check": f"SELECT 1 FROM {t} WHERE tracking_number = :tracking_number",
                    "error": "No parcel with tracking number {tracking_number}.",
                }
            ],
            "returns": {
                "query": f"SELECT {key}, {ck}, carrier, status, city, updated_at FROM {t} WHERE tracking_number = :tracking_number"
            },
        },
    )
    b.tool(
        f"get_{noun}",
        {
            "description": f"Get a {noun} with its address and status.",
            "params": kp,
            "reads": [t],
            "preconditions": [exists(t, key)],
            "returns": {
                "query": f"SELECT {key}, {ck}, carrier, tracking_number, status, street, city, postal_code FROM {t} WHERE {key} = :{key}"
            },
        },
    )
    b.tool(
        f"list_{case['role'].key}_{t}",
        {
            "description": f"List the {noun}s of a {cn}.",
            "params": {ck: {"type": "string", "references": f"{ct}.{ck}"}},
            "reads": [ct, t],
            "preconditions": [exists(ct, ck)],
            "returns": {
                "query": f"SELECT {key}, carrier, tracking_number, status FROM {t} WHERE {ck} = :{ck} ORDER BY {key}",
                "shape": "list",
            },
        },
    )
    b.tool(
        f"change_{noun}_address",
        {
            "description": f"Change where a {noun} goes, while its label is created and it has not left.",
            "params": {
                **kp,
                "street": {"type": "string", "min_length": 3, "max_length": 120},
                "city": {"type": "string", "min_length": 2, "max_length": 60},
                "postal_code": {"type": "string", "pattern": r"^\d{5}$"},
            },
            "reads": [t],
            "writes": [t],
            "preconditions": [
                exists(t, key),
                {
                    "check": f"SELECT status = 'label_created', status FROM {t} WHERE {key} = :{key}",
                    "error": f"{noun.capitalize()} {{{key}}} is {{status}}; the address can no longer change.",
                },
            ],
            "effects": [
                f"UPDATE {t} SET street = :street, city = :city, postal_code = :postal_code, updated_at = :now WHERE {key} = :{key}"
            ],
            "returns": {
                "query": f"SELECT {key}, street, city, postal_code FROM {t} WHERE {key} = :{key}"
            },
        },
    )
    if hold:
        b.tool(
            f"hold_{noun}_at_depot",
            {
                "description": f"Hold an in-transit {noun} at the carrier's depot for pick-up.",
                "params": kp,
                "reads": [t],
                "writes": [t],
                "preconditions": [
                    exists(t, key),
                    {
                        "check": f"SELECT status = 'in_transit', status FROM {t} WHERE {key} = :{key}",
                        "error": f"{noun.capitalize()} {{{key}}} is {{status}}, not in transit.",
                    },
                ],
                "effects": [
                    f"UPDATE {t} SET status = 'held_at_depot', updated_at = :now WHERE {key} = :{key}"
                ],
                "returns": {"query": f"SELECT {key}, status FROM {t} WHERE {key} = :{key}"},
            },
        )
    b.say(
        f"{noun.capitalize()}s",
        f"The delivery address of a {noun} can change only while its label is created (before it leaves); carriers: {', '.join(carriers)}.",
        f"An in-transit {noun} can be held at the depot for pick-up." if hold else "",
    )
