"""engine.analysis: worlds and trajectories in DuckDB agree with the files, read directly."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from engine import ScaleEnvError, WorldError
from engine.analysis import open_worlds
from engine.analysis.connect import union_tables
from engine.analysis.reader import RawTable
from engine.analysis.scripted import POLICIES, scripted_rows, write_scripted_trajectories
from synth.build import build_world

DOMAINS = Path(__file__).resolve().parents[2] / "fixtures" / "domains"


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("worlds")
    build_world(DOMAINS / "tiny_shop.yaml", seed=1, rows=300, out=root / "tiny-1", tasks=5)
    build_world(DOMAINS / "tiny_shop.yaml", seed=2, rows=300, out=root / "tiny-2", tasks=5)
    # no procedural tests: the proctest catalog must cope with a world that has no report
    build_world(
        DOMAINS / "retail.yaml", seed=1, rows=300, out=root / "retail-1", tasks=5, proctest=False
    )
    return root


@pytest.fixture(scope="module")
def trajectories(worlds: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("traj") / "scripted.parquet"
    return write_scripted_trajectories(sorted(p for p in worlds.iterdir()), out)


@pytest.fixture(scope="module")
def db(worlds: Path, trajectories: Path):
    with open_worlds(worlds, trajectories) as a:
        yield a


def sqlite_counts(world: Path) -> dict[str, int]:
    conn = sqlite3.connect(world / "world.sqlite")
    try:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                "AND name <> 'alembic_version'"
            )
        ]
        return {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
    finally:
        conn.close()


def test_every_table_of_every_world_matches_sqlite(db, worlds: Path) -> None:
    assert db.worlds == ["retail-1", "tiny-1", "tiny-2"]
    checked = 0
    for name in db.worlds:
        counts = sqlite_counts(worlds / name)
        assert counts and sum(counts.values()) > 100
        for table, n in counts.items():
            assert db.scalar(f'SELECT count(*) FROM main."{table}" WHERE world = ?', [name]) == n
            assert db.scalar(f'SELECT count(*) FROM "{name}"."{table}"') == n
            checked += 1
        tables = dict(db.sql('SELECT "table", rows FROM meta.tables WHERE world = ?', [name]))
        assert tables == counts
    assert checked >= 15


def test_values_survive_the_trip(db, worlds: Path) -> None:
    conn = sqlite3.connect(worlds / "tiny-2" / "world.sqlite")
    direct = conn.execute(
        "SELECT order_id, customer_id, status, total FROM orders ORDER BY order_id"
    ).fetchall()
    conn.close()
    ours = db.sql('SELECT order_id, customer_id, status, total FROM "tiny-2".orders ORDER BY 1')
    assert ours == direct and len(direct) > 10
    types = dict(
        db.sql(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_name = 'products'"
        )
    )
    assert types["stock"] == "BIGINT" and types["price"] == "DOUBLE" and types["world"] == "VARCHAR"


def test_union_keeps_every_column_of_tables_that_share_a_name(db, worlds: Path) -> None:
    # retail's and tiny_shop's ``orders`` differ: the union has both sets of columns
    cols = {
        r[0]
        for r in db.sql(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_name = 'orders'"
        )
    }
    for world in ("retail-1", "tiny-1"):
        conn = sqlite3.connect(worlds / world / "world.sqlite")
        own = {r[1] for r in conn.execute("PRAGMA table_info(orders)")}
        conn.close()
        assert own <= cols
        missing = sorted(cols - own - {"world"})
        for c in missing:
            assert db.scalar(f'SELECT count("{c}") FROM main.orders WHERE world = ?', [world]) == 0
    assert cols - {"world"} != set()


def test_union_of_conflicting_types_becomes_text() -> None:
    a = RawTable(["id", "x"], ["INTEGER", "INTEGER"], [(1, 2), (1, 2)], 2)
    b = RawTable(["id", "x", "y"], ["INTEGER", "TEXT", "REAL"], [(3,), ("three",), (1.5,)], 1)
    u = union_tables([("a", a), ("b", b)])
    assert u.column_names == ["world", "id", "x", "y"]
    assert u.schema.field("id").type == pa.int64()
    assert u.schema.field("x").type == pa.string()
    assert u.schema.field("y").type == pa.float64()
    assert u.to_pylist() == [
        {"world": "a", "id": 1, "x": "1", "y": None},
        {"world": "a", "id": 2, "x": "2", "y": None},
        {"world": "b", "id": 3, "x": "three", "y": 1.5},
    ]
    # SQLite lets a declared INTEGER column hold text: that column falls back to text
    c = RawTable(["id"], ["INTEGER"], [("x-1",)], 1)
    assert union_tables([("a", a), ("c", c)]).column("id").to_pylist() == ["1", "2", "x-1"]


def test_catalog_views_agree_with_the_world_files(db, worlds: Path) -> None:
    for name in db.worlds:
        d = worlds / name
        spec = yaml.safe_load((d / "spec.yaml").read_text())
        tasks = [json.loads(line) for line in (d / "tasks.jsonl").read_text().splitlines()]
        graph = json.loads((d / "graph.json").read_text())
        n_tools = db.scalar(
            "SELECT count(*) FROM meta.tools WHERE world = ? AND kind <> 'builtin'", [name]
        )
        assert n_tools == len(spec["tools"]) > 5
        assert (
            db.scalar("SELECT count(*) FROM meta.tasks WHERE world = ?", [name]) == len(tasks) == 5
        )
        assert db.scalar("SELECT count(*) FROM meta.edges WHERE world = ?", [name]) == len(
            graph["edges"]
        )
        assert db.scalar("SELECT sum(actions) FROM meta.tasks WHERE world = ?", [name]) == sum(
            len(t["gold_actions"]) for t in tasks
        )
        kinds = sorted(g["kind"] for t in tasks for g in t["subgoals"])
        assert [
            k
            for (k,) in db.sql(
                "SELECT kind FROM meta.subgoals WHERE world = ? ORDER BY kind", [name]
            )
        ] == kinds
        row = db.sql("SELECT domain, seed, tasks, edges FROM meta.worlds WHERE world = ?", [name])
        assert row == [(spec["name"], int(name.rsplit("-", 1)[1]), 5, len(graph["edges"]))]
    rep = json.loads((worlds / "tiny-1" / "proctest.json").read_text())
    assert db.scalar("SELECT sum(success) FROM meta.proctest WHERE world = 'tiny-1'") == sum(
        t["success"] for t in rep["tools"].values()
    )
    assert db.scalar("SELECT count(*) FROM meta.proctest WHERE world = 'retail-1'") == 0


def test_edges_from_the_spec_when_no_graph_is_stored(worlds: Path, tmp_path: Path) -> None:
    copy = tmp_path / "tiny-nograph"
    shutil.copytree(worlds / "tiny-1", copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    del manifest["files"]["graph.json"]
    (copy / "graph.json").unlink()
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with open_worlds(copy) as a:
        edges = a.sql("SELECT source, target, origin FROM meta.edges ORDER BY 1, 2")
    spec = yaml.safe_load((copy / "spec.yaml").read_text())
    expected = sorted(
        (s, t)
        for s, st in spec["tools"].items()
        for t, tt in spec["tools"].items()
        if s != t and set(st.get("writes") or []) & set(tt.get("reads") or [])
    )
    assert [(s, t) for s, t, _ in edges] == expected and expected
    assert {o for _, _, o in edges} == {"spec"}


def test_trajectories_from_real_sessions(db, trajectories: Path) -> None:
    rows = pq.read_table(trajectories).to_pylist()
    assert len(rows) == 15 * len(POLICIES)
    assert db.scalar("SELECT count(*) FROM meta.trajectories") == len(rows)
    by_policy = dict(db.sql("SELECT policy, avg(passed::INT) FROM meta.trajectories GROUP BY 1"))
    assert by_policy["gold"] == 1.0 and by_policy["empty"] == 0.0
    n_steps = sum(len(json.loads(r["steps"])) for r in rows)
    assert db.scalar("SELECT count(*) FROM meta.steps") == n_steps > 0
    failed = {
        (r["world"], r["task_id"], r["sample"]): next(
            (i, s["tool"], s["error_type"])
            for i, s in enumerate(json.loads(r["steps"]))
            if not s["ok"]
        )
        for r in rows
        if any(not s["ok"] for s in json.loads(r["steps"]))
    }
    ours = {
        (w, t, s): (i, tool, e)
        for w, t, s, i, tool, e in db.sql("SELECT * FROM meta.first_failures")
    }
    assert ours == failed and failed
    assert db.scalar(
        "SELECT count(*) FROM meta.trajectories t JOIN meta.tasks k USING (world, task_id) "
        "WHERE t.difficulty = k.difficulty"
    ) == len(rows)


def test_rollout_runner_layout_reads_each_episode_once(worlds: Path, tmp_path: Path) -> None:
    """The rollout runner writes JSONL (``steps``) and Parquet (``steps_json``) side by side."""
    from engine import World

    rows = scripted_rows(World.load(worlds / "tiny-1"), ["gold", "empty"])
    out = tmp_path / "rollouts"
    out.mkdir()
    with open(out / "trajectories.jsonl", "w") as fh:
        for r in rows:
            fh.write(json.dumps({**r, "steps": json.loads(r["steps"]), "messages": []}) + "\n")
    flat = [
        {**{k: v for k, v in r.items() if k != "steps"}, "steps_json": r["steps"]} for r in rows
    ]
    pq.write_table(pa.Table.from_pylist(flat), out / "trajectories.parquet")
    with open_worlds(worlds / "tiny-1", out) as a:
        assert a.scalar("SELECT count(*) FROM meta.trajectories") == len(rows) == 10
        assert a.scalar("SELECT min(file) FROM meta.trajectories").endswith("trajectories.parquet")
        assert a.scalar("SELECT count(*) FROM meta.steps") == sum(
            len(json.loads(r["steps"])) for r in rows
        )
    with open_worlds(worlds / "tiny-1", out / "trajectories.jsonl") as a:
        assert a.scalar("SELECT count(*) FROM meta.steps WHERE tool IS NOT NULL") > 0


def test_a_duckdb_file_keeps_the_catalog(worlds: Path, tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "worlds.duckdb"
    with open_worlds(worlds / "tiny-1", database=str(path)) as a:
        n = a.scalar("SELECT count(*) FROM main.orders")
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT count(*) FROM main.orders").fetchall() == [(n,)]
    assert con.execute("SELECT count(*) FROM meta.tasks").fetchall() == [(5,)]
    con.close()
    with pytest.raises(ScaleEnvError, match="already exists"):
        open_worlds(worlds / "tiny-1", database=str(path))


def test_no_trajectories_gives_empty_views(worlds: Path) -> None:
    with open_worlds(worlds / "tiny-1") as a:
        assert a.worlds == ["tiny-1"]
        assert a.scalar("SELECT count(*) FROM meta.trajectories") == 0
        assert a.scalar("SELECT count(*) FROM meta.first_failures") == 0
        settings = a.sql(
            "SELECT current_setting('autoinstall_known_extensions'), "
            "current_setting('autoload_known_extensions')"
        )
        assert settings == [(False, False)]


def test_per_world_schemas_stop_at_the_limit(worlds: Path) -> None:
    with open_worlds(worlds, schemas_limit=2) as a:
        assert a.schemas == {}
        assert a.scalar("SELECT count(DISTINCT world) FROM main.orders") == 3
        schemas = {r[0] for r in a.sql("SELECT schema_name FROM information_schema.schemata")}
        assert "tiny-1" not in schemas and "meta" in schemas


def test_synthesis_catalog_is_loaded_when_present(worlds: Path, tmp_path: Path) -> None:
    root = tmp_path / "run"
    shutil.copytree(worlds / "tiny-1", root / "worlds" / "tiny-1")
    doc = {
        "run": {"seed": 0},
        "summary": {},
        "worlds": [
            {"id": "tiny-1", "sector": "retail", "mechanisms": ["ledger"], "status": "ok"},
            {
                "id": "broken-7",
                "sector": "travel",
                "mechanisms": [],
                "status": "failed",
                "reason": "x",
            },
        ],
    }
    (root / "catalog.json").write_text(json.dumps(doc))
    (root / "report").mkdir()
    fps = [
        {"id": "tiny-1", "group": "catalog", "fingerprint": "ab12", "tools_by_kind": {"read": 4}},
        {"id": "retail", "group": "curated", "fingerprint": "cd34", "tools_by_kind": {"read": 9}},
    ]
    (root / "report" / "fingerprints.jsonl").write_text("".join(json.dumps(f) + "\n" for f in fps))
    with open_worlds(root) as a:
        assert a.worlds == ["tiny-1"]
        got = a.sql("SELECT id, status, mechanisms FROM meta.synth_catalog ORDER BY id")
        prints = a.sql(
            'SELECT id, "group", fingerprint, tools_by_kind FROM meta.fingerprints ORDER BY id'
        )
    assert got == [("broken-7", "failed", "[]"), ("tiny-1", "ok", '["ledger"]')]
    assert prints == [
        ("retail", "curated", "cd34", '{"read": 9}'),
        ("tiny-1", "catalog", "ab12", '{"read": 4}'),
    ]


def test_bad_inputs_fail_with_one_line(worlds: Path, tmp_path: Path) -> None:
    with pytest.raises(WorldError, match="no world directories"):
        open_worlds(tmp_path)
    with pytest.raises(WorldError, match="no such directory"):
        open_worlds(tmp_path / "nowhere")
    copy = tmp_path / "tampered"
    shutil.copytree(worlds / "tiny-1", copy)
    data = bytearray((copy / "world.sqlite").read_bytes())
    data[-100] ^= 0xFF
    (copy / "world.sqlite").write_bytes(bytes(data))
    with pytest.raises(WorldError, match=r"world\.sqlite: differs from the manifest") as exc:
        open_worlds(copy)
    assert "\n" not in str(exc.value)
    with pytest.raises(ScaleEnvError, match="no such trajectory"):
        open_worlds(worlds / "tiny-1", tmp_path / "missing.parquet")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"task_id": "t"}) + "\n")
    with pytest.raises(ScaleEnvError, match=r"bad\.jsonl:1: a trajectory needs world and task_id"):
        open_worlds(worlds / "tiny-1", bad)
