"""Procedural testing of tools with an ``object`` param and an array of objects, on a small
spec of its own (no tau2): valid values per field (enum, references, type), objects drawn
with the call's rows, amounts made to add up to what the tool computes, nothing
quarantined, and the same seed giving the same report."""

from __future__ import annotations

import json
import random

from synth.importers.rows import import_world
from synth.proctest.casegen import Sampler
from synth.proctest.objects import is_objects, object_value
from synth.proctest.oracles import arg_problem
from synth.proctest.run import run_proctest

SPEC = {
    "name": "bills",
    "description": "Households pay bills from their accounts.",
    "now": "2024-05-15 15:00:00",
    "entities": {
        "households": {"rows": 3, "columns": {
            "household_id": {"type": "string", "primary_key": True},
            "name": {"type": "string"}}},
        "accounts": {"rows": 6, "columns": {
            "account_id": {"type": "string", "primary_key": True},
            "household_id": {"type": "string", "references": "households.household_id"},
            "balance": {"type": "integer", "minimum": 0, "maximum": 500}}},
        "bills": {"rows": 3, "columns": {
            "bill_id": {"type": "string", "primary_key": True},
            "household_id": {"type": "string", "references": "households.household_id"},
            "due": {"type": "integer", "minimum": 1, "maximum": 300},
            "paid_by": {"type": "json", "nullable": True}}},
    },
    "tools": {
        "pay_bill": {
            "description": "Pay a bill from one or more accounts of its household; the parts must add up to what is due.",
            "params": {
                "bill_id": {"type": "string", "references": "bills.bill_id"},
                "payer": {"type": "object", "properties": {
                    "name": {"type": "string"},
                    "kind": {"type": "enum", "values": ["person", "company"]}}},
                "parts": {"type": "array", "items": {"type": "object", "properties": {
                    "account_id": {"type": "string", "references": "accounts.account_id"},
                    "amount": {"type": "integer"}}}},
            },
            "let": {
                "due": "SELECT due FROM bills WHERE bill_id = :bill_id",
                "paid": "SELECT COALESCE(SUM(json_extract(value, '$.amount')), 0) FROM json_each(:parts)",
            },
            "preconditions": [
                {"check": "SELECT 1 FROM bills WHERE bill_id = :bill_id AND paid_by IS NULL",
                 "error": "Bill {bill_id} not found or already paid"},
                {"check": "SELECT m IS NULL, m FROM (SELECT (SELECT json_extract(p.value, '$.account_id') "
                          "FROM json_each(:parts) p LEFT JOIN accounts a ON a.account_id = "
                          "json_extract(p.value, '$.account_id') AND a.household_id = (SELECT "
                          "household_id FROM bills WHERE bill_id = :bill_id) WHERE a.account_id IS NULL "
                          "OR a.balance < json_extract(p.value, '$.amount') OR json_extract(p.value, "
                          "'$.amount') < 1 ORDER BY p.key LIMIT 1) AS m)",
                 "error": "Account {m} cannot pay its part"},
                {"check": "SELECT :paid = :due", "error": "The parts add up to {paid}, not {due}"},
            ],
            "effects": [
                "UPDATE accounts SET balance = balance - (SELECT SUM(json_extract(p.value, '$.amount')) "
                "FROM json_each(:parts) p WHERE json_extract(p.value, '$.account_id') = "
                "accounts.account_id) WHERE account_id IN (SELECT json_extract(value, '$.account_id') "
                "FROM json_each(:parts))",
                "UPDATE bills SET paid_by = :payer WHERE bill_id = :bill_id",
            ],
            "returns": {"query": "SELECT bill_id, paid_by FROM bills WHERE bill_id = :bill_id",
                        "json_columns": ["paid_by"]},
        }
    },
}  # fmt: skip
ROWS = {
    "households": [{"household_id": h, "name": h.title()} for h in ("ash", "birch", "cedar")],
    "accounts": [
        {"account_id": f"{h}-{i}", "household_id": h, "balance": 100 * (i + 1)}
        for h in ("ash", "birch", "cedar")
        for i in range(2)
    ],
    "bills": [
        {"bill_id": f"bill-{h}", "household_id": h, "due": 25 * (n + 1)}
        for n, h in enumerate(("ash", "birch", "cedar"))
    ],
}


def test_object_params_pass_procedural_testing():
    res = import_world(SPEC, ROWS, None)
    assert [n for n, t in res.spec.tools.items() if t.quarantined] == []
    report = res.reports["proctest"].tools["pay_bill"]
    assert report.counts["success"] > 0 and report.counts["unexpected_failure"] == 0
    assert all(n > 0 for n in report.fired)  # every refusal was reached
    one, two = (run_proctest(res.spec, res.db_bytes, seed=0) for _ in range(2))
    assert json.dumps(one.tools["pay_bill"].counts) == json.dumps(two.tools["pay_bill"].counts)


def test_object_values_follow_types_enums_and_references():
    res = import_world(SPEC, ROWS, None, proctest=False)
    s = res.world().session()
    params = s.spec.tools["pay_bill"].params
    assert is_objects(params["payer"]) and is_objects(params["parts"])
    assert not is_objects(params["bill_id"])
    sampler, rng = Sampler(s), random.Random(3)
    accounts = {r["account_id"] for r in ROWS["accounts"]}
    known = 0
    for _ in range(30):
        payer = object_value(sampler, params["payer"], [], rng, 1)
        assert arg_problem(params["payer"], payer) is None and payer["kind"] in (
            "person",
            "company",
        )
        parts = object_value(sampler, params["parts"], [], rng, 2)
        assert arg_problem(params["parts"], parts) is None and len(parts) == 2
        known += sum(p["account_id"] in accounts for p in parts)
    assert known >= 45  # of 60: a referenced field mostly names a row (sometimes not, on purpose)
    settled = 0
    for _ in range(40):
        args = sampler.valid_args("pay_bill", rng)
        due = next((b["due"] for b in ROWS["bills"] if b["bill_id"] == args["bill_id"]), None)
        settled += sum(p["amount"] for p in args["parts"]) == due
    assert settled >= 5  # amounts made to add up to the bill's due amount, some of the time
