"""The CLI: one-line errors, non-zero exit, nothing left on disk after a failure."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from synth.cli import app

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "fixtures" / "domains" / "tiny_shop.yaml"
runner = CliRunner()


def test_validate_ok() -> None:
    res = runner.invoke(app, ["world", "validate", str(TINY)])
    assert res.exit_code == 0, res.output
    assert "tiny_shop" in res.output and "7 tools" in res.output


def test_validate_reports_each_error_with_its_path(tmp_path: Path) -> None:
    data = yaml.safe_load(TINY.read_text())
    data["entities"]["orders"]["columns"]["customer_id"]["references"] = "clients.client_id"
    data["tools"]["get_order"]["reads"] = ["orders", "order_lines"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    res = runner.invoke(app, ["world", "validate", str(bad)])
    assert res.exit_code == 1
    assert "entities.orders.columns.customer_id.references" in res.output
    assert "tools.get_order.reads" in res.output
    assert "Traceback" not in res.output


def test_build_bad_spec_fails_in_one_line_and_writes_nothing(tmp_path: Path) -> None:
    data = yaml.safe_load(TINY.read_text())
    data["tools"]["cancel_order"]["effects"][0] = "DROP TABLE orders"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    out = tmp_path / "world"
    res = runner.invoke(app, ["world", "build", str(bad), "--out", str(out)])
    assert res.exit_code == 1
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), res.output
    assert "tools.cancel_order.effects" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


def test_build_then_inspect(tmp_path: Path) -> None:
    out = tmp_path / "w"
    res = runner.invoke(
        app,
        [
            "world",
            "build",
            str(TINY),
            "--out",
            str(out),
            "--seed",
            "3",
            "--rows",
            "500",
            "--no-proctest",
        ],
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["world", "inspect", str(out)])
    assert res.exit_code == 0, res.output
    for word in ("customers", "cancel_order", "refund_not_above_payment", "cancel_within_30_days"):
        assert word in res.output


def test_inspect_damaged_world_fails_cleanly(tmp_path: Path) -> None:
    out = tmp_path / "w"
    runner.invoke(
        app, ["world", "build", str(TINY), "--out", str(out), "--rows", "300", "--no-proctest"]
    )
    db = out / "world.sqlite"
    db.write_bytes(db.read_bytes()[:1000])
    res = runner.invoke(app, ["world", "inspect", str(out)])
    assert res.exit_code == 1
    assert "world.sqlite" in res.output and "Traceback" not in res.output


def test_missing_spec_file(tmp_path: Path) -> None:
    res = runner.invoke(
        app, ["world", "build", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "w")]
    )
    assert res.exit_code == 1
    assert "nope.yaml" in res.output
