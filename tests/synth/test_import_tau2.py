"""import tau2 on fixtures/tau2_mini (a synthetic tau2-bench retail checkout written for these
tests): the database through the declared mapping, the tools as a spec that procedural
testing passes, tasks with splits whose gold diffs replay tau2's gold actions, tau2's
messages for refused calls, and the database back in tau2's document form."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine import World
from synth.cli import app
from synth.importers.tau2 import import_tau2, same_document, to_tau2_document
from synth.tasks.generate import generate_tasks

MINI = Path(__file__).resolve().parents[2] / "fixtures" / "tau2_mini"
WRITE_TOOLS = {
    "cancel_pending_order",
    "exchange_delivered_order_items",
    "modify_pending_order_address",
    "modify_pending_order_items",
    "modify_pending_order_payment",
    "modify_user_address",
    "return_delivered_order_items",
}


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    out = tmp_path_factory.mktemp("tau2") / "world"
    return import_tau2(MINI, "retail", out)


def test_database_round_trips_to_tau2_document(imported):
    doc = json.loads((MINI / "db.json").read_text())
    back = to_tau2_document(imported.imported.db_bytes)
    for order in doc["orders"].values():  # tau2's model_dump adds the optional fields as None
        for k in ("cancel_reason", "exchange_items", "exchange_new_items", "return_items",
                  "exchange_payment_method_id", "exchange_price_difference",
                  "return_payment_method_id"):  # fmt: skip
            order.setdefault(k, None)
    assert same_document(back, doc, tol=0)


def test_procedural_testing_quarantines_nothing(imported):
    spec = imported.imported.spec
    assert len(spec.tools) == 14 and set(spec.builtins) == {"calculate", "transfer_to_human_agents"}
    assert [n for n, t in spec.tools.items() if t.quarantined] == []
    assert imported.imported.reports["proctest"].tools  # it ran


def test_tasks_replay_gold_actions_and_keep_splits(imported):
    world = World.load(imported.path)
    tasks = {t.meta["tau2_id"]: t for t in world.tasks}
    assert len(tasks) == 8
    assert imported.replay["failed"] == [
        {"task": "4", "action": 1, "tool": "modify_pending_order_payment",
         "message": "Insufficient gift card balance to pay for the order"}
    ]  # fmt: skip
    covered = {a.tool for t in tasks.values() if t.meta["replayed"] for a in t.gold_actions}
    assert covered >= WRITE_TOOLS
    splits = json.loads((imported.path / "splits.json").read_text())
    assert splits["train"] == [f"tau2-tau2_retail-{i}" for i in range(4)]
    assert tasks["5"].meta["splits"] == ["base", "test"]
    session = world.session()
    for tid, task in tasks.items():
        if not task.meta["replayed"]:
            continue
        session.reset(task)
        for act in task.gold_actions:
            assert session.call(act.tool, act.args).ok, (tid, act.tool)
        score = session.evaluate(task, messages=task.required_answers)
        assert score.reward == 1.0, (tid, score)


def test_tau2_semantics_money_pairs_and_unicode_lookup(imported):
    world = World.load(imported.path)
    tasks = {t.meta["tau2_id"]: t for t in world.tasks}
    s = world.session()
    # cancel: payment refunded in the history, the gift card credited at once
    s.reset(tasks["0"])
    s.call("cancel_pending_order", {"order_id": "#W0000001", "reason": "no longer needed"})
    doc = to_tau2_document(s.export_bytes())
    assert (
        doc["users"]["mia_garcia_101"]["payment_methods"]["gift_card_1000002"]["balance"] == 130.87
    )
    assert [p["transaction_type"] for p in doc["orders"]["#W0000001"]["payment_history"]] == [
        "payment", "refund"]  # fmt: skip
    # exchange: duplicate ids, sorted lists, price difference rounded to cents
    s.reset(tasks["1"])
    for act in tasks["1"].gold_actions:
        s.call(act.tool, act.args)
    order = to_tau2_document(s.export_bytes())["orders"]["#W0000002"]
    assert order["exchange_items"] == ["2000000012", "2000000012", "2000000031"]
    assert order["exchange_price_difference"] == 8.67
    # item modification: pairs in order; every modified item takes the last variant's price
    s.reset(tasks["3"])
    for act in tasks["3"].gold_actions:
        s.call(act.tool, act.args)
    items = to_tau2_document(s.export_bytes())["orders"]["#W0000004"]["items"]
    assert [i["item_id"] for i in items] == ["2000000021", "2000000012"]
    assert [i["price"] for i in items] == [49.67, 49.67]  # tau2 quirk, kept on purpose
    # Unicode case folding: 'ZOË MÜLLER' finds Zoë Müller (SQLite's lower() would not)
    res = s.call(
        "find_user_id_by_name_zip", {"first_name": "ZOË", "last_name": "MÜLLER", "zip": "02101"}
    )
    assert res.ok and res.result == "zoe_muller_303"


def test_refusals_carry_tau2_messages(imported):
    s = World.load(imported.path).session()
    cases = [
        ("cancel_pending_order", {"order_id": "#W0000002", "reason": "no longer needed"},
         "Non-pending order cannot be cancelled"),
        ("cancel_pending_order", {"order_id": "#W0000001", "reason": "too slow"}, "Invalid reason"),
        ("modify_pending_order_items", {"order_id": "#W0000001", "item_ids": ["2000000011"],
         "new_item_ids": ["2000000013"], "payment_method_id": "credit_card_1000001"},
         "New item 2000000013 not found or available"),
        ("modify_pending_order_items", {"order_id": "#W0000001", "item_ids": ["2000000011"],
         "new_item_ids": ["2000000021"], "payment_method_id": "credit_card_1000001"},
         "Variant not found"),
        ("exchange_delivered_order_items", {"order_id": "#W0000002", "item_ids": ["2000000031",
         "2000000031"], "new_item_ids": ["2000000032", "2000000032"],
         "payment_method_id": "credit_card_1000001"}, "Number of 2000000031 not found."),
        ("return_delivered_order_items", {"order_id": "#W0000005", "item_ids": ["2000000021"],
         "payment_method_id": "gift_card_1000002"}, "Payment method not found"),
        ("get_order_details", {"order_id": "#9502126"}, "Order not found"),
    ]  # fmt: skip
    for tool, args, message in cases:
        res = s.call(tool, args)
        assert not res.ok and res.message == message, (tool, res.message)


def test_cli_import_tau2_and_one_line_error(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(app, ["import", "tau2", "--tau2", str(MINI), "--domain", "retail",
                             "--out", str(tmp_path / "w"), "--no-proctest"])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "8 tasks (7 replayed" in " ".join(ok.output.split())
    bad = runner.invoke(
        app, ["import", "tau2", "--tau2", str(tmp_path), "--out", str(tmp_path / "x")]
    )
    assert bad.exit_code == 1 and "no tau2-bench retail data" in bad.output
    assert "Traceback" not in bad.output


def _rows(conn, sql, *args):
    return conn.execute(sql, args).fetchall()


def test_tasks_gen_covers_every_write_tool_on_the_users_own_rows(imported):
    world = World.load(imported.path)
    made = generate_tasks(world, 28, seed=0)
    covered = {a.tool for t in made.tasks for a in t.gold_actions} & WRITE_TOOLS
    assert covered == WRITE_TOOLS, made.report["explain"]
    pol = made.report["policies"]
    assert pol["gold"] == 1.0 and pol["empty"] == 0.0
    s = world.session()
    checked = Counter()
    for task in made.tasks:
        s.reset(task)
        for act in task.gold_actions:
            conn = sqlite3.connect(":memory:")
            conn.deserialize(s.snapshot())
            known = task.user.known
            (user,) = _rows(conn, "SELECT user_id FROM users WHERE user_id = ? OR email = ?",
                            known.get("user_id"), known.get("email"))[0]  # fmt: skip
            args = act.args
            if "order_id" in args and act.tool in WRITE_TOOLS:  # the user's own order
                assert _rows(conn, "SELECT user_id FROM orders WHERE order_id = ?",
                             args["order_id"]) == [(user,)], (task.id, act.tool)  # fmt: skip
            if "payment_method_id" in args:  # one of the user's own payment methods
                assert _rows(conn, "SELECT user_id FROM payment_methods WHERE id = ?",
                             args["payment_method_id"]) == [(user,)], (task.id, act.tool)  # fmt: skip
                assert args["payment_method_id"] not in task.instruction
            items = [r[0] for r in _rows(conn, "SELECT item_id FROM order_items WHERE "
                                         "order_id = ?", args.get("order_id"))]  # fmt: skip
            for old in args.get("item_ids", []):  # items of this very order, said by name
                assert old in items and old not in task.instruction, (task.id, act.tool)
                items.remove(old)
            pairs = args.get("new_item_ids") and zip(
                args["item_ids"], args["new_item_ids"], strict=True
            )
            for old, new in pairs or []:
                same_product = _rows(
                    conn, "SELECT n.available FROM variants n JOIN variants o ON o.product_id = "
                    "n.product_id WHERE o.item_id = ? AND n.item_id = ?", old, new)  # fmt: skip
                assert same_product == [(1,)] and new != old and new not in task.instruction
            if act.tool == "modify_pending_order_payment":  # not the method it already uses
                (hist,) = _rows(conn, "SELECT payment_history FROM orders WHERE order_id = ?",
                                args["order_id"])[0]  # fmt: skip
                assert json.loads(hist)[0]["payment_method_id"] != args["payment_method_id"]
            conn.close()
            checked[act.tool] += 1
            assert s.call(act.tool, act.args).ok, (task.id, act.tool)
        assert s.evaluate(task, messages=task.required_answers).reward == 1.0, task.id
    assert set(checked) >= WRITE_TOOLS
