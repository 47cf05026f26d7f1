"""Every CLI command, found by walking the typer app, fails on bad input in one line (exit 1,
no traceback) and is listed in the README's CLI table; bad option values and rich markup in
data are handled the same way. A command added later is covered without editing this file
(or fails here until it has a README row and, if it takes no required input, a bad input)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from synth.cli import app

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "fixtures" / "domains" / "tiny_shop.yaml"
runner = CliRunner()
GARBAGE = "name: [unterminated\n  [/b] {{ \x07\n"

# Commands without a required input: the bad input to give them ({bad}: a path under a file).
NO_REQUIRED_INPUT = {
    "demo": ["--out", "{bad}", "--rows", "300", "--tasks", "1"],
    "spec docs": ["--out", "{bad}/spec.md"],
    "spec schema": None,  # reads nothing: it must simply succeed
    "synth domain": ["--catalog", "{bad}", "--out", "{bad}/w"],
    "synth": ["--out", "{bad}", "--domains", "1", "--rows", "100", "--tasks", "1", "--no-progress"],
}


def _commands(cmd: object = None, path: tuple[str, ...] = ()) -> Iterator[tuple[str, object]]:
    cmd = cmd or typer.main.get_command(app)
    subs = getattr(cmd, "commands", None)
    if subs and path and getattr(cmd, "invoke_without_command", False):
        yield " ".join(path), cmd  # a group that is also a command (``scaleenv synth``)
    if subs:
        for name, sub in sorted(subs.items()):
            yield from _commands(sub, (*path, name))
    else:
        yield " ".join(path), cmd


COMMANDS = dict(_commands())


def _argv(name: str, cmd: object, bad: str, tmp: Path) -> list[str] | None:
    required = [p for p in cmd.params if p.required]  # type: ignore[attr-defined]
    if not required:
        assert name in NO_REQUIRED_INPUT, f"give `scaleenv {name}` a bad input in this table"
        extra = NO_REQUIRED_INPUT[name]
        return None if extra is None else [a.replace("{bad}", bad) for a in extra]
    argv: list[str] = []
    for i, p in enumerate(required):
        value = bad if i == 0 else str(tmp / f"out{i}")
        if p.param_type_name == "option":
            argv += [p.opts[0], value]
        else:
            argv.append(value)
    return argv


def _assert_one_line_failure(res: object, code: int = 1) -> str:
    output = res.output  # type: ignore[attr-defined]
    assert "Traceback" not in output, output
    assert res.exit_code == code, output  # type: ignore[attr-defined]
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception  # type: ignore[attr-defined]
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    return errors[0]


def test_the_walk_finds_the_commands() -> None:
    assert {"world build", "world validate", "tasks gen", "demo", "init"} <= set(COMMANDS)


@pytest.mark.parametrize("variant", ["missing", "garbage"])
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_fails_in_one_line(name: str, variant: str, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.yaml"
    garbage.write_text(GARBAGE, encoding="utf-8")
    bad = str(tmp_path / "missing.yaml") if variant == "missing" else str(garbage)
    if name in NO_REQUIRED_INPUT:
        if variant == "missing":
            pytest.skip("one bad input is enough for a command without a required input")
        bad = str(garbage)  # a path under a file cannot be created
    argv = _argv(name, COMMANDS[name], bad, tmp_path)
    if argv is None:
        res = runner.invoke(app, name.split())
        assert res.exit_code == 0 and "Traceback" not in res.output, res.output
        return
    res = runner.invoke(app, [*name.split(), *argv])
    _assert_one_line_failure(res)


def test_every_command_is_in_the_readme_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `scaleenv ([a-z][a-z0-9 -]*?)(?: [A-Z\-\[`]|`)", readme, flags=re.M)
    listed = {r.strip() for r in rows}
    missing = sorted(n for n in COMMANDS if n not in listed)
    assert not missing, f"add README CLI table rows for: {missing}"


def test_usage_errors_are_one_line(tmp_path: Path) -> None:
    res = runner.invoke(app, ["--no-such-option"])
    assert "No such option" in _assert_one_line_failure(res, 2)
    res = runner.invoke(app, ["world", "no-such-command"])
    assert "No such command" in _assert_one_line_failure(res, 2)
    res = runner.invoke(app, ["world", "build"])
    assert "Missing argument" in _assert_one_line_failure(res, 2)


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["world", "build", str(TINY), "--out", "{tmp}/w", "--rows", "-5"], "--rows"),
        (["world", "build", str(TINY), "--out", "{tmp}/w", "--tasks", "-2"], "--tasks"),
        (["world", "build", str(TINY), "--out", "{tmp}/w", "--fuzz-steps", "-3"], "--fuzz-steps"),
        (["world", "test", "{tmp}/w", "--fuzz-steps", "-3"], "--fuzz-steps"),
        (["tasks", "gen", "{tmp}/w", "--n", "0"], "--n"),
        (["tasks", "gen", "{tmp}/w", "--n", "-5"], "--n"),
        (["demo", "--out", "{tmp}/d", "--rows", "0"], "--rows"),
        (["demo", "--out", "{tmp}/d", "--tasks", "0"], "--tasks"),
        (["world", "build", str(TINY), "--out", "{tmp}/w", "--seed", "x"], "--seed"),
    ],
)
def test_bad_option_values(argv: list[str], option: str, tmp_path: Path) -> None:
    res = runner.invoke(app, [a.replace("{tmp}", str(tmp_path)) for a in argv])
    line = _assert_one_line_failure(res, 2)
    assert option in line
    assert list(tmp_path.iterdir()) == []  # refused before anything was written


def test_yaml_problems_name_line_and_column(tmp_path: Path) -> None:
    cases = {
        "syntax.yaml": ("name: [1, 2\n", "YAML syntax error"),
        "dup.yaml": (TINY.read_text(encoding="utf-8") + "name: twice\n", "duplicate key 'name'"),
        "tag.yaml": ("name: !!python/object/apply:os.system ['true']\n", "unsupported tag"),
        "nan.json": ('{"name": NaN}', "NaN is not a number in JSON"),
    }
    for fname, (text, needle) in cases.items():
        p = tmp_path / fname
        p.write_text(text, encoding="utf-8")
        for cmd in (["world", "validate", str(p)], ["world", "build", str(p), "--out", "w"]):
            line = _assert_one_line_failure(runner.invoke(app, cmd))
            assert needle in line and fname in line, line
            if fname.endswith(".yaml"):
                assert re.search(r"line \d+:\d+", line), line


def test_rich_markup_in_data_is_printed_literally(tmp_path: Path) -> None:
    data = yaml.safe_load(TINY.read_text(encoding="utf-8"))
    enum_col = next(
        (t, c)
        for t, e in data["entities"].items()
        for c, col in e["columns"].items()
        if col.get("type") == "enum"
    )
    data["entities"][enum_col[0]]["columns"][enum_col[1]]["default"] = "[/b]"
    bad = tmp_path / "markup.yaml"
    bad.write_text(yaml.safe_dump(data), encoding="utf-8")
    res = runner.invoke(app, ["world", "validate", str(bad)])
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    assert "[/b]" in res.output

    data = yaml.safe_load(TINY.read_text(encoding="utf-8"))
    data["description"] = "a shop [bold]with[/bold] [/b] brackets [A-Z]"
    data["invariants"][0]["description"] = "[red]literal[/red] [0-9]+"
    ok = tmp_path / "ok.yaml"
    ok.write_text(yaml.safe_dump(data), encoding="utf-8")
    w = tmp_path / "w"
    res = runner.invoke(
        app, ["world", "build", str(ok), "--out", str(w), "--rows", "60", "--no-proctest"]
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["world", "inspect", str(w)])
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())
    assert "[bold]with[/bold] [/b] brackets [A-Z]" in flat
    assert "[red]literal[/red]" in flat


def test_garbage_tasks_file_is_one_line(tmp_path: Path) -> None:
    w = tmp_path / "w"
    res = runner.invoke(
        app, ["world", "build", str(TINY), "--out", str(w), "--rows", "60", "--no-proctest"]
    )
    assert res.exit_code == 0, res.output
    import hashlib
    import json

    data = b'{"id": "t1", "junk": [/b]}\n\xff\n'
    (w / "tasks.jsonl").write_bytes(data)
    man = json.loads((w / "manifest.json").read_text(encoding="utf-8"))
    man["files"]["tasks.jsonl"] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (w / "manifest.json").write_text(json.dumps(man), encoding="utf-8")
    line = _assert_one_line_failure(runner.invoke(app, ["world", "inspect", str(w)]))
    assert "tasks.jsonl:1" in line


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    res = runner.invoke(app, ["--debug", "world", "validate", str(tmp_path / "nope.yaml")])
    assert res.exit_code == 1 and res.exception is not None
    assert not isinstance(res.exception, SystemExit)


def test_curated_domain_by_name(tmp_path: Path) -> None:
    res = runner.invoke(app, ["world", "validate", "tiny_shop"])
    assert res.exit_code == 0 and "tiny_shop" in res.output, res.output
    w = tmp_path / "w"
    res = runner.invoke(
        app,
        [
            "world",
            "build",
            "tiny_shop",
            "--seed",
            "1",
            "--rows",
            "60",
            "--no-proctest",
            "--out",
            str(w),
        ],
    )
    assert res.exit_code == 0 and (w / "manifest.json").is_file(), res.output
    line = _assert_one_line_failure(runner.invoke(app, ["world", "validate", "no_such_domain"]))
    assert "curated domain" in line and "retail" in line
