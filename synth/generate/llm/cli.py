"""``scaleenv synth domain "<description>" --llm --out DIR``: a world from one sentence.

The endpoint comes from ``--llm-config FILE`` or the SCALEENV_LLM_* variables (nothing is
called unless one is configured). Prints one line per stage, then the model usage per stage;
a failing stage prints one line and exits 1 with nothing written. The catalog options
(``--catalog``, ``--list``, ``--spec-only``) go to ``synth.generate.cli`` unchanged: this
command takes the place of that one, adding the description and the LLM options.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from engine import ScaleEnvError
from synth.cli_errors import lit, out, run


def domain_command(
    description: Annotated[
        str | None, typer.Argument(help="The business in one sentence (with --llm).")
    ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", "-o", help="World directory.")] = None,
    llm: Annotated[bool, typer.Option("--llm", help="Ask the configured model.")] = False,
    catalog: Annotated[
        str | None,
        typer.Option("--catalog", "-c", help="A catalog sketch's name instead (no model)."),
    ] = None,
    spec_only: Annotated[
        bool, typer.Option("--spec-only", help="With --catalog: write domain.yaml only.")
    ] = False,
    list_: Annotated[bool, typer.Option("--list", help="List the catalog by sector.")] = False,
    seed: Annotated[int, typer.Option(help="Spec, world, task and model seed.")] = 0,
    rows: Annotated[int, typer.Option(min=1, help="Total rows of the world.")] = 1000,
    tasks: Annotated[int, typer.Option(min=1, help="Verified tasks to generate.")] = 20,
    min_tasks: Annotated[
        int, typer.Option(min=0, help="Fewer verified tasks than this is a failure.")
    ] = 10,
    extra_tools: Annotated[
        int, typer.Option(min=0, max=5, help="Extra tools the model proposes as spec SQL.")
    ] = 0,
    tool_rounds: Annotated[
        int, typer.Option(min=0, max=5, help="Repair rounds per invalid proposed tool.")
    ] = 2,
    rephrase: Annotated[
        int, typer.Option(min=-1, help="Tasks whose text the model rewrites (-1: all).")
    ] = 0,
    llm_config: Annotated[
        Path | None, typer.Option("--llm-config", help="LLM config file (YAML/JSON).")
    ] = None,
    base_url: Annotated[str | None, typer.Option(help="Endpoint (overrides config).")] = None,
    model: Annotated[str | None, typer.Option(help="Model name (overrides config).")] = None,
    cache: Annotated[Path | None, typer.Option("--cache", help="Response cache directory.")] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Replay from the cache only; never call out.")
    ] = False,
) -> None:
    """Generate one domain -- from a description with --llm, or a catalog sketch -- and build
    its world."""
    t0 = time.perf_counter()
    if list_ or catalog is not None:
        _catalog(catalog, out_dir, seed, rows, tasks, spec_only, list_)
        return
    if not llm or not description or out_dir is None:
        raise ScaleEnvError(
            'synth domain: give "DESCRIPTION" --llm --out DIR, or --catalog NAME --out DIR (or --list)'
        )
    from synth.generate.llm.client import LLM  # lazy: CLI start-up stays fast
    from synth.generate.llm.config import load_config  # lazy: CLI start-up stays fast
    from synth.generate.llm.domain import synth_domain  # lazy: CLI start-up stays fast

    overrides = {"base_url": base_url, "model": model, "cache_dir": cache}
    cfg = run(load_config, llm_config, overrides)
    client = LLM(cfg, offline=offline)
    try:
        res = run(
            synth_domain,
            description,
            client,
            out=out_dir,
            seed=seed,
            rows=rows,
            tasks=tasks,
            min_tasks=min_tasks,
            extra_tools=extra_tools,
            tool_rounds=tool_rounds,
            rephrase=None if rephrase < 0 else rephrase,
        )
    finally:
        for line in client.ledger.lines():
            out.print(f"usage {lit(line)}", highlight=False)
    for line in res.lines():
        out.print(lit(line), highlight=False, soft_wrap=True)
    out.print(
        f"[green]built[/green] {lit(res.path)} ({len(res.spec.tools)} tools, {res.tasks} tasks, "
        f"{time.perf_counter() - t0:.1f}s)",
        highlight=False,
    )


def _catalog(
    name: str | None,
    out_dir: Path | None,
    seed: int,
    rows: int,
    tasks: int,
    spec_only: bool,
    list_: bool,
) -> None:
    """The offline catalog path, exactly as ``synth.generate.cli`` runs it."""
    from synth.generate import cli as catalog_cli  # lazy: CLI start-up stays fast

    if list_:
        run(catalog_cli._list)
        return
    if name is None or out_dir is None:
        raise ScaleEnvError("synth domain: give --catalog NAME and --out DIR (or --list)")
    if spec_only:
        out.print(f"wrote {lit(run(catalog_cli._write_spec, name, seed, out_dir))}")
        return
    info = run(catalog_cli.build_domain, name, seed, out_dir, rows=rows, tasks=tasks)
    quarantined = ", ".join(info["quarantined"]) or "none"
    out.print(
        f"{lit(name)} seed {seed}: {info['tables']} tables, {info['tools']} tools, "
        f"{info['tasks']} tasks, quarantined: {lit(quarantined)} -> {lit(info['path'])}",
        soft_wrap=True,
    )


def register(synth_app: typer.Typer) -> None:
    """Put ``domain`` (catalog and LLM paths) on the ``scaleenv synth`` group, in place of a
    catalog-only ``domain`` registered before."""
    synth_app.registered_commands[:] = [
        c for c in synth_app.registered_commands if (c.name or "") != "domain"
    ]
    synth_app.command("domain")(domain_command)
