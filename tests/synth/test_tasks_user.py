"""Tasks that are right for their user (issue 19), on the car-rental and vet-clinic fixtures:
customer actions and refusals only on the user's own rows, refusals really against the rule
for that user, staff tools never requested, descriptions that name one row, every write tool
covered or explained, and the independent auditor agreeing with all of it (~30 tasks each;
the 200-task figures come from ``benchmarks/task_audit_figures.py``)."""

from __future__ import annotations

import pytest

from engine.spec.task import Action
from synth.audit import Auditor, AuditSchema, audit_tasks
from synth.audit.checks import connect, mention_rows
from synth.build import build_world
from synth.tasks import generate_tasks
from synth.tasks.domain import SchemaInfo
from synth.tasks.ownership import count_matching, owners_of

N = 30
DOMAINS = ("car_rental", "vet_clinic")


@pytest.fixture(scope="module", params=DOMAINS)
def built(request, domains_dir):
    res = build_world(domains_dir / f"{request.param}.yaml", seed=1)
    world = res.world()
    return world, generate_tasks(world, N, seed=0), res


def test_fixtures_are_big_enough_and_nothing_is_quarantined(built):
    world, _ts, res = built
    spec = world.spec
    assert len(spec.entities) >= 7 and len(spec.tools) >= 19 and spec.policy_rules
    info = SchemaInfo(spec)
    audiences = {info.audience(n) for n in spec.tools}
    assert audiences == {"customer", "staff"}
    assert [n for n, t in spec.tools.items() if t.quarantined] == []
    assert res.reports["proctest"] is not None


def test_gold_passes_empty_fails_every_write_tool_covered_or_explained(built):
    world, ts, _res = built
    rep = ts.report
    assert len(ts.tasks) == N
    assert rep["policies"]["gold"] == 1.0 and rep["policies"]["empty"] == 0.0
    assert rep["write_coverage"] == 1.0
    for tool, t in world.spec.tools.items():
        if not t.read_only:
            assert tool in rep["explain"]
            assert rep["explain"][tool].startswith(("covered by", "not covered: a staff tool"))
    assert rep["audit"]["passed"] == N


def test_no_gold_action_touches_another_users_rows(built):
    world, ts, _res = built
    info = SchemaInfo(world.spec)
    s = world.session()
    checked = 0
    for t in ts.tasks:
        user = t.meta["user_key"]
        s.reset(t)
        for a in t.gold_actions:
            conn = connect(s.snapshot())
            for name, value in a.args.items():
                ref = world.spec.tools[a.tool].params[name].references
                if not ref or not info.is_id_ref(ref) or not info.owned(ref.split(".")[0]):
                    continue
                table, _, col = ref.partition(".")
                for v in value if isinstance(value, list) else [value]:
                    assert owners_of(conn, info, table, col, v) in (set(), {user}), (t.id, a)
                    checked += 1
            conn.close()
            assert s.call(a.tool, a.args).ok
    s.close()
    assert checked > N


def test_refusals_are_for_the_user_and_really_forbidden(built):
    world, ts, _res = built
    refusals = [(t, g) for t in ts.tasks for g in t.subgoals if g["kind"] == "refusal"]
    assert refusals
    aud = Auditor(world)
    for t, _g in refusals:
        assert aud.audit(t) == [], t.id
    aud.close()


def test_staff_tools_never_appear_in_customer_tasks(built):
    world, ts, _res = built
    staff = {n for n in world.spec.tools if AuditSchema(world.spec).audience(n) == "staff"}
    assert staff
    for t in ts.tasks:
        used = {a.tool for a in t.gold_actions} | set(t.toolset)
        assert not used & staff, t.id


def _owned_by(sch: AuditSchema, conn, table: str, rows: list, user) -> list:
    """The rows (keys) of ``table`` that belong to ``user`` alone."""
    pk = sch.pk(table)
    return sorted(
        r for r in rows if sch.owners(conn, table, dict(zip(pk, r, strict=True))) == {user}
    )


def test_every_mention_names_exactly_one_row(built):
    world, ts, _res = built
    sch = AuditSchema(world.spec)
    info = SchemaInfo(world.spec)
    s = world.session()
    mentions = 0
    for t in ts.tasks:
        s.reset(t)
        conn = connect(s.snapshot())
        for m in t.meta["mentions"]:
            rows = mention_rows(sch, conn, m)
            # the sampler's count (no DISTINCT when every join meets one parent) agrees
            assert count_matching(conn, info, m["table"], m.get("where", [])) == len(rows)
            if m["mine"]:
                user = t.meta["user_key"]
                rows = _owned_by(sch, conn, m["table"], rows, user)
                # the SQL prefilter for the user keeps every row the exact check keeps
                pre = mention_rows(sch, conn, m, user)
                assert _owned_by(sch, conn, m["table"], pre, user) == rows, (t.id, m)
            assert len(rows) == 1, (t.id, m)
            mentions += 1
        conn.close()
    s.close()
    assert mentions > 0


def test_auditor_catches_a_foreign_row_and_a_dropped_write(built):
    world, ts, _res = built
    info = SchemaInfo(world.spec)
    aud = Auditor(world)
    task = next(
        t for t in ts.tasks if any(not world.spec.tools[a.tool].read_only for a in t.gold_actions)
    )
    assert aud.audit(task) == []
    # every write dropped in turn: the auditor's outcome check needs each one
    writes = [i for i, a in enumerate(task.gold_actions) if not world.spec.tools[a.tool].read_only]
    assert writes
    empty = task.model_copy(update={"gold_actions": []})
    assert any(p.startswith("outcome") for p in aud.audit(empty))
    # the same write aimed at a row of another user
    i = writes[0]
    act = task.gold_actions[i]
    t = world.spec.tools[act.tool]
    conn = connect(world.base_bytes)
    for name, p in t.params.items():
        ref = p.references
        if not ref or not info.owned(ref.split(".")[0]) or ref.split(".")[0] == info.user_table:
            continue
        table, _, col = ref.partition(".")
        other = conn.execute(f'SELECT "{col}" FROM "{table}" ORDER BY 1').fetchall()
        for (v,) in other:
            if owners_of(conn, info, table, col, v) not in (set(), {task.meta["user_key"]}):
                args = dict(act.args, **{name: v})
                bad = task.model_copy(
                    update={
                        "gold_actions": [
                            *task.gold_actions[:i],
                            Action(tool=act.tool, args=args),
                            *task.gold_actions[i + 1 :],
                        ]
                    }
                )
                assert any(p.startswith("ownership: gold") for p in aud.audit(bad))
                conn.close()
                aud.close()
                return
    pytest.fail("no foreign row to aim the write at")


def test_audit_tasks_counts_per_check(built):
    world, ts, _res = built
    rep = audit_tasks(world, ts.tasks[:5])
    assert rep["tasks"] == 5 and rep["passed"] == 5
    assert set(rep["failed_by_check"]) >= {"ownership", "refusal", "unique", "grounding"}


def test_explain_names_the_argument_or_precondition_that_blocks_a_tool(domains_dir):
    import yaml

    data = yaml.safe_load((domains_dir / "vet_clinic.yaml").read_text())
    del data["tools"]["list_open_slots"]  # nothing tells the agent a slot id any more
    pre = data["tools"]["request_refill"]["preconditions"]
    pre.append({"check": "SELECT 0", "error": "Refills are paused."})  # never passes
    world = build_world(data, seed=1, proctest=False).world()
    rep = generate_tasks(world, 10, seed=0, policies=False).report["explain"]
    assert rep["book_appointment"].startswith("not covered: unresolvable_argument")
    assert "book_appointment.slot_id (slots.slot_id)" in rep["book_appointment"]
    assert "Refills are paused." in rep["request_refill"], rep["request_refill"]
    assert rep["open_slot"].startswith("not covered: a staff tool")


def test_a_staff_agent_gets_back_office_tasks(domains_dir):
    """``agent_role: staff``: staff tools serve tasks too (the IN-list-checked resolution of
    close_damage_report included), still passing the auditor."""
    import yaml

    data = yaml.safe_load((domains_dir / "car_rental.yaml").read_text())
    data["agent_role"] = "staff"
    world = build_world(data, seed=1, proctest=False).world()
    ts = generate_tasks(world, 14, seed=0, policies=False)
    used = {a.tool for t in ts.tasks for a in t.gold_actions}
    assert {"adjust_loyalty_points", "set_vehicle_status", "close_damage_report"} & used
    closes = [a for t in ts.tasks for a in t.gold_actions if a.tool == "close_damage_report"]
    assert all(a.args["resolution"] in ("repaired", "written_off", "no_fault") for a in closes)
    assert ts.report["audit"]["passed"] == len(ts.tasks) == 14
