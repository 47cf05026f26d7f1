"""import tau2 --domain airline on fixtures/tau2_mini_airline (a synthetic tau2-bench airline
checkout written for these tests): the nested database through the declared mapping and
back, the tools (object and array-of-object params) passing procedural testing, tasks with
splits whose gold diffs replay tau2's gold actions, tau2's pricing, payment and id rules,
tau2's messages for refused calls, refusal of a malformed db.json, and the CLI."""

from __future__ import annotations

import ast
import json
import os
import random
import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine import World
from engine.errors import ScaleEnvError
from synth.cli import app
from synth.importers.tau2 import import_tau2, same_document
from synth.importers.tau2_airline_doc import to_airline_document
from synth.proctest.casegen import Sampler
from synth.proctest.oracles import arg_problem
from synth.tasks.generate import generate_tasks

MINI = Path(__file__).resolve().parents[2] / "fixtures" / "tau2_mini_airline"
WRITE_TOOLS = {
    "book_reservation", "cancel_reservation", "send_certificate",
    "update_reservation_baggages", "update_reservation_flights", "update_reservation_passengers",
}  # fmt: skip


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    out = tmp_path_factory.mktemp("tau2air") / "world"
    return import_tau2(MINI, "airline", out)


@pytest.fixture(scope="module")
def world(imported):
    return World.load(imported.path)


def _after(world: World, tid: str) -> dict:
    """tau2's document after replaying task ``tid``'s gold actions."""
    task = next(t for t in world.tasks if t.meta["tau2_id"] == tid)
    s = world.session()
    s.reset(task)
    for act in task.gold_actions:
        assert s.call(act.tool, act.args).ok, (tid, act.tool)
    return to_airline_document(s.export_bytes())


def test_database_round_trips_to_tau2_document(imported):
    doc = json.loads((MINI / "db.json").read_text())
    assert same_document(to_airline_document(imported.imported.db_bytes), doc, tol=0)


def test_procedural_testing_quarantines_nothing(imported):
    spec = imported.imported.spec
    assert len(spec.tools) == 12 and set(spec.builtins) == {"calculate", "transfer_to_human_agents"}
    assert [n for n, t in spec.tools.items() if t.quarantined] == []
    reports = imported.imported.reports["proctest"].tools
    for name in ("book_reservation", "update_reservation_flights", "update_reservation_passengers"):
        assert reports[name].counts["success"] > 0, name  # object params got valid calls


def test_object_values_are_valid_and_coherent(imported):
    s = imported.imported.world().session()
    sampler, rng = Sampler(s), random.Random(7)
    params = s.spec.tools["book_reservation"].params
    dates = {tuple(r) for r in s.conn.execute("SELECT flight_number, date FROM flight_dates")}
    coherent = 0
    for _ in range(40):
        args = sampler.valid_args("book_reservation", rng)
        assert all(arg_problem(params[k], v) is None for k, v in args.items()), args
        flights = args["flights"]
        assert flights and all(set(f) == {"flight_number", "date"} for f in flights)
        coherent += all((f["flight_number"], f["date"]) in dates for f in flights)
    assert coherent >= 20  # a flight's date is mostly one of that flight's own dates


def test_tasks_replay_gold_actions_and_keep_splits(imported, world):
    tasks = {t.meta["tau2_id"]: t for t in world.tasks}
    assert len(tasks) == 12
    assert imported.replay["failed"] == [
        {"task": "9", "action": 1, "tool": "update_reservation_baggages",
         "message": "Gift card balance is not enough"}
    ]  # fmt: skip
    covered = {a.tool for t in tasks.values() if t.meta["replayed"] for a in t.gold_actions}
    assert covered >= WRITE_TOOLS
    splits = json.loads((imported.path / "splits.json").read_text())
    assert splits["train"] == [f"tau2-tau2_airline-{i}" for i in range(6)]
    assert tasks["7"].meta["splits"] == ["base", "test"]
    session = world.session()
    for tid, task in tasks.items():
        if not task.meta["replayed"]:
            continue
        writes = any(a.tool in WRITE_TOOLS for a in task.gold_actions)
        assert bool(task.gold_diff) == writes, tid
        session.reset(task)
        for act in task.gold_actions:
            assert session.call(act.tool, act.args).ok, (tid, act.tool)
        score = session.evaluate(task, messages=task.required_answers)
        assert score.reward == 1.0, (tid, score)


def test_booking_prices_seats_payments_and_ids(world):
    doc = _after(world, "1")  # 120 economy + 30 insurance + 50 one paid bag = 200
    mia = doc["users"]["mia_li_3668"]
    assert "certificate_7504069" not in mia["payment_methods"]  # a used certificate is gone
    assert mia["payment_methods"]["gift_card_7502997"]["amount"] == 78.0
    assert mia["reservations"] == ["NO6JO3", "AIXC49", "HATHAT"]
    res = doc["reservations"]["HATHAT"]
    assert res["flights"] == [{"flight_number": "HAT003", "origin": "JFK", "destination": "ORD",
                               "date": "2024-05-20", "price": 120}]  # fmt: skip
    assert res["payment_history"] == [{"payment_id": "certificate_7504069", "amount": 150},
                                      {"payment_id": "gift_card_7502997", "amount": 50}]  # fmt: skip
    assert res["created_at"] == "2024-05-15T15:00:00" and res["status"] is None
    assert doc["flights"]["HAT003"]["dates"]["2024-05-20"]["available_seats"]["economy"] == 6
    two = _after(world, "11")  # the second booking of a task takes tau2's next id
    assert {"HATHAT", "HATHAU"} <= set(two["reservations"])
    assert two["reservations"]["HATHAU"]["cabin"] == "business"


def test_cancel_change_and_certificate_follow_tau2(world):
    doc = _after(world, "0")  # cancel: payments reversed in the history only, seats kept
    res = doc["reservations"]["NO6JO3"]
    assert res["status"] == "cancelled"
    assert [p["amount"] for p in res["payment_history"]] == [300, -300]
    assert doc["flights"]["HAT001"]["dates"]["2024-05-20"]["available_seats"]["economy"] == 9
    doc = _after(world, "4")  # one leg moved: the kept leg keeps its price, refund to gift card
    res = doc["reservations"]["AIXC49"]
    assert [(f["flight_number"], f["date"], f["price"]) for f in res["flights"]] == [
        ("HAT001", "2024-05-20", 85), ("HAT002", "2024-05-27", 80)]  # fmt: skip
    assert res["payment_history"][-1] == {"payment_id": "gift_card_7502997", "amount": -5}
    assert doc["users"]["mia_li_3668"]["payment_methods"]["gift_card_7502997"]["amount"] == 133.0
    doc = _after(world, "3")  # a cabin change reprices every leg
    assert doc["reservations"]["AIXC49"]["payment_history"][-1]["amount"] == 130
    doc = _after(world, "6")
    cert = doc["users"]["omar_davis_3817"]["payment_methods"]["certificate_3221322"]
    assert cert == {"source": "certificate", "id": "certificate_3221322", "amount": 100}


def test_searches_and_messages_match_tau2(world):
    s = world.session()
    pairs = s.call(
        "search_onestop_flight", {"origin": "SFO", "destination": "BOS", "date": "2024-05-20"}
    )
    assert [[(f["flight_number"], f["date"]) for f in p] for p in pairs.result] == [
        [("HAT005", "2024-05-20"), ("HAT006", "2024-05-21")]]  # fmt: skip
    direct = s.call(
        "search_direct_flight", {"origin": "JFK", "destination": "LAX", "date": "2024-05-20"}
    )
    assert [f["flight_number"] for f in direct.result] == ["HAT001"]
    assert direct.result[0]["date"] is None and direct.result[0]["prices"]["economy"] == 150
    res = s.call("send_certificate", {"user_id": "noah_park_1140", "amount": 75})
    assert (
        res.result == "Certificate certificate_3221322 added to user noah_park_1140 with amount 75."
    )
    for _ in range(2):
        assert s.call("send_certificate", {"user_id": "noah_park_1140", "amount": 5}).ok
    assert (
        s.call("send_certificate", {"user_id": "noah_park_1140", "amount": 5}).message
        == "Too many certificates"
    )


def _book(**over):
    args = {
        "user_id": "mia_li_3668", "origin": "JFK", "destination": "ORD", "flight_type": "one_way",
        "cabin": "economy", "flights": [{"flight_number": "HAT003", "date": "2024-05-20"}],
        "passengers": [{"first_name": "Mia", "last_name": "Li", "dob": "1990-04-05"}],
        "payment_methods": [{"payment_id": "credit_card_4421486", "amount": 120}],
        "total_baggages": 0, "nonfree_baggages": 0, "insurance": "no",
    }  # fmt: skip
    return ("book_reservation", {**args, **over})


def test_refusals_carry_tau2_messages(world):
    s = world.session()
    two = [{"first_name": "A", "last_name": "B", "dob": "2000-01-01"}] * 2
    cases = [
        (_book(user_id="nobody"), "User nobody not found"),
        (_book(flights=[{"flight_number": "HAT999", "date": "2024-05-20"}]), "Flight HAT999 not found"),
        (_book(flights=[{"flight_number": "HAT003", "date": "2024-06-01"}]), "Flight HAT003 not found on date 2024-06-01"),
        (_book(flights=[{"flight_number": "HAT003", "date": "2024-05-16"}]), "Flight HAT003 not available on date 2024-05-16"),
        (_book(flights=[{"flight_number": "HAT003", "date": "2024-05-20"}, {"flight_number": "HAT004", "date": "2024-05-20"}], passengers=two),
         "Not enough seats on flight HAT004"),
        (_book(payment_methods=[{"payment_id": "credit_card_2929732", "amount": 120}]), "Payment method credit_card_2929732 not found"),
        (_book(payment_methods=[{"payment_id": "gift_card_7502997", "amount": 129}]), "Not enough balance in payment method gift_card_7502997"),
        (_book(payment_methods=[{"payment_id": "credit_card_4421486", "amount": 100}]), "Payment amount does not add up, total price is 120, but paid 100"),
        (("update_reservation_flights", {"reservation_id": "AIXC49", "cabin": "economy", "flights": [
            {"flight_number": "HAT001", "date": "2024-05-21"}], "payment_id": "certificate_7504069"}),
         "Certificate cannot be used to update reservation"),
        (("update_reservation_flights", {"reservation_id": "AIXC49", "cabin": "business", "flights": [
            {"flight_number": "HAT001", "date": "2024-05-21"}], "payment_id": "gift_card_7502997"}),
         "Gift card balance is not enough"),
        (("update_reservation_baggages", {"reservation_id": "JG7FMM", "total_baggages": 1, "nonfree_baggages": 1,
          "payment_id": "credit_card_4421486"}), "Payment method not found"),
        (("update_reservation_passengers", {"reservation_id": "JG7FMM", "passengers": two}), "Number of passengers does not match"),
        (("cancel_reservation", {"reservation_id": "ZZZZZZ"}), "Reservation ZZZZZZ not found"),
        (("get_flight_status", {"flight_number": "HAT001", "date": "2024-06-01"}), "Flight HAT001 not found on date 2024-06-01"),
    ]  # fmt: skip
    for (tool, args), message in cases:
        res = s.call(tool, args)
        assert not res.ok and res.message == message, (tool, res.message)
    for _ in range(3):
        assert s.call(*_book()).ok
    assert s.call(*_book()).message == "Too many reservations"


@pytest.mark.parametrize(
    "break_it, words",
    [
        (lambda text, doc: "{not json", "db.json"),
        (
            lambda text, doc: json.dumps(
                {
                    **doc,
                    "reservations": {
                        **doc["reservations"],
                        "NEW1": {
                            **doc["reservations"]["NO6JO3"],
                            "reservation_id": "NEW1",
                            "user_id": "ghost",
                        },
                    },
                }
            ),
            "refused",
        ),
    ],  # fmt: skip
)
def test_malformed_db_json_is_refused_and_nothing_written(tmp_path, break_it, words):
    folder = tmp_path / "airline"
    shutil.copytree(MINI, folder)
    text = (folder / "db.json").read_text()
    (folder / "db.json").write_text(break_it(text, json.loads(text)))
    out = tmp_path / "world"
    with pytest.raises(ScaleEnvError) as err:
        import_tau2(folder, "airline", out, proctest=False)
    message = str(err.value)
    assert "\n" not in message and words in message, message
    assert not out.exists()


def test_cli_import_tau2_airline_and_one_line_error(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(app, ["import", "tau2", "--tau2", str(MINI), "--domain", "airline",
                             "--out", str(tmp_path / "w"), "--no-proctest"])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "12 tasks (11 replayed" in " ".join(ok.output.split())
    assert World.load(tmp_path / "w").spec.name == "tau2_airline"
    bad = runner.invoke(
        app,
        [
            "import",
            "tau2",
            "--tau2",
            str(tmp_path),
            "--domain",
            "airline",
            "--out",
            str(tmp_path / "x"),
        ],
    )
    assert bad.exit_code == 1 and "no tau2-bench airline data" in bad.output
    assert "Traceback" not in bad.output


CHECKOUT = Path(os.environ.get("TAU2_BENCH", Path(__file__).resolve().parents[3] / "tau2-bench"))


@pytest.mark.skipif(
    not (CHECKOUT / "src" / "tau2" / "domains" / "airline" / "tools.py").is_file(),
    reason=f"no tau2-bench checkout at {CHECKOUT} (set TAU2_BENCH to one)",
)
def test_tools_and_real_gold_calls_match_a_tau2_checkout(imported):
    """tau2's AirlineTools (read with ast: no tau2 dependencies needed) has our tool names
    and param names, and every gold call of its airline tasks passes our argument checks."""
    tree = ast.parse((CHECKOUT / "src/tau2/domains/airline/tools.py").read_text())
    theirs = {
        f.name: [a.arg for a in f.args.args[1:]]
        for f in ast.walk(tree)
        if isinstance(f, ast.FunctionDef)
        and any("is_tool" in ast.unparse(d) for d in f.decorator_list)
    }
    spec = imported.imported.spec
    ours = {n: list(t.params) for n, t in spec.tools.items()}
    assert set(theirs) == set(ours) | set(spec.builtins)
    assert all(theirs[n] == p for n, p in ours.items())
    s = imported.imported.world().session()
    tasks = json.loads((CHECKOUT / "data/tau2/domains/airline/tasks.json").read_text())
    calls = [a for t in tasks for a in (t.get("evaluation_criteria") or {}).get("actions") or []]
    checked = 0
    for a in calls:
        if a["name"] in spec.builtins:
            continue
        s.prepared(a["name"]).validate(dict(a["arguments"]))  # raises on a refused argument
        checked += 1
    assert checked >= 100


def _rows(conn, sql, *args):
    return conn.execute(sql, args).fetchall()


def _person(p: dict) -> tuple:
    return (p["first_name"], p["last_name"], p["dob"])


@pytest.fixture(scope="module")
def made40(imported):
    world = World.load(imported.path)
    return world, generate_tasks(world, 40, seed=0)


def test_tasks_gen_covers_every_write_tool_on_the_users_own_rows(made40):
    """Every write tool gets tasks (update_reservation_passengers too: its list must have
    as many passengers as the reservation has), each acting for the task's user on their own
    reservations and payment methods; passengers are the reservation's own with one of the
    user's saved passengers put in (or one field corrected), all said in the instruction."""
    world, made = made40
    covered = {a.tool for t in made.tasks for a in t.gold_actions} & WRITE_TOOLS
    assert covered == WRITE_TOOLS, made.report["explain"]
    pol = made.report["policies"]
    assert pol["gold"] == 1.0 and pol["empty"] == 0.0
    s = world.session()
    checked = Counter()
    for task in made.tasks:
        s.reset(task)
        known = task.user.known
        for act in task.gold_actions:
            conn = sqlite3.connect(":memory:")
            conn.deserialize(s.snapshot())
            (user,) = _rows(conn, "SELECT user_id FROM users WHERE user_id = ? OR email = ?",
                            known.get("user_id"), known.get("email"))[0]  # fmt: skip
            args = act.args
            if act.tool in WRITE_TOOLS and "user_id" in args:
                assert args["user_id"] == user, (task.id, act.tool)
            if act.tool in WRITE_TOOLS and "reservation_id" in args:  # the user's own
                assert _rows(conn, "SELECT user_id FROM reservations WHERE reservation_id = ?",
                             args["reservation_id"]) == [(user,)], (task.id, act.tool)  # fmt: skip
            pays = [args["payment_id"]] if args.get("payment_id") else []
            pays += [p["payment_id"] for p in args.get("payment_methods") or []]
            for pid in pays if act.tool in WRITE_TOOLS else []:  # the user's own, never said
                assert _rows(conn, "SELECT user_id FROM payment_methods WHERE id = ?",
                             pid) == [(user,)], (task.id, act.tool)  # fmt: skip
                assert pid not in task.instruction, (task.id, act.tool)
            if act.tool == "update_reservation_passengers":
                now = [tuple(r) for r in _rows(conn, "SELECT first_name, last_name, dob FROM "
                       "reservation_passengers WHERE reservation_id = ? ORDER BY position",
                       args["reservation_id"])]  # fmt: skip
                saved = {tuple(r) for r in _rows(conn, "SELECT first_name, last_name, dob "
                         "FROM saved_passengers WHERE user_id = ?", user)}  # fmt: skip
                new = [_person(p) for p in args["passengers"]]
                assert len(new) == len(now) and new != now, (task.id, new, now)
                for i, p in enumerate(new):
                    assert all(str(v) in task.instruction for v in p), (task.id, p)
                    fixed = sum(a != b for a, b in zip(p, now[i], strict=True)) == 1
                    assert p in saved or p in now or fixed, (task.id, p)
            conn.close()
            checked[act.tool] += 1
            assert s.call(act.tool, act.args).ok, (task.id, act.tool)
        assert s.evaluate(task, messages=task.required_answers).reward == 1.0, task.id
    assert set(checked) >= WRITE_TOOLS


def test_booking_tasks_book_flights_for_passengers_paid_in_full(made40):
    """Every book_reservation task books at least one flight date that is available with
    seats, for at least one passenger said by name and date of birth, paid with the user's
    own payment methods (said by kind, never by id) whose amounts add up to tau2's price;
    its origin and destination are those of the first leg's flight."""
    world, made = made40
    s = world.session()
    booked = 0
    for task in made.tasks:
        s.reset(task)
        for act in task.gold_actions:
            for pname in ("flights", "passengers", "payment_methods"):  # no empty list of objects
                assert act.args.get(pname, [None]), (task.id, act.tool, pname)
            if act.tool == "book_reservation":
                a = act.args
                assert a["flights"] and a["passengers"] and a["payment_methods"], task.id
                conn = sqlite3.connect(":memory:")
                conn.deserialize(s.snapshot())
                cabin, n = a["cabin"], len(a["passengers"])
                price = 0
                for f in a["flights"]:
                    (status, seats, p), = _rows(conn, f"SELECT status, {cabin}_seats, "
                        f"{cabin}_price FROM flight_dates WHERE flight_number = ? AND date = ?",
                        f["flight_number"], f["date"])  # fmt: skip
                    assert status == "available" and seats >= n, (task.id, f)
                    assert f["flight_number"] in task.instruction and f["date"] in task.instruction
                    price += p
                first = a["flights"][0]["flight_number"]
                assert _rows(conn, "SELECT origin, destination FROM flights WHERE "
                             "flight_number = ?", first) == [(a["origin"], a["destination"])]  # fmt: skip
                total = price * n + (30 * n if a["insurance"] == "yes" else 0)
                total += 50 * a["nonfree_baggages"]
                assert sum(m["amount"] for m in a["payment_methods"]) == total, task.id
                for m in a["payment_methods"]:
                    (source, left), = _rows(conn, "SELECT source, amount FROM payment_methods "
                        "WHERE user_id = ? AND id = ?", a["user_id"], m["payment_id"])  # fmt: skip
                    assert m["amount"] > 0 and (left is None or left >= m["amount"]), task.id
                    assert m["payment_id"] not in task.instruction
                    assert f"amount {m['amount']}" in task.instruction, task.id
                for p in a["passengers"]:
                    assert all(str(v) in task.instruction for v in _person(p)), (task.id, p)
                conn.close()
                booked += 1
            assert s.call(act.tool, act.args).ok, (task.id, act.tool)
        assert s.evaluate(task, messages=task.required_answers).reward == 1.0, task.id
    assert booked >= 5
