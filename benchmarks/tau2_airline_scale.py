"""A tau2-format airline folder the size of tau2's real one (whose db.json the stored
checkout lacks): fixtures/tau2_mini_airline plus generated flights (each with 30 dates),
users and reservations, and the fixture's tasks, so bench_tau2.py can time reset and
evaluation at a realistic size on both runtimes.

    python benchmarks/tau2_airline_scale.py OUT_DIR [--flights 300 --users 500 --reservations 2000]

Deterministic (a seeded generator; the same arguments write the same bytes). Generated
flights leave the fixture's routes alone (their airports are not the fixture's), so the
fixture's gold actions and searches find what they found before.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MINI = ROOT / "fixtures" / "tau2_mini_airline"
AIRPORTS = ["DFW", "DEN", "SEA", "ATL", "MIA", "PHX", "IAH", "LAS", "MCO", "EWR", "CLT", "MSP"]
CABINS = ("basic_economy", "economy", "business")


def _date(day: int) -> str:
    return f"2024-05-{day:02d}"


def grow(doc: dict, flights: int, users: int, reservations: int, seed: int) -> dict:
    rng = random.Random(seed)
    for i in range(flights):
        fn = f"HAT{100 + i:03d}"
        o, d = rng.sample(AIRPORTS, 2)
        dep = rng.randint(0, 22)
        dates = {}
        for day in range(1, 31):
            if day < 15:
                dates[_date(day)] = {
                    "status": "landed",
                    "actual_departure_time_est": f"{_date(day)}T{dep:02d}:05:00",
                    "actual_arrival_time_est": f"{_date(day)}T{dep + 1:02d}:50:00",
                }
            else:
                dates[_date(day)] = {
                    "status": "available",
                    "available_seats": {c: rng.randint(0, 20) for c in CABINS},
                    "prices": {c: rng.randint(lo, hi) for c, (lo, hi) in
                               zip(CABINS, ((50, 100), (100, 200), (200, 1000)), strict=True)},
                }  # fmt: skip
        doc["flights"][fn] = {
            "flight_number": fn, "origin": o, "destination": d,
            "scheduled_departure_time_est": f"{dep:02d}:00:00",
            "scheduled_arrival_time_est": f"{dep + 1:02d}:45:00", "dates": dates,
        }  # fmt: skip
    names = ["Ava", "Liam", "Noor", "Kenji", "Lucia", "Omar", "Ivy", "Raj", "Zoe", "Mateo"]
    uids = []
    for i in range(users):
        first, last = rng.choice(names), rng.choice(names)
        uid = f"{first.lower()}_{last.lower()}_{9000 + i}"
        uids.append(uid)
        pms = {f"credit_card_{5000000 + i}": {"source": "credit_card", "id": f"credit_card_{5000000 + i}",
                                              "brand": "visa", "last_four": f"{i % 10000:04d}"},
               f"gift_card_{6000000 + i}": {"source": "gift_card", "id": f"gift_card_{6000000 + i}",
                                            "amount": float(rng.randint(0, 300))}}  # fmt: skip
        if i % 3 == 0:
            pms[f"certificate_{7000000 + i}"] = {
                "source": "certificate", "id": f"certificate_{7000000 + i}", "amount": 250.0}  # fmt: skip
        doc["users"][uid] = {
            "user_id": uid, "name": {"first_name": first, "last_name": last},
            "address": {"address1": f"{i} Main St", "address2": None, "city": "Dallas",
                        "country": "USA", "state": "TX", "zip": f"{75000 + i % 999}"},
            "email": f"{uid}@example.com", "dob": f"19{50 + i % 50}-0{1 + i % 9}-1{i % 10}",
            "payment_methods": pms,
            "saved_passengers": [{"first_name": rng.choice(names), "last_name": last,
                                  "dob": "2001-02-03"}],
            "membership": rng.choice(["gold", "silver", "regular"]), "reservations": [],
        }  # fmt: skip
    fns = [f"HAT{100 + i:03d}" for i in range(flights)]
    for _ in range(reservations):
        rid = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(6))
        if rid in doc["reservations"] or rid.startswith("HATHA"):
            continue
        uid, fn = rng.choice(uids), rng.choice(fns)
        f = doc["flights"][fn]
        day = _date(rng.randint(15, 30))
        cabin = rng.choice(CABINS)
        price = f["dates"][day]["prices"][cabin]
        n = rng.randint(1, 3)
        doc["reservations"][rid] = {
            "reservation_id": rid, "user_id": uid, "origin": f["origin"],
            "destination": f["destination"], "flight_type": "one_way", "cabin": cabin,
            "flights": [{"flight_number": fn, "origin": f["origin"], "destination": f["destination"],
                         "date": day, "price": price}],
            "passengers": [{"first_name": rng.choice(names), "last_name": "Doe", "dob": "1990-01-01"}
                           for _ in range(n)],
            "payment_history": [{"payment_id": f"credit_card_{5000000 + uids.index(uid)}",
                                 "amount": price * n}],
            "created_at": "2024-05-10T12:00:00", "total_baggages": 0, "nonfree_baggages": 0,
            "insurance": "no", "status": None,
        }  # fmt: skip
        doc["users"][uid]["reservations"].append(rid)
    return doc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--flights", type=int, default=300)
    ap.add_argument("--users", type=int, default=500)
    ap.add_argument("--reservations", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in ("tasks.json", "split_tasks.json"):
        shutil.copy(MINI / name, args.out / name)
    doc = json.loads((MINI / "db.json").read_text())
    doc = grow(doc, args.flights, args.users, args.reservations, args.seed)
    (args.out / "db.json").write_text(json.dumps(doc, indent=1))
    print(f"{args.out}: {len(doc['flights'])} flights, {len(doc['users'])} users, "
          f"{len(doc['reservations'])} reservations")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
