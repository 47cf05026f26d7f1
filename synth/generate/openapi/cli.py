"""``scaleenv synth openapi FILE|google:NAME --seed S --out DIR``: one API -> one world.

Compiles the document (an unsupported construct stops here with the JSON path, before
anything is written), prints the explained report, then builds the world with the same
pipeline as ``world build`` (validation, seeding, procedural tests, graph, tasks).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from synth.build import build_world
from synth.cli_errors import out, run
from synth.generate.openapi import compile_source


def openapi_command(
    source: Annotated[str, typer.Argument(help="OpenAPI file (YAML/JSON) or google:NAME.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="World directory to write.")],
    seed: Annotated[int, typer.Option(help="World and task seed.")] = 0,
    rows: Annotated[
        int | None, typer.Option(help="Total rows (default: per-table counts).")
    ] = None,
    tasks: Annotated[int, typer.Option(help="Verified tasks to generate.")] = 20,
    report: Annotated[
        Path | None, typer.Option("--report", help="Also write the compile report (JSON) here.")
    ] = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="Print every operation and field, not only skips.")
    ] = False,
    spec_out: Annotated[
        Path | None, typer.Option("--spec", help="Also write the compiled spec (YAML) here.")
    ] = None,
) -> None:
    """Compile an OpenAPI document or a Google discovery document into a world."""
    spec, rep = run(compile_source, source)
    lines = rep.lines()
    shown = (
        lines if explain else [lines[0]] + [ln for ln in lines[1:] if ln.startswith("  skipped")]
    )
    for line in shown:
        out.print(line, highlight=False, soft_wrap=True)
    res = run(build_world, spec, seed=seed, rows=rows, out=out_dir, tasks=tasks)
    out.print(f"[green]built[/green] {res.path} ({len(res.spec.tools)} tools)")
    for key in ("proctest", "tasks"):
        if key in res.reports:
            out.print(res.reports[key].summary_line(), highlight=False)
    if report is not None:
        report.write_text(rep.to_json(), encoding="utf-8")
    if spec_out is not None:
        spec_out.write_text(spec.to_yaml(), encoding="utf-8")


def register(synth_app: typer.Typer) -> None:
    """Add ``openapi`` to the ``scaleenv synth`` group."""
    synth_app.command("openapi")(openapi_command)
