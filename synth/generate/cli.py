"""``scaleenv synth domain``: one generated domain from the catalog, built into a world.

``--catalog NAME --seed S --out DIR`` writes the readable spec (``domain.yaml``) and builds
the world from that file with ``synth.build.build_world`` (validation, seeding, procedural
testing, graph, tasks); both land in DIR in one atomic write. ``--list`` shows the catalog;
``--spec-only`` writes just the YAML.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from engine import ScaleEnvError
from synth.cli_errors import lit, out, run

SOURCE_FILE = "domain.yaml"


def build_domain(
    name: str, seed: int, out_dir: Path, *, rows: int | None = 1000, tasks: int = 20
) -> dict[str, Any]:
    """Generate ``name`` at ``seed``, build it from its YAML file, write world + YAML to ``out_dir``."""
    from engine.world import write_world  # lazy: the CLI starts fast
    from synth.build import build_world  # lazy: the CLI loads only what a command runs
    from synth.generate import (  # lazy: the CLI loads only what a command runs
        load_sketch,
        spec_yaml,
    )

    text = spec_yaml(load_sketch(name), seed)
    with tempfile.TemporaryDirectory(prefix="scaleenv-domain-") as tmp:
        src = Path(tmp) / SOURCE_FILE
        src.write_text(text, encoding="utf-8")
        result = build_world(src, seed=seed, rows=rows, tasks=tasks)
    files = dict(result.files)
    files[SOURCE_FILE] = text.encode("utf-8")
    meta = {**result.meta, "catalog": name, "spec_seed": seed}
    path = write_world(out_dir, files, meta)
    spec = result.spec
    return {
        "path": str(path),
        "tables": len(spec.entities),
        "tools": len(spec.tools),
        "quarantined": sorted(n for n, t in spec.tools.items() if t.quarantined),
        "tasks": len(result.reports["tasks"].tasks) if "tasks" in result.reports else 0,
    }


def _write_spec(name: str, seed: int, out_dir: Path) -> Path:
    from synth.generate import (  # lazy: the CLI loads only what a command runs
        load_sketch,
        spec_yaml,
    )

    text = spec_yaml(load_sketch(name), seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / SOURCE_FILE
    with tempfile.NamedTemporaryFile(
        "w", dir=out_dir, delete=False, suffix=".tmp", encoding="utf-8"
    ) as fh:
        fh.write(text)
    Path(fh.name).replace(target)
    return target


def _list() -> None:
    from synth.generate import sectors  # lazy: the CLI loads only what a command runs

    for sector, names in sectors().items():
        out.print(
            f"[bold]{lit(sector)}[/bold] ({len(names)}): {lit(', '.join(names))}", soft_wrap=True
        )


def register(synth_app: typer.Typer) -> None:
    """Add ``domain`` to the ``scaleenv synth`` group."""

    @synth_app.command("domain")
    def domain(
        catalog: Annotated[
            str | None, typer.Option("--catalog", "-c", help="Catalog sketch name (see --list).")
        ] = None,
        seed: Annotated[int, typer.Option(help="Spec and world seed.")] = 0,
        out_dir: Annotated[
            Path | None, typer.Option("--out", "-o", help="World directory to write.")
        ] = None,
        rows: Annotated[int, typer.Option(help="Total rows in the world.")] = 1000,
        tasks: Annotated[int, typer.Option(help="Verified tasks to generate.")] = 20,
        spec_only: Annotated[
            bool, typer.Option("--spec-only", help="Write domain.yaml only; no build.")
        ] = False,
        list_: Annotated[bool, typer.Option("--list", help="List the catalog by sector.")] = False,
    ) -> None:
        """Generate one domain from a catalog sketch and build its world."""
        if list_:
            run(_list)
            return
        if catalog is None or out_dir is None:
            run(_raise, "synth domain: give --catalog NAME and --out DIR (or --list)")
            return
        if spec_only:
            path = run(_write_spec, catalog, seed, out_dir)
            out.print(f"wrote {lit(path)}")
            return
        info = run(build_domain, catalog, seed, out_dir, rows=rows, tasks=tasks)
        quarantined = ", ".join(info["quarantined"]) or "none"
        out.print(
            f"{lit(catalog)} seed {seed}: {info['tables']} tables, {info['tools']} tools, "
            f"{info['tasks']} tasks, quarantined: {lit(quarantined)} -> {lit(info['path'])}",
            soft_wrap=True,
        )


def _raise(message: str) -> None:
    raise ScaleEnvError(message)
