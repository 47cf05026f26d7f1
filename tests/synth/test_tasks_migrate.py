"""Stored tasks stay valid after ``world migrate`` adds a nullable column: the report replays
every task on the migrated world and accepts changes that differ only by the new columns,
while a task whose gold really changes something else is still caught."""

from __future__ import annotations

from pathlib import Path

import yaml

from engine import World
from engine.spec.task import RowChange
from engine.spec.validate import load_spec
from synth.build import build_world
from synth.migrate.apply import migrate_world
from synth.tasks import verify_task
from synth.tasks.io import report_world


def test_report_after_migration_adding_columns(tmp_path: Path, domains_dir: Path) -> None:
    out = tmp_path / "w"
    build_world(domains_dir / "tiny_shop.yaml", seed=1, out=out, proctest=False, tasks=8)
    data = yaml.safe_load((domains_dir / "tiny_shop.yaml").read_text())
    data["entities"]["orders"]["columns"]["gift_note"] = {"type": "string", "nullable": True}
    data["entities"]["customers"]["columns"]["nickname"] = {"type": "string", "nullable": True}
    migrate_world(out, load_spec(data))
    world = World.load(out)
    assert "gift_note" in world.spec.entities["orders"].columns
    rep = report_world(out)
    assert rep["verification"] == {"ok": 8, "problems": {}}
    assert rep["audit"] == {"checked": 8, "passed": 8, "rejected": {}}
    assert rep["policies"]["gold"] == 1.0 and rep["policies"]["empty"] == 0.0
    # a stored diff that really differs (another value of an old column) is still refused
    t = world.tasks[0]
    ch = next(c for c in t.gold_diff if c.after is not None and c.before is not None)
    col = next(c for c, v in ch.after.items() if v != ch.before.get(c))
    wrong = RowChange(
        table=ch.table, key=ch.key, before=ch.before, after=dict(ch.after, **{col: "nope"})
    )
    bad = t.model_copy(update={"gold_diff": [wrong if c is ch else c for c in t.gold_diff]})
    assert any(p.startswith("replay_failed") for p in verify_task(world, bad))
