"""Procedural testing: curated domains pass, every broken tool is caught with a precise reason."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from engine.errors import SpecError
from engine.runtime.argcheck import ArgError, param_check
from engine.spec.models import read_spec_data
from engine.spec.validate import load_spec
from synth.build import build_world
from synth.cli import app
from synth.proctest.casegen import Sampler
from synth.proctest.casesearch import boundary, out_of_range, wrong_type
from synth.proctest.casestate import construct_state
from synth.proctest.falsify import falsifiable
from synth.proctest.oracles import Oracle, arg_problem
from synth.proctest.run import load_broken, run_proctest, unchecked_spec

ROOT = Path(__file__).resolve().parents[2]
DOMAINS = ROOT / "fixtures" / "domains"
BROKEN = sorted((ROOT / "fixtures" / "broken").glob("*.yaml"))
TINY = DOMAINS / "tiny_shop.yaml"


@pytest.fixture(scope="module")
def tiny():
    return build_world(TINY, seed=1, proctest=False)


@pytest.fixture(scope="module")
def tiny_report(tiny):
    return run_proctest(tiny.spec, tiny.db_bytes, seed=1)


def test_tiny_shop_passes_with_full_coverage(tiny, tiny_report) -> None:
    assert tiny_report.failing() == {}, tiny_report.to_json()
    for name, tool in tiny.spec.tools.items():
        rep = tiny_report.tools[name].to_dict()
        assert rep["success"] >= 1, name
        assert rep["unexpected_failure"] == 0
        assert len(rep["preconditions_fired"]) == len(tool.preconditions)
        assert all(n >= 1 for n in rep["preconditions_fired"]), (name, rep)
        assert rep["uncovered"] == []
    assert "0 unexpected failures; quarantined: none" in tiny_report.summary_line()


def test_report_is_deterministic_and_has_no_timings(tiny, tiny_report) -> None:
    again = run_proctest(tiny.spec, tiny.db_bytes, seed=1)
    assert again.to_json() == tiny_report.to_json()
    data = json.loads(tiny_report.to_json())
    assert set(data) == {"domain", "seed", "totals", "quarantined", "tools", "fuzz"}
    assert "second" not in tiny_report.to_json()
    other = run_proctest(tiny.spec, tiny.db_bytes, seed=2)
    assert other.failing() == {}


@pytest.mark.parametrize("domain", ["retail", "airline", "bank"])
def test_curated_domains_have_no_quarantined_tool(domain: str) -> None:
    path = DOMAINS / f"{domain}.yaml"
    res = build_world(path, seed=1, proctest=False)
    rep = run_proctest(res.spec, res.db_bytes, seed=1)
    assert rep.failing() == {}, json.dumps(rep.failing(), indent=1)
    assert all(t.counts["success"] >= 1 for t in rep.tools.values())


@pytest.mark.parametrize("seed", [2, 3])
def test_curated_domains_pass_at_scale(seed: int) -> None:
    """The sweep at 5,000 rows (where the tester once quarantined sound retail tools: a
    search combining values of unrelated rows, a sold-out variant it could not construct):
    no curated tool is quarantined (speed is measured in benchmarks/bench_proctest.py)."""
    failures = {}
    for domain in ("tiny_shop", "retail", "airline", "bank"):
        res = build_world(DOMAINS / f"{domain}.yaml", seed=seed, rows=5000, proctest=False)
        rep = run_proctest(res.spec, res.db_bytes, seed=seed)
        failures.update({f"{domain}.{n}": r for n, r in rep.failing().items()})
    assert failures == {}, json.dumps(failures, indent=1)


@pytest.fixture(scope="module")
def retail_demo():
    """The world ``scaleenv demo`` builds (seed 1, 5,000 rows)."""
    return build_world(DOMAINS / "retail.yaml", seed=1, rows=5000, proctest=False)


def test_demo_world_has_no_false_positives(retail_demo) -> None:
    rep = run_proctest(retail_demo.spec, retail_demo.db_bytes, seed=1)
    assert rep.failing() == {}, json.dumps(rep.failing(), indent=1)


def test_joint_values_come_from_one_row(retail_demo) -> None:
    """A search whose values all come from one order (its user, its status, a word of one
    of its products' names) finds that order."""
    s = retail_demo.world().session()
    sampler, rng, found = Sampler(s), random.Random(0), 0
    for _ in range(40):
        args = sampler.joint_args("list_user_orders", rng)
        r = s.call("list_user_orders", args)
        assert r.ok, r.message
        found += bool(r.result)
    assert found == 40


def test_search_that_never_matches_is_still_caught(retail_demo) -> None:
    """Calls of values from one row are a fallback for completeness, not an excuse: a search
    that finds nothing for them either is incomplete."""
    data = read_spec_data(DOMAINS / "retail.yaml")
    ret = data["tools"]["list_user_orders"]["returns"]
    ret["query"] = ret["query"].replace("o.user_id = :user_id", "o.user_id = upper(:user_id)")
    rep = run_proctest(unchecked_spec(data), retail_demo.db_bytes, seed=1)
    assert list(rep.failing()) == ["list_user_orders"]
    assert (
        "incomplete: search with values from existing rows found nothing"
        in (rep.failing()["list_user_orders"])
    )


def test_state_with_coupled_columns_and_array_binds(retail_demo) -> None:
    """A sold-out variant is constructed by changing ``available`` and ``stock`` together
    (an invariant ties them), and a check over ``json_each(:ids)`` is falsified with JSON
    arrays of ids."""
    s = retail_demo.world().session()
    oracle, sampler, name = Oracle(s), Sampler(s), "modify_pending_order_items"
    conn = s.conn
    item, order, vid = conn.execute(
        "SELECT i.item_id, o.order_id, w.variant_id FROM order_items i "
        "JOIN orders o ON o.order_id = i.order_id AND o.status = 'pending' "
        "JOIN variants v ON v.variant_id = i.variant_id JOIN variants w "
        "ON w.product_id = v.product_id AND w.variant_id <> v.variant_id AND w.stock > 1 "
        "ORDER BY i.item_id LIMIT 1"
    ).fetchone()
    args = {"order_id": order, "item_ids": [item], "new_variant_ids": [vid]}
    assert oracle.first_failing(name, args) > 5
    setup = construct_state(oracle, sampler, name, args, lambda k: k == 5, tables={"variants"})
    assert setup is not None and setup[0]["set"].keys() == {"available", "stock"}
    example = falsifiable(oracle, sampler, name, 5, [args], random.Random(0))
    assert example is not None and example["new_variant_ids"].startswith("[")
    assert not any("." in k for k in example)  # free binds, not a changed column


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_broken_tool_is_caught_with_a_precise_reason(tiny, path: Path) -> None:
    spec, meta = load_broken(path)
    if meta["validates"]:
        load_spec(meta["data"])  # only running the tool can show this bug
    else:
        with pytest.raises(SpecError, match=meta["static_error"]):
            load_spec(meta["data"])
    rep = run_proctest(spec, tiny.db_bytes, seed=1)
    assert sorted(rep.failing()) == [meta["tool"]], rep.failing()
    assert meta["expect"] in rep.failing()[meta["tool"]]
    first = rep.tools[meta["tool"]].first
    assert first is not None and first["case"]["args"] is not None
    quarantined = rep.quarantined_spec(spec).tools[meta["tool"]].quarantined
    assert quarantined is not None and meta["expect"] in quarantined


def test_quarantined_tool_is_never_offered(tiny) -> None:
    _, meta = load_broken(ROOT / "fixtures" / "broken" / "effect_wrong_row.yaml")
    res = build_world(meta["data"], seed=1, proctest=True)
    assert "effect writes a row" in res.spec.tools["cancel_order"].quarantined
    report = json.loads(res.files["proctest.json"])
    assert report["quarantined"] == ["cancel_order"]
    s = res.world().session()
    assert "cancel_order" not in s.tool_names()
    assert "cancel_order" not in [t["function"]["name"] for t in s.openai_tools()]
    assert s.call("cancel_order", {"order_id": "x", "reason": "no longer needed"}).error_type == (
        "unknown_tool"
    )
    assert "cancel_order" in yaml.safe_load(res.files["spec.yaml"])["tools"]


def test_world_test_cli_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    good = tmp_path / "good"
    res = runner.invoke(app, ["world", "build", str(TINY), "--out", str(good), "--no-proctest"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["world", "test", str(good)])
    assert res.exit_code == 0, res.output
    assert "quarantined: none" in res.output
    _, meta = load_broken(ROOT / "fixtures" / "broken" / "precondition_never_fires.yaml")
    spec_file = tmp_path / "broken.yaml"
    spec_file.write_text(yaml.safe_dump(meta["data"], sort_keys=False))
    bad = tmp_path / "bad"
    res = runner.invoke(app, ["world", "build", str(spec_file), "--out", str(bad), "--no-proctest"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["world", "test", str(bad)])
    assert res.exit_code == 1
    assert "cancel_order" in res.output and "never fires" in res.output


def test_argument_rules_agree_with_the_runtime(tiny) -> None:
    """The oracle's independent argument rules accept exactly what the runtime accepts."""
    checked = 0
    for tool in tiny.spec.tools.values():
        for name, p in tool.params.items():
            for v in [wrong_type(p), *out_of_range(p), *boundary(p)]:
                try:
                    param_check(name, p)(v)
                    runtime_ok = True
                except ArgError:
                    runtime_ok = False
                if isinstance(v, float) and math.isnan(v):
                    assert not runtime_ok
                assert (arg_problem(p, v) is None) == runtime_ok, (name, p.type, v)
                checked += 1
    assert checked > 100
