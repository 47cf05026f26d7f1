"""Invariant checks at O(changed rows): scopes, the call log, fallbacks, equivalence, ids."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from tinyshop import make_world, spec_with

import engine.runtime.call as runtime
import synth.build as build
from engine.runtime.invariants import explain_scoped, plan_checks
from engine.runtime.keylog import CALL_LOG
from engine.spec.models import DomainSpec, Invariant
from engine.spec.validate import validate_spec
from engine.world import World

DOMAINS = Path(__file__).resolve().parents[2] / "fixtures" / "domains"
CANCEL = {"order_id": "#W0001", "reason": "no longer needed"}


def _traced(s: Any) -> list[str]:
    s.conn.set_trace_callback((out := []).append)
    return out


def _checks(sql: list[str]) -> list[str]:  # the invariant statements a call ran
    return [t for t in sql if t.startswith("/*scaleenv:inv")]


def _world(spec: DomainSpec) -> World:
    return World.from_parts(spec, make_world(spec).base_bytes)


def _tool(table: str, *effects: str, reads: tuple = (), **params: str) -> dict:
    """A tool writing ``table`` with string ``params`` (a spec_with entry)."""
    return {
        "description": "x",
        "params": {p: {"type": t} for p, t in params.items()},
        "reads": [table, *reads],
        "writes": [table],
        "effects": list(effects),
    }


SHRINK = _tool("payments", "UPDATE payments SET amount = 1 WHERE payment_id = :payment_id",
               payment_id="string")  # fmt: skip


def _with_scope(spec: DomainSpec, name: str, scope: dict | None) -> DomainSpec:
    out = spec.model_copy(deep=True)
    next(i for i in out.invariants if i.name == name).scope = scope
    return out


# ---- scoped checks ----------------------------------------------------------------------------
def test_scoped_check_catches_a_violation_and_rolls_back(tiny_spec: DomainSpec) -> None:
    bad = "INSERT INTO refunds SELECT 'RFBAD', payment_id, amount + 100, :now FROM payments WHERE order_id = :order_id"
    spec = spec_with(
        tiny_spec, over_refund=_tool("refunds", bad, reads=("payments",), order_id="string")
    )
    s = _world(spec).session()
    before = s.snapshot()
    sql = _traced(s)
    r = s.call("over_refund", {"order_id": "#W0001"})
    assert r.error_type == "invariant_violated"
    assert (
        "invariant 'refund_not_above_payment'" in r.message and '"refund_id": "RFBAD"' in r.message
    )
    assert s.snapshot() == before
    combined = [t for t in _checks(sql) if t.startswith("/*scaleenv:invs:")]
    assert combined and "_v" in combined[0] and "0:1" in combined[0]  # scoped, on one key
    assert s.conn.execute(f'SELECT COUNT(*) FROM "{CALL_LOG}"').fetchone() == (0,)


def test_change_in_linked_table_found_through_its_foreign_key(tiny_spec: DomainSpec) -> None:
    spec = spec_with(tiny_spec, shrink_payment=SHRINK)
    s = _world(spec).session()
    assert s.call("cancel_order", CANCEL).ok  # refunds PAY00001 in full (39.0)
    sql = _traced(s)
    r = s.call("shrink_payment", {"payment_id": "PAY00001"})
    assert r.error_type == "invariant_violated" and "refund_not_above_payment" in r.message
    assert any(":via0:" in t for t in _checks(sql)), "payments -> refunds.payment_id lookup"
    assert s.call("shrink_payment", {"payment_id": "PAY00003"}).ok  # nothing refunded there


def test_unscoped_table_falls_back_to_a_full_check(tiny_spec: DomainSpec) -> None:
    spec = _with_scope(tiny_spec, "refund_not_above_payment", {"refunds": "refund_id"})
    spec = spec_with(spec, shrink_payment=SHRINK)
    s = _world(spec).session()
    assert s.call("cancel_order", CANCEL).ok
    sql = _traced(s)
    r = s.call("shrink_payment", {"payment_id": "PAY00001"})
    assert r.error_type == "invariant_violated" and "refund_not_above_payment" in r.message
    combined = [t for t in _checks(sql) if t.startswith("/*scaleenv:invs:")]
    assert combined[0].startswith("/*scaleenv:invs:0:0*/")  # invariant 0, in full


def test_updates_of_columns_no_invariant_reads_run_no_check(tiny_spec: DomainSpec) -> None:
    sql = "UPDATE payments SET method = 'gift_card' WHERE payment_id = :payment_id"
    spec = spec_with(tiny_spec, set_method=_tool("payments", sql, payment_id="string"))
    s = _world(spec).session()
    sql = _traced(s)
    assert s.call("set_method", {"payment_id": "PAY00001"}).ok
    assert _checks(sql) == []


def test_unscoped_invariants_still_run_when_touched(tiny_spec: DomainSpec) -> None:
    spec = tiny_spec.model_copy(deep=True)
    for inv in spec.invariants:
        inv.scope = None
    bad = "INSERT INTO refunds VALUES ('RFBAD', :payment_id, 1000, :now)"
    spec = spec_with(spec, over_refund=_tool("refunds", bad, payment_id="string"))
    r = _world(spec).session().call("over_refund", {"payment_id": "PAY00001"})
    assert r.error_type == "invariant_violated" and "refund_not_above_payment" in r.message


def _with_invariant(spec: DomainSpec, violations: str, scope: dict, **tools: dict) -> DomainSpec:
    out = spec_with(spec, **tools)
    out.invariants.append(Invariant(name="extra", violations=violations, scope=scope))
    return out


def test_a_key_moving_away_is_checked_on_its_old_value(tiny_spec: DomainSpec) -> None:
    """Only the order's old customer breaks the rule: the key log keeps before-images."""
    spec = _with_invariant(
        tiny_spec,
        "SELECT c.customer_id FROM customers c WHERE c.tier = 'gold' AND NOT EXISTS "
        "(SELECT 1 FROM orders o WHERE o.customer_id = c.customer_id)",
        {"customers": "customer_id", "orders": "customer_id"},
        move_order=_tool(
            "orders",
            "UPDATE orders SET customer_id = :customer_id WHERE order_id = :order_id",
            order_id="string",
            customer_id="string",
        ),
    )
    s = _world(spec).session()
    assert s.call("move_order", {"order_id": "#W0001", "customer_id": "C0002"}).ok  # keeps #W0002
    r = s.call("move_order", {"order_id": "#W0002", "customer_id": "C0002"})
    assert r.error_type == "invariant_violated" and '"customer_id": "C0001"' in r.message


def test_explicit_links_also_follow_inserts(tiny_spec: DomainSpec) -> None:
    """A link that is no foreign key: a new row can match rows that did not change."""
    spec = _with_invariant(
        tiny_spec,
        "SELECT c.customer_id, d.customer_id AS other FROM customers c "
        "JOIN customers d ON d.email = c.note",
        {"customers": ["customer_id", "customers.note=email"]},
        add_customer=_tool(
            "customers",
            "INSERT INTO customers VALUES (:customer_id, 'New', :email, 'regular', 0, NULL)",
            customer_id="string",
            email="string",
        ),
    )
    s = _world(spec).session()
    assert s.call("add_customer", {"customer_id": "C0009", "email": "new@example.com"}).ok
    r = s.call("add_customer", {"customer_id": "C0010", "email": "Prefers email."})
    assert r.error_type == "invariant_violated" and '"customer_id": "C0002"' in r.message


def test_scoped_queries_are_pushed_down_to_the_keys() -> None:
    """No scoped check of the fixtures reads a whole table (except tiny lookup tables)."""
    import sqlite3

    from engine.spec.metadata import create_sqlite
    from engine.spec.validate import load_spec

    allowed = {"return_items"}  # item_returned_at_most_once: PK (return_id, item_id), small
    checked = 0
    for domain in ("tiny_shop", "bank", "retail", "airline"):
        spec = load_spec(DOMAINS / f"{domain}.yaml")
        conn = sqlite3.connect(":memory:")
        create_sqlite(spec, conn)
        for chk in plan_checks(spec)[1]:
            if chk.key is None:
                continue
            scans = [p for p in explain_scoped(conn, chk) if p.startswith("SCAN")]
            bad = [p for p in scans if p.split()[1] not in ("_v", *allowed)]
            assert not bad, f"{domain}.{chk.inv.name}: {bad}"
            checked += 1
    assert checked >= 20  # the fixtures' scoped invariants were really planned and explained


def test_replace_conflicts_keep_before_images(tiny_spec: DomainSpec) -> None:
    """An outer OR REPLACE/ABORT used to override the changelog triggers' OR IGNORE."""
    note_twice = _tool(
        "customers",
        "UPDATE OR REPLACE customers SET note = 'one' WHERE customer_id = :customer_id",
        "UPDATE OR ABORT customers SET note = 'two' WHERE customer_id = :customer_id",
        customer_id="string",
    )
    spec = spec_with(tiny_spec, note_twice=note_twice)
    s = _world(spec).session()
    assert s.call("note_twice", {"customer_id": "C0002"}).ok
    assert s.call("note_twice", {"customer_id": "C0002"}).ok
    (ch,) = s.changes()
    assert ch.before is not None and ch.before["note"] == "Prefers email."
    assert ch.after is not None and ch.after["note"] == "two"


# ---- validation -------------------------------------------------------------------------------
def _errors(tiny_spec: DomainSpec, index: int, scope: Any, violations: str | None = None) -> list:
    data = tiny_spec.model_dump(mode="json", exclude_defaults=True)
    data["invariants"][index]["scope"] = scope
    if violations:
        data["invariants"][index]["violations"] = violations
    return [e for e in validate_spec(data) if e[0].startswith(f"invariants[{index}]")]


@pytest.mark.parametrize(
    ("index", "scope", "violations", "path", "message"),
    [
        (0, {"nope": "x"}, None, ".nope", "unknown table nope"),
        (0, {"orders": "order_id"}, None, ".orders", "the violations query does not read orders"),
        (0, {"refunds": "nope"}, None, ".refunds", "unknown column refunds.nope"),
        (0, {"refunds": "refund_id", "payments": "orders.order_id"}, None, ".payments", "not other.fk"),
        (0, {"payments": "refunds.payment_id"}, None, ".payments", "needs refunds in the scope"),
        (0, {"refunds": "payment_id"}, None, ".refunds", "the key refund_id is refunds.refund_id"),
        (0, {}, None, "", "empty scope"),
        (2, {"products": "product_id"}, "SELECT product_id FROM products LIMIT 5", "", "LIMIT"),
        (2, {"products": "product_id"}, "SELECT stock + 1 FROM products", "", "name it plainly"),
    ],
)  # fmt: skip
def test_scope_validation_errors_have_field_paths(
    tiny_spec: DomainSpec, index: int, scope: Any, violations: Any, path: str, message: str
) -> None:
    ((where, text),) = _errors(tiny_spec, index, scope, violations)
    assert where == f"invariants[{index}].scope{path}" and message in text


def test_scope_accepts_lists_and_explicit_links(tiny_spec: DomainSpec) -> None:
    assert _errors(tiny_spec, 0, {"refunds": "refund_id"}) == []
    scope = {"refunds": ["refund_id"], "payments": "refunds.payment_id=payment_id"}
    assert _errors(tiny_spec, 0, scope) == []


# ---- generated ids ----------------------------------------------------------------------------
def _refund_spec(tiny_spec: DomainSpec) -> DomainSpec:
    add = _tool(
        "refunds", "INSERT INTO refunds VALUES (:rid, :payment_id, 1, :now)", payment_id="string"
    )
    add["generate"] = {"rid": {"pattern": "RF#####", "table": "refunds", "column": "refund_id"}}
    add["returns"] = {"query": "SELECT :rid", "shape": "scalar"}
    spec = spec_with(tiny_spec, add_refund=add)
    spec.invariants = []  # one refund per payment would stop the loop
    return spec


def test_ids_cost_one_probe_each_and_follow_from_the_state(tiny_spec: DomainSpec) -> None:
    world = _world(_refund_spec(tiny_spec))
    a, b = world.session(), world.session()
    ids_a = [a.call("add_refund", {"payment_id": "PAY00001"}).result for _ in range(500)]
    probes = a._shared.tool("add_refund").id_probes
    assert len(set(ids_a)) == 500 and all(re.fullmatch(r"RF\d{5}", i) for i in ids_a)
    assert probes < 500 + 25, probes  # a collision costs a probe; restarting at 0 cost 125k
    ids_b = [b.call("add_refund", {"payment_id": "PAY00001"}).result for _ in range(500)]
    assert ids_a == ids_b
    # the sequence starts at the table's row count (refunds starts empty)
    assert ids_a[:2] == [runtime.id_candidate("tiny_shop", "add_refund", "rid", k, "RF#####")
                         for k in (0, 1)]  # fmt: skip


# ---- equivalence: scoped checks decide exactly like full checks -------------------------------
@contextmanager
def _full_checks() -> Iterator[None]:
    """Check every invariant in full: the call log is still emptied, its keys ignored."""
    take = runtime.take_log
    runtime.take_log = lambda conn: (take(conn), None)[1]  # type: ignore[assignment]
    try:
        yield
    finally:
        runtime.take_log = take


@pytest.fixture(scope="module")
def built() -> dict[str, tuple[DomainSpec, bytes]]:

    out = {}
    for domain in ("bank", "retail", "airline"):
        res = build.build_world(DOMAINS / f"{domain}.yaml", seed=1, rows=2000, proctest=False)
        out[domain] = (res.spec, res.db_bytes)
    return out


def _pick(conn: Any, rng: random.Random, table: str, col: str, where: tuple = ()) -> Any:
    """A random value of ``table.col`` (optionally where column ``where[0]`` = ``where[1]``)."""
    cond, args = (f'WHERE "{where[0]}" = ?', [where[1]]) if where else ("", [])
    n = conn.execute(f'SELECT COUNT(*) FROM "{table}" {cond}', args).fetchone()[0]
    row = conn.execute(
        f'SELECT "{col}" FROM "{table}" {cond} ORDER BY rowid LIMIT 1 OFFSET ?',
        [*args, rng.randrange(max(n, 1))],
    ).fetchone()
    return None if row is None else row[0]


def _value(conn: Any, rng: random.Random, ref: str, chosen: dict[str, Any]) -> Any:
    """A referenced value, often related to a value already chosen (an order's items)."""
    table, col = ref.split(".")
    cols = {r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')}
    related = [k for k in chosen if k in cols and not isinstance(chosen[k], list)]
    if related and rng.random() < 0.7:
        got = _pick(conn, rng, table, col, (related[0], chosen[related[0]]))
        if got is not None:
            return got
    return _pick(conn, rng, table, col)


def _args(spec: DomainSpec, conn: Any, rng: random.Random, tool: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, p in spec.tools[tool].params.items():
        if not p.required and rng.random() < 0.5:
            continue
        if p.references:
            out[name] = _value(conn, rng, p.references, out)
        elif p.type == "enum":
            out[name] = rng.choice(p.values or [None])
        elif p.type == "boolean":
            out[name] = rng.random() < 0.5
        elif p.type in ("number", "integer"):
            x = rng.uniform(p.minimum or 0, min(p.maximum or 500, 500))
            out[name] = int(x) if p.type == "integer" else round(x, 2)
        elif p.type == "array" and p.items is not None and p.items.references:
            n = rng.randint(1, 2)
            out[name] = [_value(conn, rng, p.items.references, out) for _ in range(n)]
        else:
            out[name] = {"state": "CA", "zip": "94105"}.get(name, "Test value")
    return out


def _mutant(spec: DomainSpec) -> DomainSpec:
    """``spec`` without preconditions, plus raw row edits on every table (copy a column's
    value from another row, delete a row, duplicate a row under a new key): calls that break
    invariants through every path (keys, links, unscoped tables)."""
    from engine.spec.models import Tool

    out = spec.model_copy(deep=True)
    for tool in out.tools.values():
        tool.preconditions = []
    for t, entity in spec.entities.items():
        edits = {
            f"mut_set_{t}_{c}": f'UPDATE "{t}" SET "{c}" = (SELECT "{c}" FROM "{t}" '
            "WHERE rowid = :src) WHERE rowid = :rid"
            for c in entity.columns
        }
        edits[f"mut_del_{t}"] = f'DELETE FROM "{t}" WHERE rowid = :rid AND :src = :src'
        if len(entity.primary_key) == 1:
            pk = entity.primary_key[0]
            integer = entity.columns[pk].type == "integer"
            key = f'(SELECT MAX("{pk}") + 1 FROM "{t}")' if integer else f"\"{pk}\" || 'x' || :src"
            cols = ", ".join(f'"{c}"' for c in entity.columns)
            picked = ", ".join(key if c == pk else f'"{c}"' for c in entity.columns)
            edits[f"mut_dup_{t}"] = (
                f'INSERT INTO "{t}" ({cols}) SELECT {picked} FROM "{t}" WHERE rowid = :rid'
            )
        for name, sql in edits.items():
            out.tools[name] = Tool.model_validate(_tool(t, sql, rid="integer", src="integer"))
    return out


@pytest.mark.parametrize("domain", ["bank", "retail", "airline"])
@pytest.mark.parametrize("mutant", [False, True], ids=["spec", "mutant"])
def test_scoped_and_full_checks_agree(built: dict, domain: str, mutant: bool) -> None:
    """Random calls, twice in lockstep: scoped checks and full checks decide alike, and no
    state the scoped run commits violates an invariant."""
    spec, data = built[domain]
    spec = _mutant(spec) if mutant else spec
    world = World.from_parts(spec, data)
    scoped, full = world.session(), world.session()
    writers = [t for t in spec.active_tools() if spec.tools[t].effects and "mut_" not in t]
    mutations = [t for t in spec.tools if t.startswith("mut_")]
    rng = random.Random(f"{domain}-{mutant}")
    checks = [(inv.name, inv.violations) for inv in spec.invariants]
    outcomes: dict[str, int] = {}
    for step in range(400 if mutant else 120):
        if mutations and rng.random() < 0.7:
            tool = rng.choice(mutations)
            table = spec.tools[tool].writes[0]
            args = {k: _pick(scoped.conn, rng, table, "rowid") or 0 for k in ("rid", "src")}
        else:
            tool = rng.choice(writers)
            args = _args(spec, scoped.conn, rng, tool)
        a = scoped.call(tool, args)
        with _full_checks():
            b = full.call(tool, args)
        label = f"step {step}: {tool}({args})"
        assert (a.ok, a.error_type) == (b.ok, b.error_type), f"{label}: {a.text} / {b.text}"
        if a.error_type == "invariant_violated":
            assert a.message.split(" would")[0] == b.message.split(" would")[0], label
        assert scoped.state_hash() == full.state_hash(), label
        for name, sql in checks:  # nothing the scoped check let through breaks an invariant
            assert scoped.conn.execute(sql, {"now": spec.now}).fetchone() is None, (label, name)
        outcomes[a.error_type or "ok"] = outcomes.get(a.error_type or "ok", 0) + 1
    assert outcomes.get("ok", 0) >= 5, outcomes
    if mutant:
        assert outcomes.get("invariant_violated", 0) >= 20, outcomes
