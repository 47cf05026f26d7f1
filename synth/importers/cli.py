"""``scaleenv world import`` and ``scaleenv import tau2``: registered by one line in
``synth/cli.py``; failures are one line (``synth.cli_errors.run``)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from synth.cli_errors import err, lit, out, run

import_app = typer.Typer(help="Import data and benchmarks from elsewhere.", no_args_is_help=True)


def world_import(
    spec: str = typer.Argument(..., help="Spec file or curated domain name."),
    data: Path = typer.Option(..., "--data", help="JSON file, SQLite file or CSV/Parquet folder."),
    out_dir: Path = typer.Option(..., "--out", "-o", help="World directory to write."),
    mapping: Path | None = typer.Option(
        None, "--mapping", help="YAML: where each table's rows are in a nested JSON document."
    ),
    allow_rejected: bool = typer.Option(
        False, "--allow-rejected", help="Write the world without the refused rows."
    ),
    report: Path | None = typer.Option(
        None, "--report", help="Also write the rejection report (JSON) here, even on refusal."
    ),
    no_proctest: bool = typer.Option(False, "--no-proctest", help="Skip procedural testing."),
    tasks: int = typer.Option(0, min=0, help="Also generate this many verified tasks."),
    seed: int = typer.Option(0, help="Seed of procedural testing and task sampling."),
) -> None:
    """Build a world from existing rows: every row type-checked, constrained, reported."""
    from synth.importers.rows import (  # lazy: the CLI loads only what a command runs
        ImportRefused,
        import_world,
    )
    from synth.resources import resolve_spec  # lazy: the CLI loads only what a command runs

    def go():
        try:
            return import_world(
                resolve_spec(spec),
                data,
                out_dir,
                mapping=mapping,
                allow_rejected=allow_rejected,
                proctest=not no_proctest,
                tasks=tasks,
                seed=seed,
            )
        except ImportRefused as exc:
            if report is not None:
                report.write_text(json.dumps(exc.report, indent=2, sort_keys=True) + "\n")
            raise

    res = run(go)
    if report is not None:
        report.write_text(json.dumps(res.report, indent=2, sort_keys=True) + "\n")
    n = sum(t["imported"] for t in res.report["tables"].values())
    out.print(f"[green]imported[/green] {lit(res.path)} ({n} rows)")
    if res.report["rejected_rows"]:
        err.print(f"[yellow]warning:[/yellow] {res.report['rejected_rows']} row(s) refused")
    rep = res.reports.get("proctest")
    if rep is not None:
        out.print(lit(rep.summary_line()))
    gen = res.reports.get("tasks")
    if gen is not None:
        out.print(lit(gen.summary_line()))


@import_app.command("tau2")
def import_tau2(
    tau2: Path = typer.Option(..., "--tau2", help="A tau2-bench checkout (or its domain folder)."),
    domain: str = typer.Option("retail", "--domain", help="retail or airline."),
    out_dir: Path = typer.Option(..., "--out", "-o", help="World directory to write."),
    no_proctest: bool = typer.Option(False, "--no-proctest", help="Skip procedural testing."),
) -> None:
    """Import a tau2-bench domain: its database, tools (as a spec) and tasks with splits."""
    from synth.importers.tau2 import (
        import_tau2 as go,  # lazy: the CLI loads only what a command runs
    )

    res = run(go, tau2, domain, out_dir, proctest=not no_proctest)
    out.print(f"[green]imported[/green] {lit(res.path)}: {lit(res.summary)}")


def register(app: typer.Typer, world_app: typer.Typer) -> None:
    """Add ``world import`` and the ``import`` group to the CLI."""
    world_app.command("import")(world_import)
    app.add_typer(import_app, name="import")
