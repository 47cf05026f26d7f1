"""Loyalty points and tiers: a points ledger per user, redemptions, tier upgrades.

Invariant: a user's points balance equals the sum of their ledger (seeding fills the balance
from the seeded ledger). Seed choices: reward catalogue and costs, tier thresholds, the
programme's name.
"""

from __future__ import annotations

from typing import Any

from synth.generate.builder import Builder, enum, pk, sql, when

NAME = "loyalty"
REQUIRES: tuple[str, ...] = ("accounts",)


def apply(b: Builder, params: dict[str, Any]) -> None:
    rng = b.rng(NAME)
    uid, un, ut = b.uid, b.user.noun, b.ut
    tiers = list(
        b.user.tiers
        or rng.choice(
            [
                ["bronze", "silver", "gold"],
                ["member", "plus", "elite"],
                ["classic", "premier", "platinum"],
            ]
        )
    )
    step = rng.choice([500, 1000, 2000])
    rewards = params.get("rewards") or rng.choice(
        [
            {"voucher_10": 500, "voucher_25": 1100, "free_upgrade": 2000},
            {"discount_5": 300, "discount_20": 1000, "gift": 1500},
            {"credit_10": 400, "credit_50": 1800},
        ]
    )
    lt = "points_ledger"
    b.table(
        lt,
        {
            "description": f"Every change to a {un}'s loyalty points.",
            "rows": 160,
            "natural_key": [uid, "created_at", "delta"],
            "columns": {
                "entry_id": pk("LP#######", generated=True),
                uid: {"type": "string", "references": f"{ut}.{uid}"},
                "delta": {
                    "type": "integer",
                    "minimum": 10,
                    "maximum": 900,
                    "description": "Points earned (+) or spent (-).",
                },
                "reason": enum(
                    ["earned", "bonus"] + [f"redeemed {k}" for k in rewards],
                    [0.7, 0.3] + [0.0] * len(rewards),
                ),
                "created_at": when("2023-06-01 00:00:00", "2024-05-15 12:00:00"),
            },
        },
    )
    ent = b.entities[ut]["columns"]
    ent["points"] = {
        "type": "integer",
        "check": "points >= 0",
        "faker": {"sql": f"SELECT COALESCE(SUM(delta), 0) FROM {lt} l WHERE l.{uid} = {ut}.{uid}"},
        "description": "Loyalty points balance.",
    }
    thresholds = " ".join(
        f"WHEN {ut}.points >= {step * i} THEN '{tier}'"
        for i, tier in reversed(list(enumerate(tiers)))
        if i
    )
    lagging = thresholds.replace(
        f"{ut}.points", f"{ut}.points * 0.7"
    )  # tiers are reviewed on request
    ent["tier"] = {
        "type": "enum",
        "values": tiers,
        "faker": {"sql": f"SELECT CASE {lagging} ELSE '{tiers[0]}' END"},
        "description": f"Loyalty tier: {', '.join(f'{t} from {step * i} points' for i, t in enumerate(tiers))}.",
    }
    b.invariant(
        {
            "name": "points_match_ledger",
            "description": f"A {un}'s points balance is the sum of their ledger.",
            "violations": f"SELECT u.{uid}, u.points FROM {ut} u WHERE u.points <> (SELECT COALESCE(SUM(delta), 0) FROM {lt} l WHERE l.{uid} = u.{uid})",
            "message": "Points of {" + uid + "} do not match the ledger.",
            "scope": {ut: uid, lt: uid},
        }
    )
    b.tool(
        "get_points_balance",
        {
            "description": f"A {un}'s loyalty points, tier and recent ledger entries.",
            "params": {uid: b.user_param()},
            "reads": [ut, lt],
            "preconditions": [b.user_exists()],
            "returns": {
                "query": sql(f"""
                SELECT u.{uid}, u.points, u.tier,
                  (SELECT json_group_array(json_object('delta', l.delta, 'reason', l.reason, 'at', l.created_at))
                   FROM (SELECT delta, reason, created_at FROM {lt} WHERE {uid} = u.{uid} ORDER BY created_at DESC, entry_id LIMIT 5) l) AS recent
                FROM {ut} u WHERE u.{uid} = :{uid}
            """),
                "json_columns": ["recent"],
            },
        },
    )

    def rank(expr: str) -> str:
        return (
            f"CASE {expr} " + " ".join(f"WHEN '{t}' THEN {i}" for i, t in enumerate(tiers)) + " END"
        )

    cost = "CASE :reward " + " ".join(f"WHEN '{k}' THEN {v}" for k, v in rewards.items()) + " END"
    b.tool(
        "redeem_points",
        {
            "description": "Spend points on a reward: "
            + ", ".join(f"{k} ({v} points)" for k, v in rewards.items())
            + ".",
            "params": {uid: b.user_param(), "reward": {"type": "enum", "values": list(rewards)}},
            "reads": [ut],
            "writes": [ut, lt],
            "generate": {"entry_id": {"pattern": "LP#######", "table": lt, "column": "entry_id"}},
            "let": {"cost": f"SELECT {cost}"},
            "preconditions": [
                b.user_exists(),
                {
                    "check": f"SELECT points >= :cost, points FROM {ut} WHERE {uid} = :{uid}",
                    "error": "The reward costs {cost} points; the balance is {points}.",
                },
            ],
            "effects": [
                f"UPDATE {ut} SET points = points - :cost WHERE {uid} = :{uid}",
                f"INSERT INTO {lt} (entry_id, {uid}, delta, reason, created_at) VALUES (:entry_id, :{uid}, -:cost, 'redeemed ' || :reward, :now)",
            ],
            "returns": {"query": f"SELECT {uid}, points FROM {ut} WHERE {uid} = :{uid}"},
        },
    )
    b.tool(
        "upgrade_tier",
        {
            "description": f"Move a {un} to the highest tier their points qualify for.",
            "params": {uid: b.user_param()},
            "reads": [ut],
            "writes": [ut],
            "let": {
                "new_tier": f"SELECT CASE {thresholds.replace(ut + '.points', 'points')} ELSE '{tiers[0]}' END FROM {ut} WHERE {uid} = :{uid}"
            },
            "preconditions": [
                b.user_exists(),
                {
                    "check": f"SELECT {rank('tier')} < {rank(':new_tier')}, tier FROM {ut} WHERE {uid} = :{uid}",
                    "error": "The points do not qualify for a tier above {tier}.",
                },
            ],
            "effects": [f"UPDATE {ut} SET tier = :new_tier WHERE {uid} = :{uid}"],
            "returns": {"query": f"SELECT {uid}, tier, points FROM {ut} WHERE {uid} = :{uid}"},
        },
    )
    b.say(
        "Loyalty",
        "Rewards: "
        + ", ".join(f"{k} for {v} points" for k, v in rewards.items())
        + "; a redemption needs enough points.",
        "Tiers: " + ", ".join(f"{t} from {step * i} points" for i, t in enumerate(tiers)) + ".",
    )
