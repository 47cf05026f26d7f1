"""Inventory with reservation and release: stock per catalog item and holds a user places.

A hold takes units out of stock at once; releasing it puts them back; stock never goes below
zero (a column check). Seed choices: the per-hold limit (policy rule) and hold lifetime.
"""

from __future__ import annotations

from typing import Any

from synth.generate.builder import Builder, enum, exists, pk, when

NAME = "inventory"
REQUIRES: tuple[str, ...] = ("accounts", "catalog")


def apply(b: Builder, params: dict[str, Any]) -> None:
    rng = b.rng(NAME)
    item = b.shared["item"]
    it, ik, inn = item["table"], item["key"], item["role"].noun
    uid, un = b.uid, b.user.noun
    st = f"{item['role'].key}_stock"
    per_hold = rng.choice([2, 3, 5])
    days = rng.choice([2, 3, 7])
    locations = params.get("locations") or rng.choice(
        [["main store", "warehouse"], ["downtown", "uptown", "airport"], ["north", "south"]]
    )
    b.table(
        st,
        {
            "description": f"Units of each {inn} on hand per location.",
            "rows": 60,
            "natural_key": [ik, "location"],
            "unique": [[ik, "location"]],
            "columns": {
                "stock_id": pk("ST#####"),
                ik: {"type": "string", "references": f"{it}.{ik}"},
                "location": enum(locations),
                "on_hand": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": 30,
                    "check": "on_hand >= 0",
                },
            },
        },
    )
    ht = "holds"
    b.table(
        ht,
        {
            "description": f"Units set aside for a {un} to collect.",
            "rows": 50,
            "natural_key": [uid, "stock_id", "created_at"],
            "columns": {
                "hold_id": pk("HD######", generated=True),
                "stock_id": {"type": "string", "references": f"{st}.stock_id"},
                uid: {"type": "string", "references": f"{b.ut}.{uid}"},
                "quantity": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 3,
                    "check": "quantity > 0",
                },
                "status": enum(["held", "released", "collected"], [0.4, 0.3, 0.3]),
                "created_at": when("2024-04-01 00:00:00", "2024-05-15 12:00:00"),
            },
        },
    )
    b.tool(
        f"check_{item['role'].key}_stock",
        {
            "description": f"Units on hand of a {inn} at each location.",
            "params": {ik: {"type": "string", "references": f"{it}.{ik}"}},
            "reads": [it, st],
            "preconditions": [exists(it, ik)],
            "returns": {
                "query": f"SELECT stock_id, location, on_hand FROM {st} WHERE {ik} = :{ik} ORDER BY location",
                "shape": "list",
            },
        },
    )
    b.tool(
        "place_hold",
        {
            "description": f"Set aside units of a {inn} at one location for a {un} to collect within {days} days.",
            "params": {
                uid: b.user_param(),
                "stock_id": {"type": "string", "references": f"{st}.stock_id"},
                "quantity": {"type": "integer", "minimum": 1, "maximum": 10},
            },
            "reads": [b.ut, st, it],
            "writes": [st, ht],
            "generate": {"hold_id": {"pattern": "HD######", "table": ht, "column": "hold_id"}},
            "preconditions": [
                b.user_exists(),
                exists(st, "stock_id"),
                {
                    "check": f"SELECT i.status = '{item['ok']}', i.status FROM {st} s JOIN {it} i ON i.{ik} = s.{ik} WHERE s.stock_id = :stock_id",
                    "error": f"The {inn} is {{status}}.",
                },
                {
                    "check": f"SELECT on_hand >= :quantity, on_hand FROM {st} WHERE stock_id = :stock_id",
                    "error": "Only {on_hand} on hand.",
                },
            ],
            "effects": [
                f"UPDATE {st} SET on_hand = on_hand - :quantity WHERE stock_id = :stock_id",
                f"INSERT INTO {ht} (hold_id, stock_id, {uid}, quantity, status, created_at) VALUES (:hold_id, :stock_id, :{uid}, :quantity, 'held', :now)",
            ],
            "returns": {
                "query": f"SELECT hold_id, stock_id, quantity, status FROM {ht} WHERE hold_id = :hold_id"
            },
        },
    )
    b.rule(
        {
            "name": f"at_most_{per_hold}_units_per_hold",
            "tool": "place_hold",
            "description": f"A hold is for at most {per_hold} units.",
            "violated": f"SELECT :quantity > {per_hold}",
            "explanation": f"A hold can set aside at most {per_hold} units.",
        }
    )
    b.tool(
        "release_hold",
        {
            "description": "Release a hold; its units go back on hand.",
            "params": {"hold_id": {"type": "string", "references": f"{ht}.hold_id"}},
            "reads": [ht, st],
            "writes": [ht, st],
            "preconditions": [
                exists(ht, "hold_id"),
                {
                    "check": f"SELECT status = 'held', status FROM {ht} WHERE hold_id = :hold_id",
                    "error": "Hold {hold_id} is {status}.",
                },
            ],
            "effects": [
                f"UPDATE {st} SET on_hand = on_hand + (SELECT quantity FROM {ht} WHERE hold_id = :hold_id) WHERE stock_id = (SELECT stock_id FROM {ht} WHERE hold_id = :hold_id)",
                f"UPDATE {ht} SET status = 'released' WHERE hold_id = :hold_id",
            ],
            "returns": {"query": f"SELECT hold_id, status FROM {ht} WHERE hold_id = :hold_id"},
        },
    )
    b.tool(
        f"list_{b.user.key}_holds",
        {
            "description": f"List a {un}'s holds.",
            "params": {uid: b.user_param()},
            "reads": [b.ut, ht, st],
            "preconditions": [b.user_exists()],
            "returns": {
                "query": f"SELECT h.hold_id, s.{ik}, s.location, h.quantity, h.status FROM {ht} h JOIN {st} s ON s.stock_id = h.stock_id WHERE h.{uid} = :{uid} ORDER BY h.created_at DESC, h.hold_id",
                "shape": "list",
            },
        },
    )
    b.say(
        "Holds",
        f"Holds set units aside at one location for {days} days, at most {per_hold} units per hold; releasing a hold returns its units.",
    )
