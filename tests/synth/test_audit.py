"""The independent task auditor (synth.audit): it shares no code with the sampler, catches
each kind of wrong task it is meant to catch, and ``tasks gen`` ships only what it passes;
``tasks gen --explain`` says per write tool why it is (not) covered; ``validate`` refuses
an invariant scope the query does not tie to its key."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from engine.spec.task import Action
from engine.spec.validate import validate_spec
from synth.audit import Auditor
from synth.build import build_world
from synth.cli import app
from synth.tasks import generate_tasks

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def vet(domains_dir):
    world = build_world(domains_dir / "vet_clinic.yaml", seed=1).world()
    return world, generate_tasks(world, 24, seed=1)


def test_auditor_shares_no_code_with_the_sampler():
    for path in sorted((ROOT / "synth" / "audit").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                mod = node.module or ""
                assert not mod.startswith("synth.tasks"), (path.name, mod)
                assert mod.startswith(
                    (
                        "engine",
                        "synth.audit",
                        "__future__",
                        "collections",
                        "typing",
                        "dataclasses",
                        "sqlite3",
                        "json",
                        "re",
                    )
                ), mod
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("synth.tasks") for a in node.names)


def test_shipped_tasks_pass_the_audit(vet):
    world, ts = vet
    aud = Auditor(world)
    assert ts.tasks
    for t in ts.tasks:
        assert aud.audit(t) == [], t.id
    aud.close()
    assert ts.report["audit"]["passed"] == len(ts.tasks)


def _task_with(ts, pred):
    for t in ts.tasks:
        if pred(t):
            return t
    raise AssertionError("no such task among the generated ones")


def test_refusal_allowed_for_the_user_is_caught(vet):
    world, ts = vet
    t = _task_with(ts, lambda t: any(g["kind"] == "refusal" for g in t.subgoals))
    g = next(g for g in t.subgoals if g["kind"] == "refusal")
    rules = {r.name: r for r in world.spec.policy_rules}
    # the same rule name on a call the rule does not forbid: pick another rule of another tool
    other = next(r for r in rules.values() if r.tool != g["tool"])
    bad = dict(g, rule=other.name)
    wrong = t.model_copy(update={"subgoals": [bad if x is g else x for x in t.subgoals]})
    assert any(p.startswith("refusal") for p in Auditor(world).audit(wrong))


def test_ambiguous_mention_is_caught(vet):
    world, ts = vet
    t = _task_with(ts, lambda t: any(len(m["where"]) > 1 for m in t.meta["mentions"]))
    m = next(m for m in t.meta["mentions"] if len(m["where"]) > 1)
    vague = dict(m, where=m["where"][:1])  # the vet's name alone: many slots
    meta = dict(t.meta, mentions=[vague if x is m else x for x in t.meta["mentions"]])
    problems = Auditor(world).audit(t.model_copy(update={"meta": meta}))
    assert any(p.startswith("unique") for p in problems), problems


def test_ungrounded_argument_and_unknown_user_are_caught(vet):
    world, ts = vet
    t = _task_with(ts, lambda t: any(a.tool == "pay_invoice" for a in t.gold_actions))
    i = next(i for i, a in enumerate(t.gold_actions) if a.tool == "pay_invoice")
    a = t.gold_actions[i]
    other = "cash" if a.args["method"] == "card" else "card"
    text = t.instruction.replace(f"method: {a.args['method']}", "method: whatever suits")
    acts = list(t.gold_actions)
    acts[i] = Action(tool=a.tool, args=dict(a.args, method=other))
    problems = Auditor(world).audit(
        t.model_copy(update={"instruction": text, "gold_actions": acts})
    )
    assert any(p.startswith("grounding") for p in problems), problems
    nobody = t.model_copy(update={"user": t.user.model_copy(update={"known": {"email": "x@y.z"}})})
    assert any(p.startswith("user") for p in Auditor(world).audit(nobody))


def test_staff_tool_in_a_customer_task_is_caught(vet):
    world, ts = vet
    t = ts.tasks[0]
    s = world.session()
    s.reset(t)
    appt = s.snapshot()
    s.close()
    import sqlite3

    conn = sqlite3.connect(":memory:")
    conn.deserialize(appt)
    (vet_id,) = conn.execute("SELECT vet_id FROM vets ORDER BY 1 LIMIT 1").fetchone()
    conn.close()
    staff = Action(tool="open_slot", args={"vet_id": vet_id, "starts_at": "2024-06-30 18:30:00"})
    problems = Auditor(world).audit(t.model_copy(update={"gold_actions": [*t.gold_actions, staff]}))
    assert any(p.startswith("audience") for p in problems), problems


def test_tasks_gen_explain_and_audit_in_the_cli(tmp_path: Path, domains_dir: Path):
    out = tmp_path / "w"
    build_world(domains_dir / "car_rental.yaml", seed=2, out=out, proctest=False)
    res = CliRunner().invoke(app, ["tasks", "gen", str(out), "--n", "8", "--explain"])
    assert res.exit_code == 0, res.output
    assert "write-tool coverage explained" in res.output
    assert "independent task auditor" in res.output
    assert "staff tool" in res.output  # adjust_loyalty_points and friends: said why
    for tool in ("cancel_reservation", "set_vehicle_status"):
        assert tool in res.output


def test_validate_refuses_a_scope_the_query_does_not_tie_to_the_key(domains_dir):
    data = yaml.safe_load((domains_dir / "vet_clinic.yaml").read_text())
    assert validate_spec(data) == []
    data["invariants"][0]["scope"] = {"slots": "slot_id", "appointments": "appointment_id"}
    errs = validate_spec(data)
    assert [p for p, _m in errs] == ["invariants[0].scope.appointments"]
    assert "never compared with the key" in errs[0][1]


LOSSY = {
    "name": "lossy",
    "entities": {
        "a": {
            "rows": 60,
            "columns": {
                "id": {"type": "integer", "primary_key": True},
                "code": {"type": "string", "unique": True, "faker": {"choices": ["x", "y"]}},
            },
        },
        "b": {
            "rows": 40,
            "columns": {
                "id": {"type": "integer", "primary_key": True},
                "n": {"type": "integer", "minimum": 0, "maximum": 9},
            },
        },
    },
    "invariants": [
        {"name": "small_n", "violations": "SELECT id FROM b WHERE n > 6", "scope": {"b": "id"}}
    ],
    "tools": {
        "get_b": {
            "description": "x",
            "params": {"id": {"type": "integer", "references": "b.id"}},
            "reads": ["b"],
            "returns": {"query": "SELECT id, n FROM b WHERE id = :id"},
        }
    },
}


def test_seeding_reports_lost_rows_and_strict_refuses(tmp_path: Path):
    from engine import ScaleEnvError

    res = build_world(LOSSY, seed=1, proctest=False)
    rep = res.reports["seeding"]
    assert rep["tables"]["a"] == {"target": 60, "actual": 2, "lost": 58}
    assert rep["tables"]["b"]["target"] == 40 and rep["tables"]["b"]["lost"] > 0
    assert rep["repair_removed"] == {"small_n": rep["tables"]["b"]["lost"]}
    assert any(w.startswith("a: 2 of 60") and "only 2 distinct" in w for w in rep["warnings"])
    assert any("repair deleted" in w for w in rep["warnings"])
    with pytest.raises(ScaleEnvError, match="strict build refused: table a: 2 of 60"):
        build_world(LOSSY, seed=1, proctest=False, strict=True, out=tmp_path / "w")
    assert not (tmp_path / "w").exists()
    spec_file = tmp_path / "lossy.yaml"
    spec_file.write_text(yaml.safe_dump(LOSSY))
    cli = CliRunner().invoke(
        app, ["world", "build", str(spec_file), "--out", str(tmp_path / "v"), "--no-proctest"]
    )
    assert cli.exit_code == 0 and "warning: seeding: a: 2 of 60" in " ".join(cli.output.split())
    cli = CliRunner().invoke(
        app,
        [
            "world",
            "build",
            str(spec_file),
            "--out",
            str(tmp_path / "s"),
            "--strict",
            "--no-proctest",
        ],
    )
    assert cli.exit_code == 1 and "strict build refused" in cli.output
    assert len(cli.output.strip().splitlines()) == 1


def test_strict_build_of_the_new_fixtures_passes(domains_dir: Path):
    for name in ("car_rental", "vet_clinic"):
        res = build_world(domains_dir / f"{name}.yaml", seed=2, rows=1200, strict=True)
        assert res.reports["seeding"]["warnings"] == []
        assert sum(r["lost"] for r in res.reports["seeding"]["tables"].values()) == 0
