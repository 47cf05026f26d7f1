"""Session speed against a tau2-bench-style baseline, on 10k- and 100k-row tiny_shop worlds.

Run: ``python benchmarks/bench_session.py`` (about a minute). Ours is ``engine.Session``
(SQLite in memory, tools as SQL, evaluation by change-log diff). The baseline does what
tau2-bench does: the same rows as one JSON document loaded into pydantic models (a model per
table, a DB model holding dicts of rows), reset by re-parsing the JSON, tools as Python
functions on the models, evaluation by replaying the gold actions on a fresh copy and
comparing SHA-256 hashes of ``model_dump_json``.

Resets are timed after a short episode (three write calls, untimed), the realistic case: a
session then writes the logged before-images back in place (O(changes)). "reset, no
changes" is that path with an empty log; "reset, full copy" forces the ``deserialize`` of the
whole database (O(world)) that a reset falls back to after long episodes.
"""

from __future__ import annotations

import argparse
import gc
import random
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import engine.session as session_mod  # noqa: E402
from engine.spec.metadata import create_sqlite  # noqa: E402
from engine.spec.models import DomainSpec, read_spec_data  # noqa: E402
from engine.spec.task import Action, RowChange, Task, UserProfile  # noqa: E402
from engine.world import World, table_counts  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from tau2_baseline import (  # noqa: E402
    BaselineEnv,
    Customer,
    ShopDB,
    baseline_evaluate,
    baseline_json,
)

SPEC_PATH = ROOT / "fixtures" / "domains" / "tiny_shop.yaml"


# ---- the world ------------------------------------------------------------------------------
def build_db(spec: DomainSpec, rows: int, seed: int = 7) -> bytes:
    """A tiny_shop database of about ``rows`` rows (deterministic plain inserts).

    Shares: customers 10%, products 1%, orders 25%, items 39%, payments 25%; 40% of the
    orders are pending, so write calls have plenty to cancel.
    """
    rng = random.Random(seed)
    n_cust, n_prod, n_ord = rows // 10, max(20, rows // 100), rows // 4
    conn = sqlite3.connect(":memory:")
    create_sqlite(spec, conn)
    conn.executemany(
        "INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?)",
        [
            (f"C{i:06d}", f"Customer {i}", f"user{i}@example.com", rng.choice(["regular", "gold"]),
             round(rng.uniform(0, 500), 2), None if i % 2 else f"Note about customer {i}.")
            for i in range(n_cust)
        ],
    )  # fmt: skip
    prices = [round(rng.uniform(1, 300), 2) for _ in range(n_prod)]
    conn.executemany(
        "INSERT INTO products VALUES (?, ?, ?, ?)",
        [(f"P{i:05d}", f"Product {i} lamp", prices[i], rng.randint(0, 50)) for i in range(n_prod)],
    )
    orders, items, payments = [], [], []
    for i in range(n_ord):
        oid, total = f"#W{i:07d}", 0.0
        for p in rng.sample(range(n_prod), 2 if rng.random() < 0.56 else 1):
            q = rng.randint(1, 3)
            items.append((len(items) + 1, oid, f"P{p:05d}", q, prices[p]))
            total += q * prices[p]
        status = rng.choices(["pending", "delivered", "cancelled"], [0.4, 0.5, 0.1])[0]
        month = rng.randint(3, 5)
        created = f"2024-{month:02d}-{rng.randint(1, 14 if month == 5 else 28):02d} 10:00:00"
        cust = f"C{rng.randrange(n_cust):06d}"
        orders.append((oid, cust, status, created, round(total, 2)))
        payments.append((f"PAY{i:07d}", oid, rng.choice(["card", "gift_card"]), round(total, 2)))
    conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?)", orders)
    conn.executemany("INSERT INTO order_items VALUES (?, ?, ?, ?, ?)", items)
    conn.executemany("INSERT INTO payments VALUES (?, ?, ?, ?)", payments)
    conn.commit()
    data = conn.serialize()
    conn.close()
    return data


def table_rows(db: bytes, spec: DomainSpec) -> dict[str, list[dict[str, Any]]]:
    conn = sqlite3.connect(":memory:")
    conn.deserialize(db)
    out = {}
    for table, entity in spec.entities.items():
        cols = list(entity.columns)
        cur = conn.execute(f"SELECT {', '.join(cols)} FROM {table}")
        out[table] = [dict(zip(cols, r, strict=True)) for r in cur]
    conn.close()
    return out


# ---- measuring ------------------------------------------------------------------------------
def measure(
    fn: Callable[[int], Any],
    n: int,
    setup: Callable[[int], Any] | None = None,
    budget: float = 3.0,
) -> list[float]:
    """Microseconds of ``fn(i)`` for i in range(n), stopping early (after at least 3 samples)
    once ``budget`` seconds are spent; ``setup(i)`` runs untimed before each."""
    gc.collect()
    out: list[float] = []
    clock = time.perf_counter_ns
    stop = time.perf_counter() + budget
    for i in range(n):
        if setup is not None:
            setup(i)
        t0 = clock()
        fn(i)
        out.append((clock() - t0) / 1000.0)
        if len(out) >= 3 and time.perf_counter() > stop:
            break
    return out


def stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return statistics.median(ordered), p90


def seeded_db(spec: DomainSpec, rows: int) -> tuple[bytes, str]:
    """The world's bytes: ``synth.seed.seeder`` when present (the real seeder), else plain inserts."""
    try:
        from synth.seed.seeder import seed_database
    except ImportError:
        return build_db(spec, rows), "bench inserts"
    conn = sqlite3.connect(":memory:")
    create_sqlite(spec, conn)
    seed_database(spec, conn, seed=1, rows=rows)
    data = conn.serialize()
    conn.close()
    return data, "synth.seed.seeder"


# ---- the episode ----------------------------------------------------------------------------
NOTE = "Customer called to cancel the order; refund sent to the original payment method."


def make_task(world: World, rng: random.Random) -> Task:
    """A small hand-made task: cancel a pending order and note it on the customer's profile.

    The start patch adds a distractor (a second customer with the same name) and clears the
    note; the gold diff is whatever replaying the gold actions from the start state changes.
    """
    probe = world.session()
    conn = probe.conn
    order_id, customer_id, total = rng.choice(
        conn.execute(
            "SELECT order_id, customer_id, total FROM orders WHERE status = 'pending' "
            "AND total > 0 ORDER BY order_id"
        ).fetchall()
    )
    cust = dict(zip(["customer_id", "name", "email", "tier", "balance", "note"], conn.execute(
        "SELECT customer_id, name, email, tier, balance, note FROM customers WHERE customer_id = ?",
        (customer_id,),
    ).fetchone(), strict=True))  # fmt: skip
    probe.close()
    twin = {**cust, "customer_id": "CX9999", "email": "twin." + cust["email"], "note": None}
    patch = [
        RowChange(table="customers", key={"customer_id": "CX9999"}, after=twin),
        RowChange(
            table="customers",
            key={"customer_id": customer_id},
            before=cust,
            after={**cust, "note": None},
        ),
    ]
    gold = [
        Action(tool="cancel_order", args={"order_id": order_id, "reason": "no longer needed"}),
        Action(tool="add_customer_note", args={"customer_id": customer_id, "note": NOTE}),
    ]
    task = Task(
        id="bench-cancel",
        domain=world.spec.name,
        instruction=f"Cancel order {order_id} and note it on my profile.",
        user=UserProfile(name=cust["name"], known={"email": cust["email"]}),
        start_patch=patch,
        toolset=["get_customer", "cancel_order", "add_customer_note"],
        gold_actions=gold,
        required_answers=[f"{total:.2f}"],
    )
    s = world.session()
    s.reset(task)
    for a in gold:
        r = s.call(a.tool, a.args)
        if not r.ok:
            raise RuntimeError(f"gold action {a.tool} failed: {r.message}")
    task.gold_diff = s.changes()
    return task


def patch_baseline(env: BaselineEnv, task: Task) -> None:
    """Apply the task's start patch (customers only) to a baseline DB."""
    for ch in task.start_patch:
        assert ch.table == "customers" and ch.after is not None
        cid = ch.after["customer_id"]
        old = env.db.customers.get(cid)
        env.db.customers[cid] = Customer(**ch.after, order_ids=old.order_ids if old else [])


Row = tuple[str, float, float, float, float]  # op, ours median, ours p90, base median, base p90


def run_ours(world: World, task: Task, reps: int) -> dict[str, list[float]]:
    """Timings of ``engine.Session`` on one world (the gold episode must pass)."""
    s = world.session()
    conn = s.conn
    customers = [r[0] for r in conn.execute("SELECT customer_id FROM customers ORDER BY 1")]
    pending = conn.execute("SELECT order_id FROM orders WHERE status = 'pending' ORDER BY 1")
    cancels = [{"order_id": r[0], "reason": "no longer needed"} for r in pending]
    notes = [{"customer_id": c, "note": NOTE} for c in customers]
    out: dict[str, list[float]] = {}

    def episode(i: int) -> None:  # a typical short episode: three write calls
        for name, args in (
            ("cancel_order", cancels[i % len(cancels)]),
            ("add_customer_note", notes[i % len(notes)]),
            ("add_customer_note", notes[(i + 7) % len(notes)]),
        ):
            if not s.call(name, args).ok:
                raise RuntimeError(f"episode call {name} failed")

    s.reset()
    out["reset, 3 writes"] = measure(lambda i: s.reset(), reps, setup=episode)
    out["reset, no changes"] = measure(lambda i: s.reset(), reps)
    limit, session_mod.UNDO_LIMIT = session_mod.UNDO_LIMIT, 0
    out["reset, full copy"] = measure(lambda i: s.reset(), reps, setup=episode)
    session_mod.UNDO_LIMIT = limit
    s.reset(task)
    out["reset(task), 3 writes"] = measure(lambda i: s.reset(task), reps, setup=episode)
    snap = s.snapshot()
    out["snapshot"] = measure(lambda i: s.snapshot(), reps)
    s.restore(snap)
    out["restore, 3 writes"] = measure(lambda i: s.restore(snap), reps, setup=episode)
    out["read call"] = measure(
        lambda i: s.call("get_customer", {"customer_id": customers[i % len(customers)]}), reps
    )
    out["write call (note)"] = measure(
        lambda i: s.call("add_customer_note", notes[i % len(notes)]), reps
    )
    out["write call (cancel)"] = measure(
        lambda i: s.call("cancel_order", cancels[i % len(cancels)]),
        reps // 4,
        setup=lambda i: s.restore(snap),
    )
    s.reset(task)
    for a in agent_actions(task):
        s.call(a.tool, a.args)
    score = s.evaluate(task, episode_messages(task))
    if not score.passed:
        raise RuntimeError(f"the gold episode does not pass: {score.summary()}")
    out["evaluate"] = measure(lambda i: s.evaluate(task, episode_messages(task)), reps // 4)
    s.close()
    return out


def run_baseline(rows: dict[str, list[dict]], task: Task, reps: int) -> dict[str, list[float]]:
    """The same operations the tau2-bench way (fewer samples: each costs milliseconds)."""
    text = baseline_json(rows)
    env = BaselineEnv(text)
    start = BaselineEnv(text)
    patch_baseline(start, task)
    start_text = start.db.model_dump_json()
    del start
    customers = sorted(env.db.customers)
    pending = sorted(o.order_id for o in env.db.orders.values() if o.status == "pending")
    cancels = [{"order_id": o, "reason": "no longer needed"} for o in pending]
    notes = [{"customer_id": c, "note": NOTE} for c in customers]
    agent = agent_actions(task)
    few = max(3, reps // 100)
    out: dict[str, list[float]] = {}
    # the baseline re-parses the JSON whatever the episode changed: one reset figure for all
    out["reset, 3 writes"] = measure(lambda i: BaselineEnv(text), few)
    out["reset, no changes"] = out["reset, full copy"] = out["reset, 3 writes"]
    out["reset(task), 3 writes"] = measure(lambda i: patch_baseline(BaselineEnv(text), task), few)
    out["snapshot"] = measure(lambda i: env.db.model_dump_json(), few)
    snap = env.db.model_dump_json()
    out["restore, 3 writes"] = measure(lambda i: ShopDB.model_validate_json(snap), few)
    out["read call"] = measure(
        lambda i: env.call("get_customer", {"customer_id": customers[i % len(customers)]}), reps
    )
    out["write call (note)"] = measure(
        lambda i: env.call("add_customer_note", notes[i % len(notes)]), reps
    )
    out["write call (cancel)"] = measure(  # distinct orders: no reset needed between calls
        lambda i: env.call("cancel_order", cancels[i]), min(reps // 4, len(cancels))
    )
    if not baseline_evaluate(start_text, task.gold_actions, agent):
        raise RuntimeError("the baseline does not pass its own gold episode")
    out["evaluate"] = measure(
        lambda i: baseline_evaluate(start_text, task.gold_actions, agent), few
    )
    return out


def agent_actions(task: Task) -> list[Action]:
    """A typical successful episode: look the customer up, then the gold writes."""
    cust = task.gold_actions[1].args["customer_id"]
    return [Action(tool="get_customer", args={"customer_id": cust}), *task.gold_actions]


def episode_messages(task: Task) -> list[str]:
    """What the agent says at the end: states the refund amount (a required answer)."""
    return [f"Done: the order is cancelled and {task.required_answers[0]} goes back to your card."]


def run_size(spec: DomainSpec, rows: int, reps: int) -> tuple[list[Row], str]:
    data, source = seeded_db(spec, rows)
    world = World.from_parts(spec, data)
    task = make_task(world, random.Random(rows))
    total = sum(table_counts(data).values())
    ours = run_ours(world, task, reps)
    del world
    gc.collect()
    base = run_baseline(table_rows(data, spec), task, reps)
    gc.collect()
    table = [(op, *stats(ours[op]), *stats(base[op])) for op in ours]
    return table, f"{total:,} rows ({source})"


def run_scaled_write(rows: int, reps: int) -> tuple[float, float] | None:
    """bank ``transfer_funds`` on a synth-built world of ``rows`` rows, warm (no reset between
    calls): a write whose invariants read the largest tables (scoped checks, no baseline)."""
    try:
        from synth.build import build_world
    except ImportError:
        return None
    world = build_world(
        ROOT / "fixtures" / "domains" / "bank.yaml", seed=1, rows=rows, proctest=False
    ).world()
    s = world.session()
    pairs = s.conn.execute(
        "SELECT a.account_id, b.account_id FROM accounts a JOIN accounts b ON b.currency = a.currency "
        "AND b.account_id <> a.account_id AND b.status = 'open' WHERE a.status = 'open' "
        "AND a.balance > 500 ORDER BY 1, 2"
    ).fetchall()
    rng = random.Random(rows)
    args = [
        dict(zip(("from_account_id", "to_account_id"), rng.choice(pairs), strict=True))
        for _ in range(reps)
    ]
    s.call("transfer_funds", {**args[0], "amount": 1.0})  # prepare the statements
    samples = measure(lambda i: s.call("transfer_funds", {**args[i], "amount": 1.0}), reps)
    s.close()
    return stats(samples)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="*", default=[10_000, 100_000])
    ap.add_argument("--reps", type=int, default=2000, help="samples per fast operation")
    opts = ap.parse_args(argv)
    spec = DomainSpec.model_validate(read_spec_data(SPEC_PATH))
    started = time.perf_counter()
    header = f"{'operation':<22}{'ours med':>11}{'ours p90':>11}{'base med':>12}{'base p90':>12}{'speedup':>10}"
    for rows in opts.rows:
        table, label = run_size(spec, rows, opts.reps)
        print(f"\n{spec.name}, {label}; times in microseconds, speedup = baseline / ours (medians)")
        print(header)
        print("-" * len(header))
        for op, om, o90, bm, b90 in table:
            ratio = bm / om
            shown = f"{ratio:,.0f}x" if ratio >= 10 else f"{ratio:.2f}x"
            print(f"{op:<22}{om:>11.1f}{o90:>11.1f}{bm:>12.1f}{b90:>12.1f}{shown:>12}")
    scaled = run_scaled_write(10_000, opts.reps // 4)
    if scaled is not None:
        print(
            f"\nbank, 10,000 rows (synth.build): transfer_funds (warm write) {scaled[0]:.1f} us median, {scaled[1]:.1f} us p90"
        )
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
