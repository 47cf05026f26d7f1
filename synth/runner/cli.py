"""``scaleenv synth``: build many worlds (``--domains N``) and report on their diversity.

A typer group: ``scaleenv synth --domains N --out DIR ...`` runs the builder and
``scaleenv synth report DIR`` the report; other synth commands (one domain, OpenAPI) can
register on ``synth_app``. Errors go through ``synth.cli.run``: one line, exit 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engine import ScaleEnvError
from synth.cli_errors import err, out, run
from synth.runner.report import build_report, print_report
from synth.runner.run import run_synth

synth_app = typer.Typer(
    help="Synthesize many worlds (--domains N) and measure how diverse they are.",
    invoke_without_command=True,
)


def _options(pairs: list[str]) -> dict[str, str]:
    out = {}
    for p in pairs:
        key, sep, value = p.partition("=")
        if not sep or not key:
            raise ScaleEnvError(f"--source-option {p!r}: expected KEY=VALUE")
        out[key] = value
    return out


@synth_app.callback()
def synth_main(
    ctx: typer.Context,
    domains: Annotated[int | None, typer.Option("--domains", "-n", help="How many worlds.")] = None,
    seed: Annotated[int, typer.Option(help="Run seed: same seed, same catalog bytes.")] = 0,
    out_dir: Annotated[Path | None, typer.Option("--out", "-o", help="Run directory.")] = None,
    workers: Annotated[int, typer.Option("--workers", "-w", help="Parallel builds.")] = 1,
    backend: Annotated[str, typer.Option(help="process, ray or inline.")] = "process",
    rows: Annotated[
        int | None, typer.Option(help="Total rows per world (default: the spec's counts).")
    ] = None,
    tasks: Annotated[int, typer.Option(help="Verified tasks per world.")] = 20,
    source: Annotated[
        str, typer.Option(help="catalog, curated, google, or a module:Class source.")
    ] = "catalog",
    source_option: Annotated[
        list[str] | None, typer.Option("--source-option", help="KEY=VALUE for the source.")
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds one world may take (0: no limit).")
    ] = 600.0,
    ray_address: Annotated[
        str | None, typer.Option(help="Ray cluster to join (default: a private local Ray).")
    ] = None,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.")] = False,
) -> None:
    """Build N worlds (spec, world, procedural tests, graph, tasks) into DIR with a catalog."""
    if ctx.invoked_subcommand is not None:
        return
    if domains is None:
        out.print(ctx.get_help())
        raise typer.Exit(0)
    if out_dir is None:
        err.print("[red]error:[/red] --out DIR is required with --domains", highlight=False)
        raise typer.Exit(1)
    opts = run(_options, source_option or [])
    res = run(
        run_synth,
        domains,
        out_dir,
        seed=seed,
        workers=workers,
        backend=backend,
        rows=rows,
        tasks=tasks,
        source=source,
        source_options=opts,
        timeout=timeout or None,
        ray_address=ray_address,
        progress=False if no_progress else err,
    )
    out.print(res.summary_line(), highlight=False)
    failed = [r for r in res.records if r["status"] != "ok"]
    for r in failed[:10]:
        out.print(f"[red]failed[/red] {r['id']}: {r['reason']}", highlight=False, soft_wrap=True)
    if len(failed) > 10:
        out.print(f"... {len(failed) - 10} more failures in {res.out / 'catalog.json'}")
    out.print(f"[green]wrote[/green] {res.out / 'catalog.json'} and catalog.parquet")


@synth_app.command("report")
def synth_report(
    dirs: Annotated[list[Path], typer.Argument(help="Run directories (or folders of worlds).")],
    out_dir: Annotated[
        Path | None, typer.Option("--out", "-o", help="Where to write (default DIR/report).")
    ] = None,
    embed: Annotated[str, typer.Option(help="tfidf, or minilm (optional extra).")] = "tfidf",
    no_curated: Annotated[
        bool, typer.Option("--no-curated", help="Leave out the curated fixtures (OOD set).")
    ] = False,
    no_png: Annotated[bool, typer.Option("--no-png", help="Skip the embedding map.")] = False,
) -> None:
    """Fingerprints, pairwise distances and an embedding map of the worlds in DIR(s)."""
    rep = run(build_report, dirs, out_dir, curated=not no_curated, embed=embed, png=not no_png)
    print_report(rep, out)
