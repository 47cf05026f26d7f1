"""Reviews and ratings of catalog items: one review per user and item, editable, removable.

Invariant: at most one published review per user and item. Seed choices: the rating scale
wording, whether reviews can be edited, the minimum text length.
"""

from __future__ import annotations

from typing import Any

from synth.generate.builder import Builder, exists, pk, text, when

NAME = "reviews"
REQUIRES: tuple[str, ...] = ("accounts", "catalog")


def apply(b: Builder, params: dict[str, Any]) -> None:
    rng = b.rng(NAME)
    item = b.shared["item"]
    it, ik, inn = item["table"], item["key"], item["role"].noun
    uid, un = b.uid, b.user.noun
    t = rng.choice(["reviews", "ratings", "feedback_entries"])
    edit = rng.random() < 0.6
    b.table(
        t,
        {
            "description": f"What {un}s say about {inn}s, rated 1 to 5.",
            "rows": 90,
            "natural_key": [uid, ik, "created_at"],
            "columns": {
                "review_id": pk("RV######", generated=True),
                uid: {"type": "string", "references": f"{b.ut}.{uid}"},
                ik: {"type": "string", "references": f"{it}.{ik}"},
                "rating": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 5,
                    "check": "rating BETWEEN 1 AND 5",
                },
                "body": {**text(nullable=False), "max_length": 500},
                "status": {
                    "type": "enum",
                    "values": ["published", "removed"],
                    "faker": {
                        "sql": f"SELECT CASE WHEN EXISTS (SELECT 1 FROM {t} o WHERE o.{uid} = {t}.{uid} AND o.{ik} = {t}.{ik} AND o.review_id < {t}.review_id) THEN 'removed' ELSE 'published' END"
                    },
                },
                "created_at": when("2023-06-01 00:00:00", "2024-05-15 12:00:00"),
            },
        },
    )
    b.invariant(
        {
            "name": f"one_published_review_per_{item['role'].key}",
            "description": f"A {un} has at most one published review of a {inn}.",
            "violations": f"SELECT {uid}, {ik} FROM {t} WHERE status = 'published' GROUP BY {uid}, {ik} HAVING COUNT(*) > 1",
            "scope": {t: uid},
        }
    )
    b.tool(
        f"list_{item['role'].key}_reviews",
        {
            "description": f"The published reviews of a {inn} with its average rating, newest first.",
            "params": {ik: {"type": "string", "references": f"{it}.{ik}"}},
            "reads": [it, t],
            "preconditions": [exists(it, ik)],
            "returns": {
                "query": f"SELECT review_id, rating, body, created_at FROM {t} WHERE {ik} = :{ik} AND status = 'published' ORDER BY created_at DESC, review_id LIMIT 20",
                "shape": "list",
            },
        },
    )
    b.tool(
        f"get_{item['role'].key}_rating",
        {
            "description": f"Average rating and number of published reviews of a {inn}.",
            "params": {ik: {"type": "string", "references": f"{it}.{ik}"}},
            "reads": [it, t],
            "preconditions": [exists(it, ik)],
            "returns": {
                "query": f"SELECT :{ik} AS {ik}, round(AVG(rating), 2) AS average_rating, COUNT(*) AS reviews FROM {t} WHERE {ik} = :{ik} AND status = 'published'"
            },
        },
    )
    b.tool(
        f"write_{item['role'].key}_review",
        {
            "description": f"Publish a {un}'s review of a {inn}; one published review per {inn}.",
            "params": {
                uid: b.user_param(),
                ik: {"type": "string", "references": f"{it}.{ik}"},
                "rating": {"type": "integer", "minimum": 1, "maximum": 5},
                "body": {"type": "string", "min_length": 1, "max_length": 500},
            },
            "reads": [b.ut, it, t],
            "writes": [t],
            "generate": {"review_id": {"pattern": "RV######", "table": t, "column": "review_id"}},
            "preconditions": [
                b.user_exists(),
                exists(it, ik),
                {
                    "check": f"SELECT NOT EXISTS (SELECT 1 FROM {t} WHERE {uid} = :{uid} AND {ik} = :{ik} AND status = 'published')",
                    "error": f"The {un} already reviewed {inn} {{{ik}}}.",
                },
            ],
            "effects": [
                f"INSERT INTO {t} (review_id, {uid}, {ik}, rating, body, status, created_at) VALUES (:review_id, :{uid}, :{ik}, :rating, :body, 'published', :now)"
            ],
            "returns": {
                "query": f"SELECT review_id, {ik}, rating, status FROM {t} WHERE review_id = :review_id"
            },
        },
    )
    published = {
        "check": f"SELECT status = 'published', status FROM {t} WHERE review_id = :review_id",
        "error": "Review {review_id} is {status}.",
    }
    rp = {"review_id": {"type": "string", "references": f"{t}.review_id"}}
    if edit:
        b.tool(
            "edit_review",
            {
                "description": "Change the rating and text of a published review.",
                "params": {
                    **rp,
                    "rating": {"type": "integer", "minimum": 1, "maximum": 5},
                    "body": {"type": "string", "min_length": 1, "max_length": 500},
                },
                "reads": [t],
                "writes": [t],
                "preconditions": [exists(t, "review_id"), published],
                "effects": [
                    f"UPDATE {t} SET rating = :rating, body = :body WHERE review_id = :review_id"
                ],
                "returns": {
                    "query": f"SELECT review_id, rating, body FROM {t} WHERE review_id = :review_id"
                },
            },
        )
    b.tool(
        "remove_review",
        {
            "description": "Take down a published review at its author's request.",
            "params": rp,
            "reads": [t],
            "writes": [t],
            "preconditions": [exists(t, "review_id"), published],
            "effects": [f"UPDATE {t} SET status = 'removed' WHERE review_id = :review_id"],
            "returns": {"query": f"SELECT review_id, status FROM {t} WHERE review_id = :review_id"},
        },
    )
    b.say(
        "Reviews",
        f"A {un} may publish one review per {inn}"
        + (" and edit or remove it." if edit else " and remove it; reviews cannot be edited."),
    )
