"""Generated domains: catalog, mechanisms, composer, diversity, one build, the CLI."""

from __future__ import annotations

import statistics

import pytest
import yaml
from typer.testing import CliRunner

from engine import ScaleEnvError, load_spec
from synth.build import build_world
from synth.generate import (
    DomainSketch,
    choose_mechanisms,
    domain_for_index,
    generate_spec,
    list_catalog,
    load_sketch,
    sectors,
    spec_yaml,
)
from synth.generate import mechanisms as mech
from synth.generate.compose import articles, compose

# sketches from 12 sectors, spread over the mechanisms
SAMPLE = [
    "family_dental_practice",
    "car_rental_agency",
    "community_bank",
    "auto_insurer",
    "food_delivery_app",
    "ev_charging_network",
    "dmv_office",
    "parcel_courier",
    "apartment_management",
    "museum_membership",
    "immigration_services",
    "appliance_repair",
]


def test_catalog_size_and_sectors() -> None:
    names = list_catalog()
    assert len(names) >= 200
    assert len(sectors()) >= 15
    assert names == sorted(set(names))
    for name in names:  # every sketch is valid data
        sketch = load_sketch(name)
        assert sketch.user.auth and sketch.mechanisms


def test_library_has_fifteen_mechanisms_and_the_catalog_uses_them_all() -> None:
    assert len(mech.available()) >= 15
    assert mech.available() == list(mech.ORDER)
    used = {m.kind for n in list_catalog() for m in load_sketch(n).mechanisms}
    assert used == set(mech.ORDER) - {"accounts"}  # accounts runs in every domain anyway


@pytest.mark.parametrize("name", SAMPLE)
def test_generated_spec_validates_and_is_rich(name: str) -> None:
    sketch = load_sketch(name)
    spec = generate_spec(sketch, 7)
    assert len(spec.tools) >= 25
    assert len(spec.entities) >= 5
    assert spec.user_entity == sketch.user.table
    assert spec.policy_rules and spec.invariants
    # the user entity is identified by a unique column a login tool takes
    email_tool = f"find_{sketch.user.key}_by_email"
    assert spec.tools[email_tool].params["email"].references == f"{sketch.user.table}.email"


def test_same_seed_same_spec_and_yaml_round_trips() -> None:
    sketch = load_sketch("boutique_hotel_chain")
    a, b = generate_spec(sketch, 3), generate_spec(sketch, 3)
    assert a.digest() == b.digest()
    text = spec_yaml(sketch, 3)
    assert text == spec_yaml(sketch, 3)
    assert text.startswith("# Linden Boutique Hotels (travel)")
    assert "# tool from mechanism: reservations" in text
    assert load_spec(yaml.safe_load(text)).digest() == a.digest()


def test_seeds_vary_mechanisms_and_tables() -> None:
    sketch = load_sketch("outdoor_gear_shop")
    shapes = {
        (tuple(b.mechanisms), tuple(sorted(b.entities)))
        for b in (compose(sketch, s) for s in range(12))
    }
    assert len(shapes) >= 6
    assert choose_mechanisms(sketch, 5) == compose(sketch, 5).mechanisms
    assert choose_mechanisms(sketch, 5)[0] == "accounts"


def test_domain_for_index_is_deterministic_and_distinct() -> None:
    n = len(list_catalog())
    first = [domain_for_index(0, i) for i in range(n)]
    assert len({name for name, _ in first}) == n  # one round covers the catalog once
    assert first[:5] == [domain_for_index(0, i) for i in range(5)]
    assert [domain_for_index(1, i) for i in range(5)] != first[:5]
    keys = set()
    for i in range(2 * n):
        name, seed = domain_for_index(0, i)
        b = compose(load_sketch(name), seed)
        keys.add((load_sketch(name).sector, tuple(b.mechanisms), tuple(sorted(b.entities))))
    assert len(keys) == 2 * n
    with pytest.raises(ValueError):
        domain_for_index(0, -1)


def test_tool_counts_over_a_round() -> None:
    counts = [
        len(compose(load_sketch(n), s).tools)
        for n, s in (domain_for_index(3, i) for i in range(120))
    ]
    assert min(counts) >= 25
    assert statistics.median(counts) >= 38


def test_bad_sketches_are_refused_in_one_line() -> None:
    with pytest.raises(ScaleEnvError, match="no catalog sketch named 'nope'"):
        load_sketch("nope")
    base = load_sketch("gym_chain").model_dump()
    with pytest.raises(ValueError, match="listed twice"):
        DomainSketch.model_validate(
            {**base, "mechanisms": [{"kind": "payments"}, {"kind": "payments"}]}
        )
    with pytest.raises(ValueError, match="snake_case"):
        DomainSketch.model_validate({**base, "name": "Gym Chain"})


def test_articles() -> None:
    assert articles("A appointment for a user, a order, a unit, a eye exam") == (
        "An appointment for a user, an order, a unit, an eye exam"
    )


@pytest.mark.slow  # a full build: seed, procedural tests, graph, tasks (seconds on an idle core)
def test_one_generated_world_builds_clean() -> None:
    spec = generate_spec(load_sketch("veterinary_clinic"), 2)
    result = build_world(spec, seed=2, rows=500, tasks=12)
    assert [n for n, t in result.spec.tools.items() if t.quarantined] == []
    tasks = result.reports["tasks"]
    assert len(tasks.tasks) == 12
    assert tasks.report["policies"]["gold"] == 1.0
    assert tasks.report["policies"]["empty"] == 0.0


def test_cli_domain_spec_only_list_and_errors(tmp_path) -> None:
    from synth.cli import app

    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "synth",
            "domain",
            "--catalog",
            "tire_shop",
            "--seed",
            "4",
            "--out",
            str(tmp_path),
            "--spec-only",
        ],
    )
    assert res.exit_code == 0, res.output
    text = (tmp_path / "domain.yaml").read_text()
    assert text == spec_yaml(load_sketch("tire_shop"), 4)
    res = runner.invoke(app, ["synth", "domain", "--list"])
    assert res.exit_code == 0 and "automotive" in res.output
    res = runner.invoke(app, ["synth", "domain", "--catalog", "nope", "--out", str(tmp_path / "w")])
    assert res.exit_code == 1
    assert "no catalog sketch named 'nope'" in res.output
    assert "Traceback" not in res.output


@pytest.mark.slow  # two fresh interpreters
def test_yaml_bytes_do_not_depend_on_the_hash_seed() -> None:
    import subprocess
    import sys

    code = (
        "import hashlib\n"
        "from synth.generate import domain_for_index, load_sketch, spec_yaml\n"
        "h = hashlib.sha256()\n"
        "for i in range(0, 300, 60):\n"
        "    n, s = domain_for_index(0, i)\n"
        "    h.update(spec_yaml(load_sketch(n), s).encode())\n"
        "print(h.hexdigest())\n"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**__import__("os").environ, "PYTHONHASHSEED": str(h)},
        ).stdout
        for h in (1, 2)
    }
    assert len(digests) == 1 and len(digests.pop().strip()) == 64
