"""``scaleenv analyze DIR --out report/``: execute the notebooks on a set of worlds.

Each notebook in ``notebooks/`` (jupytext percent format) gets its parameters cell
replaced by the given paths, runs in a fresh kernel (nbclient), and is written as
``.ipynb`` and as HTML with its matplotlib figures as PNG files next to it, plus an
``index.html`` that links them. The HTML loads nothing from the network (no MathJax or
require.js from a CDN). The report is written to a temporary sibling directory and
renamed into place, so a failed run leaves the old report or nothing.
"""

from __future__ import annotations

import html
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from engine import ScaleEnvError
from engine.world import swap_in

_REPO = Path(__file__).resolve().parent.parent
TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


@dataclass
class NotebookResult:
    """One executed notebook: its files in the report and the numbers it printed."""

    name: str
    ipynb: Path
    html: Path
    figures: list[Path] = field(default_factory=list)
    summary: dict[str, Any] | None = None


def notebooks_dir() -> Path:
    """The notebooks shipped with scaleenv (a checkout's ``notebooks/`` or package data)."""
    for d in (Path(__file__).resolve().parent / "_data" / "notebooks", _REPO / "notebooks"):
        if d.is_dir():
            return d
    raise ScaleEnvError("notebooks/: not found (run from a checkout or pass --notebooks DIR)")


def _parameters(worlds: Path, trajectories: list[Path], world: str | None) -> str:
    traj: Any = [str(p) for p in trajectories] or None
    return f"WORLDS = {str(worlds)!r}\nWORLD = {world!r}\nTRAJECTORIES = {traj!r}\n"


def _summary(nb: Any) -> dict[str, Any] | None:
    """The JSON line the notebook's ``summary`` cell printed, if any."""
    for cell in nb.cells:
        if "summary" in cell.get("metadata", {}).get("tags", []):
            for out in cell.get("outputs", []):
                if out.get("output_type") == "stream":
                    lines = [ln for ln in out.get("text", "").splitlines() if ln.startswith("{")]
                    if lines:
                        return json.loads(lines[-1])
    return None


def execute_notebook(
    source: Path, worlds: Path, trajectories: list[Path], world: str | None, cwd: Path, timeout: int
) -> Any:
    """Read a jupytext notebook, set its parameters, execute it; the executed notebook."""
    import jupytext
    from nbclient import NotebookClient  # lazy: the analysis extra, not needed by the CLI

    nb = jupytext.read(source)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"  # jupytext draws random ids; the report must not change
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        raise ScaleEnvError(f"{source}: no cell tagged 'parameters'")
    cells[0].source = _parameters(worlds, trajectories, world)
    with tempfile.TemporaryDirectory(prefix="scaleenv-kernel-") as kdir:
        client = NotebookClient(
            nb,
            km=_kernel_manager(Path(kdir)),
            timeout=timeout,
            record_timing=False,
            resources={"metadata": {"path": str(cwd)}},
        )
        _run(client, source)
    nb.metadata.pop("jupytext", None)
    return nb


def _kernel_manager(kdir: Path) -> Any:
    """A kernel on this very interpreter: an installed ``python3`` kernelspec may point to
    another Python that cannot import scaleenv."""
    from jupyter_client.kernelspec import KernelSpecManager  # lazy: the analysis extra
    from jupyter_client.manager import KernelManager

    spec = kdir / "kernels" / "scaleenv"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "scaleenv", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    return KernelManager(
        kernel_name="scaleenv",
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kdir / "kernels")]),
    )


def _run(client: Any, source: Path) -> None:
    from nbclient.exceptions import (  # lazy: the analysis extra
        CellExecutionError,
        CellTimeoutError,
        DeadKernelError,
    )

    try:
        # the kernel process only logs to stderr (a TCP-transport warning); cell output,
        # errors included, arrives over the kernel protocol and lands in the notebook
        client.execute(stderr=subprocess.DEVNULL)
    except CellExecutionError as exc:
        raise ScaleEnvError(f"{source}: a cell failed: {exc.ename}: {exc.evalue}") from exc
    except (CellTimeoutError, DeadKernelError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ScaleEnvError(f"{source}: {first}") from exc


def _html(nb: Any, stem: str) -> tuple[str, dict[str, bytes]]:
    """HTML of an executed notebook and its figures (file name -> PNG bytes)."""
    from jinja2 import DictLoader  # lazy: the analysis extra (nbconvert and its jinja2)
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    config = Config()
    config.HTMLExporter.preprocessors = ["nbconvert.preprocessors.ExtractOutputPreprocessor"]
    config.ExtractOutputPreprocessor.extract_output_types = {"image/png"}
    exporter = HTMLExporter(
        config=config,
        template_name="lab",
        extra_loaders=[DictLoader({"offline.html.j2": TEMPLATE})],
        template_file="offline.html.j2",
    )
    body, resources = exporter.from_notebook_node(
        nb,
        resources={
            "output_files_dir": f"{stem}_files",
            "unique_key": stem,
            "metadata": {"name": stem},
        },
    )
    return body, dict(resources.get("outputs", {}))


def _index(results: list[NotebookResult], worlds: Path, out: Path) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>scaleenv report</title>',
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
        "img{max-width:320px;border:1px solid #ccc;margin:4px;vertical-align:top}pre{background:#f6f6f6;"
        "padding:.6em;white-space:pre-wrap}</style></head><body>",
        f"<h1>scaleenv report</h1><p>Worlds: <code>{html.escape(str(worlds))}</code></p>",
    ]
    for r in results:
        rel_html, rel_nb = r.html.relative_to(out), r.ipynb.relative_to(out)
        parts.append(
            f'<h2><a href="{html.escape(rel_html.as_posix())}">{html.escape(r.name)}</a></h2>'
            f'<p><a href="{html.escape(rel_nb.as_posix())}">notebook (.ipynb)</a></p>'
        )
        if r.summary is not None:
            text = json.dumps(r.summary, indent=1, sort_keys=True)
            parts.append(f"<pre>{html.escape(text)}</pre>")
        for fig in r.figures:
            rel = html.escape(fig.relative_to(out).as_posix())
            parts.append(f'<a href="{rel}"><img src="{rel}" alt="{html.escape(fig.name)}"></a>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def render_report(
    worlds: str | Path,
    out: str | Path,
    *,
    trajectories: list[str | Path] | None = None,
    world: str | None = None,
    notebooks: str | Path | None = None,
    timeout: int = 600,
) -> list[NotebookResult]:
    """Execute every notebook on ``worlds``; write ``.ipynb``, HTML, PNGs and ``index.html``."""
    from engine.analysis import find_worlds  # lazy: DuckDB/Arrow come with the analysis extra
    from engine.analysis.trajectories import (
        find_trajectory_files,  # lazy: the CLI loads only what a command runs
    )

    src = Path(worlds).resolve()
    found = find_worlds(src)  # one clear line when there is no world
    if world is not None and world not in {p.name for p in found}:
        raise ScaleEnvError(f"{src}: no world named {world!r}")
    traj = [Path(p).resolve() for p in trajectories or []]
    find_trajectory_files(traj)  # fail early on a missing path
    nb_dir = Path(notebooks) if notebooks is not None else notebooks_dir()
    sources = sorted(nb_dir.glob("*.py"))
    if not sources:
        raise ScaleEnvError(f"{nb_dir}: no notebooks (*.py in jupytext percent format)")
    dest = Path(out).resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        import nbformat

        results = []
        for source in sources:
            stem = source.stem
            nb = execute_notebook(source, src, traj, world, tmp, timeout)
            nbformat.write(nb, tmp / f"{stem}.ipynb")
            body, figures = _html(nb, stem)
            (tmp / f"{stem}.html").write_text(body, encoding="utf-8")
            paths = []
            for rel, data in figures.items():  # in the order the notebook drew them
                path = tmp / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                paths.append(path)
            results.append(
                NotebookResult(
                    stem, tmp / f"{stem}.ipynb", tmp / f"{stem}.html", paths, _summary(nb)
                )
            )
        (tmp / "index.html").write_text(_index(results, src, tmp), encoding="utf-8")
        swap_in(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [
        NotebookResult(
            r.name,
            dest / r.ipynb.relative_to(tmp),
            dest / r.html.relative_to(tmp),
            [dest / f.relative_to(tmp) for f in r.figures],
            r.summary,
        )
        for r in results
    ]


def register(app: Any) -> None:
    """Add ``scaleenv analyze`` to the main app (one line in ``synth/cli.py``)."""

    def analyze(
        worlds: Annotated[Path, typer.Argument(help="A world, or a folder of worlds.")],
        out_dir: Annotated[
            Path, typer.Option("--out", "-o", help="Report folder to write.")
        ] = Path("report"),
        trajectories: Annotated[
            list[Path] | None,
            typer.Option("--trajectories", "-t", help="Trajectory files or folders (repeatable)."),
        ] = None,
        world: Annotated[
            str | None, typer.Option("--world", help="The world to tour (default: the first).")
        ] = None,
        notebooks: Annotated[
            Path | None, typer.Option("--notebooks", help="Notebook folder (default: shipped).")
        ] = None,
        timeout: Annotated[int, typer.Option(min=1, help="Seconds per notebook cell.")] = 600,
    ) -> None:
        """Execute the analysis notebooks on worlds (and trajectories); write .ipynb + HTML."""
        from synth.cli_errors import out, run  # lazy: the CLI loads only what a command runs

        results = run(
            render_report,
            worlds,
            out_dir,
            trajectories=list(trajectories or []),
            world=world,
            notebooks=notebooks,
            timeout=timeout,
        )
        for r in results:
            out.print(f"[green]wrote[/green] {r.html} ({len(r.figures)} figures)", highlight=False)
        out.print(f"open {out_dir.resolve() / 'index.html'}", highlight=False)

    app.command("analyze")(analyze)
