"""``scaleenv spec schema`` and ``scaleenv spec docs``: registered on the main app by
``register(app)`` (one line in ``synth/cli.py``); errors go through its one-line handler."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

spec_app = typer.Typer(
    help="The spec language: JSON Schema for editors, the generated reference docs/spec.md.",
    no_args_is_help=True,
)


@spec_app.command("schema")
def schema() -> None:
    """Print the JSON Schema of a domain spec (for editor completion:
    ``scaleenv spec schema > spec.schema.json``)."""
    from synth.specdoc.reference import (
        spec_json_schema,  # lazy: the CLI loads only what a command runs
    )

    sys.stdout.write(json.dumps(spec_json_schema(), indent=2, sort_keys=True) + "\n")


@spec_app.command("docs")
def docs(
    out_path: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Where to write it (default: the checkout's docs/spec.md)."
        ),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 if the file is stale.")
    ] = False,
) -> None:
    """Generate the spec reference from the models and the examples (each example is
    validated first)."""
    from synth.cli_errors import err, out, run  # lazy: the CLI loads only what a command runs
    from synth.specdoc.reference import (  # lazy: the CLI loads only what a command runs
        DOC_PATH,
        write_reference,
    )

    path = out_path or DOC_PATH
    fresh = run(write_reference, path, check=check)
    if check and not fresh:
        err.print(
            f"[red]stale:[/red] {path}: run `scaleenv spec docs`", highlight=False, soft_wrap=True
        )
        raise typer.Exit(1)
    out.print(
        f"[green]{'up to date' if fresh else 'wrote'}[/green] {path}",
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(spec_app, name="spec")
