"""Every notebook runs on real worlds through ``scaleenv analyze``; the numbers it shows agree
with direct reads of the world files; the HTML report renders with its images in Chromium."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import nbformat
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from engine.analysis.scripted import write_scripted_trajectories
from synth.analyze import _summary, execute_notebook, notebooks_dir
from synth.build import build_world
from synth.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOMAINS = ROOT / "fixtures" / "domains"
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.py"))
MIN_FIGURES = {"world_tour": 3, "catalog": 5, "rollouts": 4}
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("worlds")
    build_world(DOMAINS / "tiny_shop.yaml", seed=1, rows=300, out=root / "tiny-1", tasks=5)
    build_world(DOMAINS / "retail.yaml", seed=1, rows=300, out=root / "retail-1", tasks=5)
    return root


@pytest.fixture(scope="module")
def trajectories(worlds: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rollouts") / "trajectories.parquet"
    return write_scripted_trajectories(sorted(worlds.iterdir()), out)


@pytest.fixture(scope="module")
def report(worlds: Path, trajectories: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report"
    args = ["analyze", str(worlds), "--out", str(out), "-t", str(trajectories), "--world", "tiny-1"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "index.html" in res.output
    return out


def summary(report: Path, stem: str) -> dict:
    got = _summary(nbformat.read(report / f"{stem}.ipynb", as_version=4))
    assert got is not None, f"{stem}: no summary printed"
    return got


def counts(world: Path) -> dict[str, int]:
    conn = sqlite3.connect(world / "world.sqlite")
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
            "AND name <> 'alembic_version'"
        )
    ]
    out = {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
    conn.close()
    return out


def world_files(world: Path) -> tuple[dict, list[dict], dict, dict]:
    spec = yaml.safe_load((world / "spec.yaml").read_text())
    tasks = [json.loads(x) for x in (world / "tasks.jsonl").read_text().splitlines() if x]
    graph = json.loads((world / "graph.json").read_text())
    proctest = json.loads((world / "proctest.json").read_text())
    return spec, tasks, graph, proctest


def test_the_repository_has_the_three_notebooks() -> None:
    assert NOTEBOOKS == ["catalog", "rollouts", "world_tour"]
    assert notebooks_dir() == ROOT / "notebooks"


@pytest.mark.parametrize("stem", NOTEBOOKS)
def test_every_notebook_ran_and_drew_its_figures(report: Path, stem: str) -> None:
    nb = nbformat.read(report / f"{stem}.ipynb", as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    figures = sorted((report / f"{stem}_files").glob("*.png"))
    assert len(figures) == len(images) >= MIN_FIGURES[stem]
    page = (report / f"{stem}.html").read_text()
    for fig in figures:
        data = fig.read_bytes()
        assert data.startswith(PNG) and len(data) > 2000
        assert f'src="{stem}_files/{fig.name}"' in page
    assert not re.search(r"<script[^>]+src=\"https?:", page), "the report must load offline"


def test_world_tour_numbers_match_the_world(report: Path, worlds: Path) -> None:
    got = summary(report, "world_tour")
    spec, tasks, graph, _ = world_files(worlds / "tiny-1")
    tools = spec["tools"]
    assert got == {
        "world": "tiny-1",
        "tables": len(counts(worlds / "tiny-1")),
        "rows": counts(worlds / "tiny-1"),
        "tools": len(tools),
        "write_tools": sum(1 for t in tools.values() if t.get("writes") or t.get("effects")),
        "edges": len({(e["source"], e["target"]) for e in graph["edges"]}),
        "tasks": len(tasks),
    }


def test_catalog_numbers_match_the_worlds(report: Path, worlds: Path) -> None:
    got = summary(report, "catalog")
    expected = {"worlds": 0, "tables": 0, "tools": 0, "edges": 0, "tasks": 0, "proctest_success": 0}
    difficulty: dict[str, int] = {}
    kinds: dict[str, int] = {}
    coverage = {}
    for world in sorted(worlds.iterdir()):
        spec, tasks, graph, proctest = world_files(world)
        expected["worlds"] += 1
        expected["tables"] += len(counts(world))
        expected["tools"] += len(spec["tools"])
        expected["edges"] += len(graph["edges"])
        expected["tasks"] += len(tasks)
        expected["proctest_success"] += sum(t["success"] for t in proctest["tools"].values())
        for t in tasks:
            difficulty[t["difficulty"]] = difficulty.get(t["difficulty"], 0) + 1
            for g in t["subgoals"]:
                kinds[g["kind"]] = kinds.get(g["kind"], 0) + 1
        offered = {n for n, t in spec["tools"].items() if not t.get("quarantined")}
        used = {a["tool"] for t in tasks for a in t["gold_actions"]} & offered
        coverage[world.name] = round(len(used) / len(offered), 4)
    assert expected["tasks"] == 10 and expected["proctest_success"] > 0
    assert got == {
        **expected,
        "difficulty": difficulty,
        "subgoal_kinds": kinds,
        "coverage": coverage,
        "distinct_fingerprints": 2,
    }


def test_rollout_numbers_match_the_trajectories(report: Path, trajectories: Path) -> None:
    got = summary(report, "rollouts")
    rows = pq.read_table(trajectories).to_pylist()
    steps = [json.loads(r["steps"]) for r in rows]
    per_task: dict[tuple[str, str], list[bool]] = {}
    for r in rows:
        per_task.setdefault((r["world"], r["task_id"]), []).append(r["passed"])
    pass1: dict[str, list[float]] = {}
    for (world, _), ps in per_task.items():
        pass1.setdefault(world, []).append(sum(ps) / len(ps))
    assert got == {
        "episodes": len(rows),
        "passed": sum(r["passed"] for r in rows),
        "mean_reward": round(sum(r["reward"] for r in rows) / len(rows), 6),
        "pass_at_1": {w: round(sum(v) / len(v), 6) for w, v in pass1.items()},
        "failed_calls": sum(1 for ss in steps for s in ss if not s["ok"]),
        "first_failures": sum(1 for ss in steps if any(not s["ok"] for s in ss)),
    }
    assert 0 < got["passed"] < got["episodes"] and got["first_failures"] > 0


def test_rollouts_notebook_without_trajectories_says_so(worlds: Path, tmp_path: Path) -> None:
    runs = [
        execute_notebook(
            ROOT / "notebooks" / "rollouts.py", worlds / "tiny-1", [], None, tmp_path, 120
        )
        for _ in range(2)
    ]
    assert nbformat.writes(runs[0]) == nbformat.writes(runs[1])  # same inputs, same bytes
    nb = runs[0]
    text = "".join(
        o.get("text", "")
        for c in nb.cells
        for o in c.get("outputs", [])
        if o.output_type == "stream"
    )
    assert "No trajectories" in text
    assert _summary(nb) == {
        "episodes": 0,
        "passed": 0,
        "mean_reward": 0.0,
        "pass_at_1": {},
        "failed_calls": 0,
        "first_failures": 0,
    }


def test_analyze_on_a_folder_without_worlds_fails_in_one_line(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["analyze", str(tmp_path), "--out", str(tmp_path / "r")])
    assert res.exit_code == 1
    assert "no world directories" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "r").exists()


CHECK = (
    "<script>window.addEventListener('load', function () {"
    " var im = Array.prototype.slice.call(document.images);"
    " document.body.setAttribute('data-images', im.length);"
    " document.body.setAttribute('data-decoded',"
    " im.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length); });</script>"
)


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(
    chromium() is None, reason="Chromium is not installed (.ci/chromium.sh installs it)"
)
@pytest.mark.parametrize("page", ["index", *NOTEBOOKS])
def test_report_renders_with_its_images_in_chromium(
    report: Path, page: str, tmp_path: Path
) -> None:
    # a copy beside the original (so relative image paths resolve) that records, once the
    # page has loaded, how many images the browser decoded
    probe = report / f"_probe_{page}.html"
    probe.write_text((report / f"{page}.html").read_text().replace("</body>", CHECK + "</body>"))
    try:
        res = subprocess.run(
            [
                chromium(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                f"--user-data-dir={tmp_path / 'profile'}",
                "--virtual-time-budget=10000",
                "--dump-dom",
                probe.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        probe.unlink()
    body = re.search(r"<body[^>]*>", res.stdout)
    assert body, res.stderr[-2000:]
    images = int(re.search(r'data-images="(\d+)"', body.group(0)).group(1))
    decoded = int(re.search(r'data-decoded="(\d+)"', body.group(0)).group(1))
    expected = sum(MIN_FIGURES.values()) if page == "index" else MIN_FIGURES[page]
    assert images >= expected and decoded == images
    if page == "index":
        assert f'"episodes": {summary(report, "rollouts")["episodes"]}' in res.stdout
