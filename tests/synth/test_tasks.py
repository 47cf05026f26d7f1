"""Task generation: determinism, verification, policies, each rejection rule, distractors,
and evaluation by state diff + answers only (tiny_shop: fast)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.db import bytes_to_connection
from engine.reward.evaluate import evaluate_changes
from engine.spec.task import Action, Task
from engine.spec.validate import load_spec
from synth.build import build_world
from synth.tasks import generate_tasks, quality_report, verify_task
from synth.tasks import verify as V
from synth.tasks.chain import Facts
from synth.tasks.distractors import Distractors
from synth.tasks.domain import SchemaInfo
from synth.tasks.links import MAX_REACH, reach, related
from synth.tasks.same import SameSet, same
from synth.tasks.verify import distractor_problem

N = 12


@pytest.fixture(scope="module")
def world(domains_dir):
    return build_world(domains_dir / "tiny_shop.yaml", seed=1, proctest=False).world()


@pytest.fixture(scope="module")
def taskset(world):
    return generate_tasks(world, N, seed=3)


def _write_task(taskset, tool: str | None = None) -> Task:
    for t in taskset.tasks:
        writes = [
            a
            for a in t.gold_actions
            if a.tool in ("cancel_order", "add_customer_note", "remove_items")
        ]
        if writes and (tool is None or writes[0].tool == tool):
            return t
    raise AssertionError(f"the sampler made no task with {tool or 'a write'}")


def _codes(problems: list[str]) -> set[str]:
    return {V.reason_code(p) for p in problems}


def _replayed(world, task: Task) -> Task:
    """``task`` with its gold diff recomputed by replaying its gold actions."""
    s = world.session()
    s.reset(task)
    for a in task.gold_actions:
        assert s.call(a.tool, a.args).ok, a
    return task.model_copy(update={"gold_diff": s.changes()})


# ---- generation -----------------------------------------------------------------------------
def test_generates_n_tasks_with_distractors(taskset):
    assert len(taskset.tasks) == N
    assert all(t.distractors > 0 for t in taskset.tasks)
    assert all(t.id == f"tiny_shop-3-{i:04d}" for i, t in enumerate(taskset.tasks))
    assert all(t.gold_diff for t in taskset.tasks)
    assert "tasks" in taskset.summary_line()


def test_same_seed_same_bytes(world, taskset):
    again = generate_tasks(world, N, seed=3, policies=False)
    assert again.to_jsonl() == taskset.to_jsonl()
    other = generate_tasks(world, 4, seed=4, policies=False)
    assert other.to_jsonl() != taskset.to_jsonl()


def test_same_bytes_in_other_processes(domains_dir):
    """No set or hash order leaks into sampling: other PYTHONHASHSEEDs, same file."""
    import os
    import subprocess
    import sys

    code = (
        "import hashlib, sys; from synth.build import build_world; from synth.tasks import generate_tasks; "
        f"w = build_world({str(domains_dir / 'tiny_shop.yaml')!r}, seed=1, proctest=False).world(); "
        "print(hashlib.sha256(generate_tasks(w, 8, seed=9, policies=False).to_jsonl().encode()).hexdigest())"
    )
    digests = set()
    for hs in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hs}
        out = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        digests.add(out.stdout.strip().splitlines()[-1])
    assert len(digests) == 1


def test_every_task_verifies(world, taskset):
    assert taskset.tasks  # never pass on an empty task set
    s = world.session()
    for t in taskset.tasks:
        assert verify_task(world, t, s) == [], t.id


def test_policies(taskset):
    pol = taskset.report["policies"]
    assert pol["gold"] == 1.0
    assert pol["empty"] == 0.0
    assert pol["random"] <= 0.2  # 7 tools: the bound for curated domains (5%) is in the slow test


def test_report_counts(world, taskset):
    rep = quality_report(world, taskset.tasks, 3, policies=False)
    assert sum(rep["difficulty"].values()) == N
    assert rep["toolset_sizes"]["min"] >= 2
    assert rep["tasks_without_distractors"] == 0
    assert "policies" not in rep


def test_instruction_is_grounded(taskset):
    assert taskset.tasks  # never pass on an empty task set
    for t in taskset.tasks:
        assert t.user.name in t.instruction
        for ident in t.meta["lookup_ids"]:
            assert str(ident) not in t.instruction.split()
        login = t.meta["login"]
        assert all(col in t.user.known for col in login)


# ---- rejection rules, each on a constructed bad task ---------------------------------------------
def test_rule_replay_failure(world, taskset):
    t = _write_task(taskset, "cancel_order")
    s = world.session()
    cancelled = s.conn.execute(
        "SELECT order_id FROM orders WHERE status = 'delivered' LIMIT 1"
    ).fetchone()[0]
    actions = [
        a
        if a.tool != "cancel_order"
        else Action(tool=a.tool, args={**a.args, "order_id": cancelled})
        for a in t.gold_actions
    ]
    bad = t.model_copy(update={"gold_actions": actions})
    assert V.REPLAY in _codes(verify_task(world, bad))


def test_rule_missing_entity(world, taskset):
    t = _write_task(taskset, "cancel_order")
    actions = [
        a
        if a.tool != "cancel_order"
        else Action(tool=a.tool, args={**a.args, "order_id": "0W0000"})
        for a in t.gold_actions
    ]
    bad = t.model_copy(update={"gold_actions": actions})
    assert V.MISSING in _codes(verify_task(world, bad))


def test_rule_no_change(world, taskset):
    t = _write_task(taskset)
    reads = [
        a
        for a in t.gold_actions
        if a.tool in ("find_customer_by_email", "get_customer", "get_order")
    ]
    bad = t.model_copy(update={"gold_actions": reads, "gold_diff": [], "required_answers": ["x"]})
    assert V.NO_CHANGE in _codes(V.rule_no_change(world.session(), bad))
    assert V.NO_CHANGE in _codes(
        verify_task(world, bad.model_copy(update={"required_answers": []}))
    )


def _customer(world):
    s = world.session()
    return s.conn.execute(
        "SELECT customer_id FROM customers ORDER BY customer_id LIMIT 1"
    ).fetchone()[0]


def _hand_task(world, actions: list[Action], **kw) -> Task:
    base = Task(
        id=kw.pop("id", "hand-0001"),
        domain="tiny_shop",
        instruction="hand made",
        user={"name": "x"},
        toolset=["add_customer_note", "get_customer", "cancel_order"],
        gold_actions=actions,
        **kw,
    )
    return _replayed(world, base)


def test_rule_order_dependent(world):
    c = _customer(world)
    actions = [
        Action(
            tool="add_customer_note",
            args={"customer_id": c, "note": "Call back on Monday about the refund."},
        ),
        Action(
            tool="add_customer_note",
            args={"customer_id": c, "note": "Customer prefers email, never phone."},
        ),
    ]
    bad = _hand_task(world, actions, subgoals=[{"kind": "write"}])
    assert V.ORDER in _codes(verify_task(world, bad))
    ok = bad.model_copy(update={"order_matters": True})
    assert V.ORDER not in _codes(verify_task(world, ok))


def test_rule_empty_passes(world):
    c = _customer(world)
    bad = _hand_task(world, [Action(tool="get_customer", args={"customer_id": c})])
    assert V.EMPTY in _codes(verify_task(world, bad))


def test_rule_duplicate_gold_diff(taskset):
    t = taskset.tasks[0]
    twin = t.model_copy(update={"id": "twin", "instruction": "same change, other words"})
    assert V.duplicates([t, twin]) == {"twin": t.id}
    assert V.duplicates(taskset.tasks) == {}


def test_rule_unchecked_required_action(world):
    s = world.session()
    c, note = s.conn.execute(
        "SELECT customer_id, note FROM customers WHERE note IS NOT NULL LIMIT 1"
    ).fetchone()
    order = s.conn.execute(
        "SELECT order_id FROM orders WHERE status = 'pending' LIMIT 1"
    ).fetchone()[0]
    actions = [
        Action(tool="cancel_order", args={"order_id": order, "reason": "no longer needed"}),
        Action(tool="add_customer_note", args={"customer_id": c, "note": note}),  # changes nothing
    ]
    bad = _hand_task(world, actions)
    assert V.UNCHECKED in _codes(verify_task(world, bad))
    redundant = _hand_task(world, actions[:1], required_answers=["cancelled", "cancelled order"])
    assert V.UNCHECKED in _codes(V.rule_checked(world.session(), redundant))


def test_rule_refusal_must_be_detectable(world, taskset):
    t = _write_task(taskset)
    refusal = {
        "kind": "refusal",
        "forbidden": {"tool": "get_customer", "args": {"customer_id": _customer(world)}},
    }
    bad = t.model_copy(update={"subgoals": [*t.subgoals, refusal]})
    assert V.UNCHECKED in _codes(V.rule_checked(world.session(), bad))


def test_rule_leak(world, taskset):
    t = _write_task(taskset)
    bad = t.model_copy(
        update={
            "meta": {**t.meta, "lookup_ids": ["C9999"]},
            "instruction": t.instruction + " Customer C9999.",
        }
    )
    assert V.LEAK in _codes(verify_task(world, bad))


# ---- distractors ------------------------------------------------------------------------------------
def test_distractors_change_no_gold_outcome(world, taskset):
    assert taskset.tasks  # never pass on an empty task set
    s = world.session()
    for t in taskset.tasks:
        assert distractor_problem(world, t, s) is None, t.id
        rows = {(tb, json.dumps(k, sort_keys=True)) for tb, k in t.meta["distractor_rows"]}
        assert rows, t.id
        plain = t.model_copy(
            update={
                "id": t.id + "-plain",
                "start_patch": [
                    c
                    for c in t.start_patch
                    if (c.table, json.dumps(c.key, sort_keys=True)) not in rows
                ],
            }
        )
        s.reset(plain)
        for a in plain.gold_actions:
            assert s.call(a.tool, a.args).ok
        assert s.evaluate(t, list(t.required_answers)).passed, t.id


def test_distractors_are_near_misses(world, taskset):
    assert taskset.tasks  # never pass on an empty task set
    s = world.session()
    for t in taskset.tasks:
        s.reset(t)
        for table, key in t.meta["distractor_entities"]:
            assert s.conn.execute(
                f'SELECT 1 FROM "{table}" WHERE {" AND ".join(f"{k} = ?" for k in key)}',
                list(key.values()),
            ).fetchone()
        assert t.meta["distractor_entities"][0][0] == "customers"


# ---- evaluation uses only the state diff and the answers ------------------------------------------------
@pytest.fixture(scope="module")
def twin_world(domains_dir):
    spec = load_spec(domains_dir / "tiny_shop.yaml").to_dict()
    twin = json.loads(json.dumps(spec["tools"]["add_customer_note"]))
    twin["description"] = "Set the note on a customer's profile (same effect, another tool)."
    spec["tools"]["set_profile_note"] = twin
    return build_world(spec, seed=1, proctest=False).world()


def test_evaluation_uses_only_state_and_answers(twin_world):
    c = _customer(twin_world)
    gold = [
        Action(
            tool="add_customer_note",
            args={"customer_id": c, "note": "Prefers delivery after 5 pm."},
        )
    ]
    task = _hand_task(twin_world, gold, required_answers=["42.5"])
    s = twin_world.session()
    s.reset(task)
    assert s.call("get_customer", {"customer_id": c}).ok
    assert s.call("set_profile_note", {"customer_id": c, "note": "Prefers delivery after 5 pm."}).ok
    assert s.evaluate(task, ["the total is $42.50"]).passed  # other tools, same final state
    assert not s.evaluate(task, []).passed  # the answer is required
    s.reset(task)
    assert s.call(
        "add_customer_note", {"customer_id": c, "note": "Never call before noon on weekdays."}
    ).ok
    assert not s.evaluate(task, ["42.5"]).passed  # the gold tool, another final state
    # the score is a function of (changes, messages) alone
    s.reset(task)
    s.call("set_profile_note", {"customer_id": c, "note": "Prefers delivery after 5 pm."})
    assert evaluate_changes(twin_world.spec, task, s.changes(), ["42.5"]).passed


# ---- building blocks ----------------------------------------------------------------------------
def test_schema_finds_the_user_and_what_they_know(world):
    from synth.tasks.domain import SchemaInfo

    info = SchemaInfo(world.spec)
    assert info.user_table == "customers"
    assert info.login_groups == [["email"], ["customer_id"]]
    assert info.knowable_tables == {"orders"}
    assert info.is_id_ref("order_items.item_id") and not info.is_id_ref("orders.status")
    assert info.root("payments.order_id") == "orders.order_id"


def test_patterns_and_key_phrases(world):
    import random

    from synth.tasks.args import from_pattern
    from synth.tasks.distractors import pattern_of
    from synth.tasks.refusal import key_phrase

    rng = random.Random(0)
    for pat in (r"^\d{5}$", r"^[A-Z]{2}$", r"^HAT\d{3}$", r"^\dW\d{7}$"):
        value = from_pattern(pat, rng)
        assert value is not None and __import__("re").fullmatch(pat, value)
    assert from_pattern(r"^(a|b)$", rng) is None
    assert pattern_of("usr_0738578") == "usr_#######" and pattern_of("QKJXRT") == "??????"
    assert key_phrase(world.spec.policy_rules[0]) == "30 days"


def test_start_patch_edits_are_checked_on_the_rows_they_change(world):
    """A prepared edit is kept only if the invariants hold for the rows it changed, through
    the runtime's scopes: a refund's own rule, and a payment's rule reached through the
    refunds that point at it; a refused edit leaves the patch as it was."""
    from synth.graph import build_graph
    from synth.tasks.context import Ctx
    from synth.tasks.start import StartBuilder

    ctx = Ctx(world, build_graph(world.spec), 0)
    sb = StartBuilder(ctx)
    patch = sb.open(ctx.base)
    conn = patch.conn
    pid, paid = conn.execute(
        "SELECT payment_id, amount FROM payments WHERE amount > 2 ORDER BY payment_id"
    ).fetchone()
    conn.execute(
        "INSERT INTO refunds (refund_id, payment_id, amount, created_at) VALUES (?, ?, ?, ?)",
        ("RF1", pid, paid - 1, "2024-05-01 10:00:00"),
    )
    refund = {"refund_id": "RF1"}
    assert sb.sound(conn, [("refunds", refund)])
    assert not sb.set_values(patch, "refunds", refund, {"amount": paid + 1})
    assert (
        conn.execute("SELECT amount FROM refunds WHERE refund_id = 'RF1'").fetchone()[0] == paid - 1
    )
    assert not sb.set_values(patch, "payments", {"payment_id": pid}, {"amount": 0.5})
    assert sb.set_values(patch, "refunds", refund, {"amount": paid})
    assert [(c.table, c.key, c.after["amount"]) for c in patch.changes(ctx)] == [
        ("refunds", refund, paid)
    ]
    patch.close()


_SCALARS = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.sampled_from([0.1, 0.104, 0.105, 0.11, 2.5, 2.504, 1, 1.0, True, "1", "1.0", "x"]),
    st.text(max_size=4),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_SCALARS, max_size=12), _SCALARS)
def test_sameset_answers_as_a_scan_of_same(values: list, x: object) -> None:
    """Facts dedupe in O(1) (issue 21): the index answers exactly what a scan of same() did,
    and Facts keeps the first of each run of same values, in order."""
    seen = SameSet()
    for v in values:
        seen.add(v)
    assert (x in seen) == any(same(v, x) for v in values)
    facts, kept = Facts(), []
    for v in values:
        facts.add("t.c", v)
        if not any(same(k, v) for k in kept):
            kept.append(v)
    assert facts.by_root.get("t.c", []) == kept
    assert facts.has("t.c", x) == any(same(k, x) for k in kept)
    assert Facts({"t.c": list(kept)}).has("t.c", x) == facts.has("t.c", x)


def test_link_walks_skip_paths_through_a_category(world):
    """A walk expected to touch more than MAX_REACH rows (up to a parent most rows share,
    then down to all of its children) is no link (issue 21): with the base's counts of a
    small world every path is walked; when each parent has MAX_REACH children, the walks
    through it are dropped: siblings are reached by longer links, if at all."""
    info = SchemaInfo(world.spec)
    conn = bytes_to_connection(world.base_bytes)
    for fk in info.fks:  # a child table whose rows share parents: siblings are links
        pk = info.pk(fk.table)
        shared = conn.execute(
            f'SELECT "{fk.column}" FROM "{fk.table}" GROUP BY 1 HAVING COUNT(*) > 1 LIMIT 1'
        ).fetchone()
        if len(pk) == 1 and shared is not None:
            break
    else:
        pytest.fail("the fixture has no parent with two children")
    key_value = conn.execute(
        f'SELECT "{pk[0]}" FROM "{fk.table}" WHERE "{fk.column}" = ? ORDER BY 1', shared
    ).fetchone()[0]
    ref = f"{fk.table}.{pk[0]}"
    walk = related(conn, info, fk.table, {pk[0]: key_value}, ref)
    assert len(walk) > 1  # the row itself and its siblings
    info.counts = {
        t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in info.spec.entities
    }
    assert related(conn, info, fk.table, {pk[0]: key_value}, ref) == walk
    info.counts = {t: 10 for t in info.spec.entities}
    info.counts[fk.table] = 10 * MAX_REACH  # each parent row has MAX_REACH children
    paths = info.paths(fk.table, fk.table)
    assert any(reach(info, fk.table, p) > MAX_REACH for p in paths)
    kept = related(conn, info, fk.table, {pk[0]: key_value}, ref)
    near, now = {v: n for v, n, _ in walk}, {v: n for v, n, _ in kept}
    assert set(now) <= set(near) and all(now[v] >= near[v] for v in now)
    assert now != near  # the siblings' walk through the shared parent is dropped
    assert kept[0][:2] == (key_value, 0)


def test_distractor_copies_keep_ranked_fills(domains_dir):
    """Fills that rank rows (a window function: every 10th order cancelled) are not rerun on
    a distractor copy (issue 21): a copy keeps the original's status and payment kind, while
    derived fills (an order's total from its items) are."""
    spec = load_spec(domains_dir / "retail.yaml")
    sb = SimpleNamespace(spec=spec, info=SchemaInfo(spec), ctx=SimpleNamespace(base_conn=None))
    rerun = {(t, c) for t, c, _sql in Distractors(sb).fills}  # type: ignore[arg-type]
    assert ("orders", "total") in rerun and ("orders", "delivered_at") in rerun
    assert ("orders", "status") not in rerun and ("payments", "kind") not in rerun
