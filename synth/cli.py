"""The ``scaleenv`` command line. Each command mirrors one Python function.

Errors print one line naming what and where and exit 1 (usage errors: 2); ``--debug`` shows
the traceback. The app's group class (``synth.cli_errors.OneLineErrors``) enforces this for
every command, including those other modules register. Where a command takes a spec, it also
takes a curated domain's name (``scaleenv world build retail``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.table import Table

from synth.cli_errors import OneLineErrors, err, lit, out, run, state
from synth.resources import resolve_spec

__all__ = ["app", "err", "lit", "main", "out", "run"]  # err/out/run: for registered commands

app = typer.Typer(
    cls=OneLineErrors,
    help="Synthesize database-backed tool-use worlds and verifiable tasks.",
    no_args_is_help=True,
)
world_app = typer.Typer(
    help="Build, inspect, validate, migrate and test worlds.", no_args_is_help=True
)
app.add_typer(world_app, name="world")

SPEC_HELP = "Domain spec (YAML or JSON), or a curated domain's name (retail, airline, ...)."


@app.callback()
def _main(debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors.")) -> None:
    state["debug"] = debug


@app.command("demo")
def demo(
    out_dir: Path = typer.Option(Path("worlds"), "--out", "-o", help="Where to write the worlds."),
    seed: int = typer.Option(1, help="World and task seed."),
    rows: int = typer.Option(5000, min=1, help="Total rows per world."),
    tasks: int = typer.Option(20, min=1, help="Verified tasks per world (one is played)."),
) -> None:
    """Build the curated worlds with tasks and play one scripted episode in each."""
    from synth.demo import (
        run_demo,  # lazy: CLI start-up stays fast; a command loads only what it runs
    )  # lazy: the CLI loads only what a command runs

    run(run_demo, out_dir, seed=seed, rows=rows, tasks=tasks, console=out)


@app.command("init")
def init(
    name: str = typer.Argument(..., help="The new domain's name (snake_case)."),
    out_path: Path | None = typer.Option(
        None, "--out", "-o", help="A .yaml file, or a folder for NAME.yaml (default: here)."
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing file."),
) -> None:
    """Write a small, commented domain spec (a library lending desk) that builds, passes
    procedural testing and yields tasks: the start of a new domain."""
    from synth.init import init_domain  # lazy: the CLI loads only what a command runs

    path = run(init_domain, name, out_path, force=force)
    out.print(f"[green]wrote[/green] {lit(path)}", highlight=False)
    out.print(f"next: scaleenv world build {lit(path)} --out {lit(name)}-world --tasks 10")


# ---- world ---------------------------------------------------------------------------
@world_app.command("validate")
def world_validate(spec: str = typer.Argument(..., help=SPEC_HELP)) -> None:
    """Validate a domain spec; print every error with its field path."""
    from engine.spec.source import (
        read_spec_data,  # lazy: CLI start-up stays fast; a command loads only what it runs
    )  # lazy: the CLI loads only what a command runs
    from engine.spec.validate import (  # lazy: CLI start-up stays fast; a command loads only what it runs
        load_spec,
        validate_spec,
    )

    path = run(resolve_spec, spec)
    data = run(read_spec_data, path)
    errors = validate_spec(data)
    if errors:
        for field, msg in errors:
            err.print(
                f"[red]{lit(path)}[/red]: {lit(field)}: {lit(msg)}", highlight=False, soft_wrap=True
            )
        raise typer.Exit(1)
    s = run(load_spec, data, source=str(path))
    out.print(
        f"[green]ok[/green] {lit(s.name)}: {len(s.entities)} tables, {len(s.tools)} tools, "
        f"{len(s.invariants)} invariants, {len(s.policy_rules)} policy rules"
    )


@world_app.command("build")
def world_build(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    out_dir: Path = typer.Option(..., "--out", "-o", help="World directory to write."),
    seed: int = typer.Option(0, help="Seed: same spec + seed gives a byte-identical world."),
    rows: int | None = typer.Option(
        None, min=1, help="Total rows of the world (default: the spec's counts)."
    ),
    no_proctest: bool = typer.Option(False, "--no-proctest", help="Skip procedural testing."),
    fuzz_steps: int = typer.Option(
        0, min=0, help="Stateful fuzzing steps during procedural testing."
    ),
    tasks: int = typer.Option(0, min=0, help="Also generate this many verified tasks."),
    strict: bool = typer.Option(
        False, "--strict", help="Fail on any quarantined tool or any row lost in seeding."
    ),
) -> None:
    """Build a world: migrations, seeded database, procedural tests, (tasks)."""
    from synth.build import (
        build_world,  # lazy: CLI start-up stays fast; a command loads only what it runs
    )  # lazy: the CLI loads only what a command runs

    res = run(
        build_world,
        run(resolve_spec, spec),
        seed=seed,
        rows=rows,
        out=out_dir,
        proctest=not no_proctest,
        fuzz_steps=fuzz_steps,
        tasks=tasks,
        strict=strict,
    )
    from engine.world import (
        MANIFEST,  # lazy: CLI start-up stays fast; a command loads only what it runs
    )  # lazy: the CLI loads only what a command runs

    # the rows the manifest counted in the written file (a count of res.db_bytes would
    # deserialize a second copy of the database: the build's peak memory, issue 21)
    total = sum(json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))["rows"].values())
    out.print(f"[green]built[/green] {lit(res.path)} ({total} rows, {len(res.spec.tools)} tools)")
    for warning in res.reports.get("seeding", {}).get("warnings", []):
        out.print(f"[yellow]warning:[/yellow] seeding: {lit(warning)}")
    rep = res.reports.get("proctest")
    if rep is not None:
        out.print(lit(rep.summary_line()))
    gen = res.reports.get("tasks")
    if gen is not None:
        out.print(lit(gen.summary_line()))


@world_app.command("inspect")
def world_inspect(world_dir: Path = typer.Argument(..., help="World directory.")) -> None:
    """Show a world's tables, row counts, tools and invariants."""
    from engine.world import (
        World,  # lazy: CLI start-up stays fast; a command loads only what it runs
    )  # lazy: the CLI loads only what a command runs

    w = run(World.load, world_dir)
    n_tasks = len(run(lambda: w.tasks))  # reads tasks.jsonl: a garbage file is one error line
    out.print(
        f"[bold]{lit(w.spec.name)}[/bold] — {lit(w.spec.description)}  "
        f"(seed {lit(w.manifest.get('seed'))}, now {lit(w.spec.now)})"
    )
    t = Table("table", "rows", "columns", "key", title="tables")
    for name, ent in w.spec.entities.items():
        cells = (name, w.row_counts.get(name, 0), len(ent.columns), ",".join(ent.key))
        t.add_row(*map(lit, cells))
    out.print(t)
    t = Table("tool", "kind", "reads", "writes", "status", title="tools")
    for name, tool in w.spec.tools.items():
        status = (
            f"[red]quarantined: {lit(tool.quarantined)}[/red]"
            if tool.quarantined
            else "[green]ok[/green]"
        )
        kind = "read" if tool.read_only else "write"
        t.add_row(*map(lit, (name, kind, ",".join(tool.reads), ",".join(tool.writes))), status)
    for name in w.spec.builtins:
        t.add_row(lit(name), "builtin", "", "", "[green]ok[/green]")
    out.print(t)
    t = Table("invariant", "description", title="invariants")
    for inv in w.spec.invariants:
        t.add_row(lit(inv.name), lit(inv.description or inv.message))
    out.print(t)
    if w.spec.policy_rules:
        t = Table("policy rule", "tool", "description", title="policy rules (agent-enforced)")
        for rule in w.spec.policy_rules:
            t.add_row(lit(rule.name), lit(rule.tool), lit(rule.description))
        out.print(t)
    out.print(f"tasks: {n_tasks}")


@world_app.command("migrate")
def world_migrate(
    world_dir: Path = typer.Argument(..., help="World directory to upgrade in place."),
    spec: str = typer.Argument(..., help="The evolved domain spec (or a curated domain's name)."),
) -> None:
    """Add a migration for an evolved spec and upgrade the world, keeping its rows."""
    from engine.spec.validate import (
        load_spec,  # lazy: CLI start-up stays fast; a command loads only what it runs
    )  # lazy: the CLI loads only what a command runs
    from synth.migrate.apply import (
        migrate_world,  # lazy: CLI start-up stays fast; a command loads only what it runs
    )  # lazy: the CLI loads only what a command runs

    new_spec = run(load_spec, run(resolve_spec, spec))
    path = run(migrate_world, world_dir, new_spec)
    out.print(f"[green]migrated[/green] {lit(path)}")


# ---- graph ---------------------------------------------------------------------------
from typing import Annotated  # noqa: E402 - kept with the graph group (additive edit)

graph_app = typer.Typer(help="Inspect the tool dependency graph.", no_args_is_help=True)
app.add_typer(graph_app, name="graph")


@graph_app.command("show")
def graph_show(
    source: Annotated[
        str, typer.Argument(help="World directory, domain spec, or a curated domain's name.")
    ],
    png: Annotated[
        Path | None, typer.Option("--png", help="Also draw the graph to this PNG.")
    ] = None,
    graphml: Annotated[
        Path | None, typer.Option("--graphml", help="Also write GraphML here.")
    ] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="List every edge, not only the top ones.")
    ] = False,
    top: Annotated[int, typer.Option(min=0, help="How many edges to list without --all.")] = 15,
) -> None:
    """Print graph statistics (nodes, edges, density, components, longest path) and edges."""
    from synth.graph import (  # lazy: CLI start-up stays fast; a command loads only what it runs
        draw_png,
        graph_for_path,
        graph_stats,
        write_graphml,
    )

    g = run(graph_for_path, run(resolve_spec, source))
    stats = graph_stats(g)
    t = Table("stat", "value", title=f"tool graph of {lit(g.graph.get('domain', source))}")
    for key, value in stats.items():
        shown = ", ".join(value) if isinstance(value, list) else str(value)
        t.add_row(lit(key), lit(shown or "-"))
    out.print(t)
    edges = sorted(
        g.edges(data=True), key=lambda e: (-len(e[2]["feeds"]) - len(e[2]["columns"]), e[0], e[1])
    )
    t = Table("from", "to", "kinds", "why", title=f"edges ({len(edges)})")
    for u, v, d in edges if show_all else edges[:top]:
        t.add_row(*map(lit, (u, v, "+".join(d["kinds"]), d["reason"])))
    out.print(t)
    if not show_all and len(edges) > top:
        out.print(f"... {len(edges) - top} more edges (--all lists them)")
    if graphml is not None:
        out.print(f"[green]wrote[/green] {lit(run(write_graphml, g, graphml))}")
    if png is not None:
        out.print(f"[green]wrote[/green] {lit(run(draw_png, g, png))}")


# ---- tasks ---------------------------------------------------------------------------
tasks_app = typer.Typer(
    help="Generate verified tasks and report on their quality.", no_args_is_help=True
)
app.add_typer(tasks_app, name="tasks")


@tasks_app.command("gen")
def tasks_gen(
    world_dir: Annotated[Path, typer.Argument(help="World directory to add tasks to.")],
    n: Annotated[int, typer.Option("--n", min=1, help="How many tasks.")] = 200,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed: same world + seed gives the same tasks.jsonl.")
    ] = 0,
    explain: Annotated[
        bool, typer.Option("--explain", help="Per write tool: covered, or the concrete reason not.")
    ] = False,
) -> None:
    """Generate verified tasks into a world (tasks.jsonl + graph.json, written atomically)."""
    from synth.tasks.io import (  # lazy: CLI start-up stays fast; a command loads only what it runs
        generate_into,
        print_report,
    )

    generated = run(generate_into, world_dir, n, seed, progress=True)
    out.print(f"[green]wrote[/green] {len(generated.tasks)} tasks to {lit(world_dir)}")
    print_report(generated.report, out, explain=explain)


@tasks_app.command("report")
def tasks_report(
    world_dir: Annotated[Path, typer.Argument(help="World directory with tasks.jsonl.")],
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="Seed of the random policy (default: the task seed)."),
    ] = None,
) -> None:
    """Recompute the quality report of a world's stored tasks (policies and re-verification)."""
    from synth.tasks.io import (  # lazy: CLI start-up stays fast; a command loads only what it runs
        print_report,
        report_world,
    )

    print_report(run(report_world, world_dir, seed), out)


# ---- world test (procedural tests) ------------------------------------------------------
@world_app.command("test")
def world_test(
    world_dir: Annotated[Path, typer.Argument(help="World directory to test (left unchanged).")],
    fuzz_steps: Annotated[
        int, typer.Option("--fuzz-steps", min=0, help="Also fuzz this many random calls.")
    ] = 0,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed of the cases (default: the world's).")
    ] = None,
) -> None:
    """Procedurally test every tool of a world; exit 1 if a tool not yet quarantined fails."""
    import time

    from engine.world import (
        World,  # lazy: CLI start-up stays fast; a command loads only what it runs
    )  # lazy: the CLI loads only what a command runs
    from synth.proctest.run import (
        run_proctest,  # lazy: CLI start-up stays fast; a command loads only what it runs
    )  # lazy: the CLI loads only what a command runs

    w = run(World.load, world_dir)
    t0 = time.perf_counter()
    rep = run(
        run_proctest,
        w.spec,
        w.base_bytes,
        seed=int(w.manifest.get("seed") or 0) if seed is None else seed,
        fuzz_steps=fuzz_steps,
    )
    t = Table(
        "tool",
        "success",
        "anticipated",
        "unexpected",
        "status",
        "reason",
        title=f"procedural tests of {lit(w.name)}",
    )
    new_failures = []
    for name, tr in rep.tools.items():
        known = w.spec.tools[name].quarantined is not None
        if tr.failed and not known:
            new_failures.append(name)
        status = (
            "[red]FAIL[/red]"
            if tr.failed and not known
            else "[yellow]quarantined[/yellow]"
            if tr.failed
            else "[green]ok[/green]"
        )
        c = tr.counts
        t.add_row(
            name,
            str(c["success"]),
            str(c["anticipated_rejection"]),
            str(c["unexpected_failure"]),
            status,
            lit(tr.reason or ""),
        )
    out.print(t)
    if rep.fuzz is not None:
        f = rep.fuzz
        out.print(
            f"fuzz: {f['calls']} calls, {f['successes']} successes, {f['invariant_violations']} invariant violations, "
            f"{f['exceptions']} exceptions, integrity {'ok' if f['integrity_ok'] else 'BROKEN'}, replay {'ok' if f['replay_ok'] else 'DIFFERS'}"
        )
    out.print(f"{lit(rep.summary_line())} ({time.perf_counter() - t0:.2f}s)", highlight=False)
    if new_failures:
        err.print(
            f"[red]failing tools not quarantined:[/red] {', '.join(new_failures)}", highlight=False
        )
        raise typer.Exit(1)


__import__("synth.rollout.cli", fromlist=["register"]).register(app)  # scaleenv rollout
__import__("synth.analyze", fromlist=["register"]).register(app)  # scaleenv analyze
__import__("synth.specdoc.cli", fromlist=["register"]).register(app)  # scaleenv spec


# ---- synth (many worlds, diversity report) -------------------------------------------
from synth.runner.cli import synth_app  # noqa: E402 - registered after the other groups

app.add_typer(synth_app, name="synth")
__import__("synth.generate.openapi.cli", fromlist=["register"]).register(synth_app)  # synth openapi
__import__("synth.generate.cli", fromlist=["register"]).register(synth_app)  # synth domain
# synth domain "DESCRIPTION" --llm: replaces the command above, same options plus the LLM path
__import__("synth.generate.llm.cli", fromlist=["register"]).register(synth_app)  # synth domain
__import__("synth.importers.cli", fromlist=["register"]).register(
    app, world_app
)  # world import, import tau2


def main() -> None:
    """Console entry (``scaleenv``): the app, with Ctrl-C as one line and exit code 130."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("[red]interrupted[/red]")
        sys.exit(130)
