"""OpenAPI and Google discovery documents compile to worlds: readers, inference, report, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine import World
from synth.build import build_world
from synth.cli import app
from synth.generate.openapi import (
    OpenAPIError,
    compile_google,
    compile_openapi,
    google_api_names,
    spec_from_openapi,
)

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "fixtures" / "openapi"
PETS, TICKETS, PAYMENTS = FIX / "petstore.yaml", FIX / "ticketing.json", FIX / "payments.yaml"
runner = CliRunner()


def _tools(report) -> dict[str, str | None]:
    return {o.op_id: o.tool for o in report.operations}


def _check_world(spec, n_tasks: int = 10):
    res = build_world(spec, seed=1, rows=300, tasks=n_tasks)
    quarantined = {n: t.quarantined for n, t in res.spec.tools.items() if t.quarantined}
    assert quarantined == {}
    gen = res.reports["tasks"]
    assert len(gen.tasks) == n_tasks
    assert gen.report["policies"]["gold"] == 1.0 and gen.report["policies"]["empty"] == 0.0
    return res


def test_petstore_resources_operations_and_world() -> None:
    spec, rep = compile_openapi(PETS)
    tools = _tools(rep)
    assert tools["listPets"] == "list_pets" and tools["addPet"] == "create_pet"
    assert tools["replaceOwner"] == "update_owner" and tools["cancelVisit"] == "cancel_visit"
    # nested collection -> foreign key to the parent; arrays of objects -> ordered child table
    pets = spec.entities["pets"]
    assert pets.columns["owner_id"].references == "owners.owner_id"
    assert spec.entities["pet_vaccinations"].columns["pet_id"].references == "pets.pet_id"
    assert pets.columns["species"].values == ["dog", "cat", "bird", "rabbit"]
    assert pets.columns["weight_kg"].check == "weight_kg >= 0.1 AND weight_kg <= 120"
    assert spec.entities["owners"].columns["address_city"].type == "string"  # flattened object
    # list query parameters that name a column become optional filters
    assert set(spec.tools["list_pets"].params) == {"owner_id", "status", "species"}
    # custom verbs move the status enum; the delete of a parent with children is refused
    adopt = spec.tools["adopt_pet"]
    assert "status = 'adopted'" in adopt.effects[0].sql
    assert any("NOT EXISTS" in p.check for p in spec.tools["delete_owner"].preconditions)
    # nothing dropped silently: every path+method of the document is in the report
    skipped = {o.op_id: o.reason for o in rep.skipped}
    assert set(skipped) == {"inventoryHead", "uploadPhoto"}
    assert "photo" in skipped["uploadPhoto"]
    assert len(rep.operations) == 19
    res = _check_world(spec)
    world = res.world()
    s = world.session()
    email = s.conn.execute("SELECT email FROM users ORDER BY user_id LIMIT 1").fetchone()[0]
    assert s.call("find_user_by_email", {"email": email}).ok


def test_ticketing_openapi31_json() -> None:
    spec, rep = compile_openapi(TICKETS)
    tools = _tools(rep)
    assert tools["checkInTicket"] == "check_in_ticket"  # checkIn -> checked_in
    assert tools["publishEvent"] == "publish_event"  # publish -> on_sale
    assert tools["rescheduleEvent"] == "reschedule_event"  # request field starts_at
    assert "starts_at" in spec.tools["reschedule_event"].params
    # deletes cascade under the item, unless the document asks for an empty one
    delete_event = spec.tools["delete_event"]
    assert [e.sql.split(" WHERE")[0] for e in delete_event.effects] == [
        "DELETE FROM tickets",
        "DELETE FROM event_price_tiers",
        "DELETE FROM events",
    ]
    assert any("NOT EXISTS" in p.check for p in spec.tools["delete_venue"].preconditions)
    tickets = spec.entities["tickets"].columns
    assert tickets["seat"].nullable and tickets["status"].values == ["issued", "checked_in", "void"]
    assert spec.entities["events"].columns["event_id"].primary_key
    _check_world(spec)


def test_payments_refs_allof_and_reported_fields() -> None:
    spec, rep = compile_openapi(PAYMENTS)
    cols = spec.entities["customers"].columns
    assert {"created", "email", "balance"} <= set(cols)  # allOf of a $ref base + own properties
    assert set(spec.tools["list_customers"].params) == {"user_id", "email"}  # limit: no column
    left_out = {(f.table, f.field): f.reason for f in rep.fields}
    assert "oneOf" in left_out[("payment_methods", "billingDetails")]
    assert "map" in left_out[("customers", "metadata")]
    assert spec.entities["refunds"].columns["payment_id"].references == "payments.payment_id"
    assert "status = 'canceled'" in spec.tools["cancel_payment"].effects[0].sql
    _check_world(spec)


def test_compile_is_deterministic() -> None:
    a, b = spec_from_openapi(PAYMENTS), spec_from_openapi(PAYMENTS)
    assert a.digest() == b.digest()
    w1 = build_world(a, seed=4, rows=200, proctest=False)
    w2 = build_world(b, seed=4, rows=200, proctest=False)
    assert w1.db_bytes == w2.db_bytes


@pytest.mark.parametrize(
    ("patch", "where"),
    [
        ({"swagger": "2.0"}, "#/swagger"),
        ({"openapi": "2.5"}, "#/openapi"),
        ({"paths": {}}, "#/paths"),
    ],
)
def test_unsupported_documents_name_the_path(tmp_path: Path, patch: dict, where: str) -> None:
    import yaml

    doc = yaml.safe_load(PETS.read_text())
    doc.update(patch)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(doc))
    with pytest.raises(OpenAPIError, match=where):
        compile_openapi(bad)


def test_cli_builds_a_world_and_an_external_ref_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "pets"
    rep = tmp_path / "report.json"
    res = runner.invoke(
        app,
        [
            "synth",
            "openapi",
            str(PETS),
            "--out",
            str(out),
            "--seed",
            "2",
            "--rows",
            "300",
            "--tasks",
            "5",
            "--report",
            str(rep),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "skipped  uploadPhoto" in res.output
    world = World.load(out)
    assert len(world.tasks) == 5 and "create_pet" in world.spec.tools
    data = json.loads(rep.read_text())
    assert data["crud_compiled"] == data["crud_total"] == 14
    # an external $ref: one line naming the JSON path, exit 1, nothing written
    text = PETS.read_text().replace(
        '$ref: "#/components/schemas/Address"', '$ref: "common.yaml#/Address"'
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    target = tmp_path / "never"
    res = runner.invoke(app, ["synth", "openapi", str(bad), "--out", str(target)])
    assert res.exit_code == 1
    assert "#/components/schemas/Owner/properties/address/$ref" in res.output
    assert "common.yaml#/Address" in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not target.exists()


# ---- Google discovery documents -------------------------------------------------------------
googleapiclient = pytest.importorskip("googleapiclient")


def test_google_names_and_versions() -> None:
    from synth.generate.openapi.discovery import preferred_version

    names = google_api_names()
    assert len(names) >= 300 and names == sorted(names)
    assert preferred_version("tasks") == "v1"
    assert preferred_version("displayvideo") != "v5"  # v5 only uploads media: not the full API


def test_google_tasks_world() -> None:
    spec, rep = compile_google("tasks")
    # sibling resources nest by their paths: lists/{tasklist}/tasks
    assert spec.entities["tasks"].columns["tasklist_id"].references == "tasklists.tasklist_id"
    assert spec.entities["tasks"].columns["due"].type == "datetime"  # "RFC 3339 timestamp"
    assert rep.crud() == (12, 12)
    assert {o.op_id for o in rep.skipped} == {"tasks.tasks.clear", "tasks.tasks.move"}
    _check_world(spec)


def test_google_singletons_and_transitions() -> None:
    spec, rep = compile_google("accessapproval")
    assert "update_project_access_approval_settings" in spec.tools
    spec, rep = compile_google("file")
    tools = _tools(rep)
    assert tools["file.projects.locations.instances.list"] == "list_instances"
    # AIP-135: a force parameter makes the cascade opt-in
    delete = spec.tools["delete_instance"]
    assert delete.params["force"].required is False
    assert any("COALESCE(:force, 0)" in p.check for p in delete.preconditions)
    assert "DELETE FROM snapshots" in delete.effects[0].sql
    assert rep.crud()[0] == rep.crud()[1]


def test_google_search_methods_list_a_top_level_resource() -> None:
    """A top-level resource with no get, create or list whose GET ``search`` answers one
    page of objects lists those objects (the element is the item schema); a GET answering
    one object with parts (a media download) does not."""
    spec, rep = compile_google("kmsinventory")
    assert _tools(rep)["kmsinventory.projects.protectedResources.search"] == (
        "list_project_protected_resources"
    )
    assert spec.tools["list_project_protected_resources"].returns.shape == "list"
    spec, rep = compile_google("youtubereporting")
    assert not any("media" in t for t in spec.tools)
    assert "no item schema" in _tools_reasons(rep)["youtubereporting.media.download"]


def _tools_reasons(report) -> dict[str, str]:
    return {o.op_id: o.reason or "" for o in report.operations}


@pytest.mark.slow
def test_corpus_every_discovery_document_compiles_or_says_why() -> None:
    """Every API of the installed client: compiled, or one OpenAPIError line; every method of
    a compiled document is in its report (compiled or skipped with a reason)."""
    from synth.generate.openapi.discovery import load_document

    def methods(node: dict) -> int:
        return sum(
            len(r.get("methods") or {}) + methods(r) for r in (node.get("resources") or {}).values()
        )

    compiled, done, total, failed = 0, 0, 0, []
    for name in google_api_names():
        try:
            spec, rep = compile_google(name)
        except OpenAPIError as exc:
            failed.append(str(exc))
            continue
        compiled += 1
        assert len(rep.operations) == methods(load_document(name)), name
        assert all(o.tool or o.reason for o in rep.operations)
        assert len(spec.tools) >= 3
        d, t = rep.crud()
        done, total = done + d, total + t
    assert compiled >= 300, failed
    assert all(msg.startswith("google:") and "\n" not in msg for msg in failed)
    assert done / total >= 0.8


def test_readme_example_becomes_a_world(tmp_path: Path) -> None:
    """The README's OpenAPI example, written by a user, builds with tasks in one command."""
    import re

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Any API becomes a world", 1)[1]
    doc = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert doc is not None
    notes = tmp_path / "notes.yaml"
    notes.write_text(doc.group(1))
    out = tmp_path / "notes"
    res = runner.invoke(
        app,
        [
            "synth",
            "openapi",
            str(notes),
            "--seed",
            "1",
            "--out",
            str(out),
            "--tasks",
            "10",
            "--rows",
            "300",
        ],
    )
    assert res.exit_code == 0, res.output
    world = World.load(out)
    assert {"archive_note", "create_notebook", "patch_notebook", "list_notes"} <= set(
        world.spec.tools
    )
    assert len(world.tasks) == 10
    assert world.spec.tools["list_notes"].params["state"].required is False


# ---- read-only APIs: information requests ------------------------------------------------------
CATALOG = FIX / "catalog_readonly.yaml"


def _catalog_tasks(seed: int = 1):
    spec, _rep = compile_openapi(CATALOG)
    assert all(t.read_only for t in spec.tools.values())  # nothing to change: no write chain
    res = build_world(spec, seed=seed, rows=300, tasks=10)
    return res, res.reports["tasks"]


def test_read_only_api_gets_answer_only_tasks() -> None:
    """A catalog with no write operation still gets verified tasks: the user asks for a
    value only the tools give; gold (the reads, then the answer) passes, doing nothing fails,
    and the database is never changed."""
    res, gen = _catalog_tasks()
    assert len(gen.tasks) == 10
    assert gen.report["policies"]["gold"] == 1.0 and gen.report["policies"]["empty"] == 0.0
    assert gen.report["audit"]["passed"] == 10
    world = res.world()
    s = world.session()
    for t in gen.tasks:
        assert t.meta.get("answer_only") and t.gold_diff == [] and len(t.required_answers) == 1
        assert all(world.spec.tools[a.tool].read_only for a in t.gold_actions)
        s.reset(t)
        for a in t.gold_actions:
            assert s.call(a.tool, a.args).ok
        assert s.changes() == []
        assert s.evaluate(t, [f"It is {t.required_answers[0]}."]).passed
        assert not s.evaluate(t, []).passed
        # names the user says, never the ids the agent looks up
        assert not any(str(i) in t.instruction for i in t.meta["lookup_ids"])
    assert len({t.subgoals[0]["field"] for t in gen.tasks}) >= 2  # not one question only


def test_answer_only_tasks_fail_a_dump_of_all_values() -> None:
    """Stating every value of the catalog (every row of every table) is listing candidates,
    not answering: it fails every task; so does reading out every list the gold reads."""
    from synth.tasks.answers_only import dump_passes

    res, gen = _catalog_tasks()
    world = res.world()
    s = world.session()
    conn = s.conn
    dump = []
    for table in ("shops", "products"):
        cur = conn.execute(f"SELECT * FROM {table}")
        names = [c[0] for c in cur.description]
        dump += [json.dumps(dict(zip(names, row, strict=True)), default=str) for row in cur]
    assert len(dump) > 50
    for t in gen.tasks:
        s.reset(t)
        assert not s.evaluate(t, dump).passed, t.instruction
        assert not dump_passes(s, t), t.instruction


def test_answer_only_tasks_are_deterministic(tmp_path: Path) -> None:
    """Same document and seed: byte-identical tasks, in this process and under another
    PYTHONHASHSEED."""
    import subprocess
    import sys

    _res, gen = _catalog_tasks()
    again = _catalog_tasks()[1]
    assert gen.to_jsonl() == again.to_jsonl()
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from tests.synth.test_openapi import _catalog_tasks; "
        "sys.stdout.write(_catalog_tasks()[1].to_jsonl())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(ROOT)],
        env={"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    assert out == gen.to_jsonl()


def test_corpus_ceiling_is_the_apis_with_five_methods() -> None:
    """A world gets at most one tool per method: APIs whose every version has fewer than 5
    methods can't reach the 5-tool bar (the OpenAPI issue's 300 of 338 is above this)."""
    from synth.generate.openapi.discovery import most_methods

    names = google_api_names()
    few = [n for n in names if most_methods(n) < 5]
    assert len(names) == 338 and len(few) == 51
    assert "webfonts" in few and most_methods("webfonts") == 1
    assert most_methods("calendar") >= 30
