"""``scaleenv rollout`` and ``scaleenv dataset``: registered on the main app by
``register(app)`` (one line in ``synth/cli.py``); errors go through its one-line handler."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from engine.adapters.datasets import export_rl, export_sft
from synth.cli_errors import out, run
from synth.rollout.run import find_worlds, run_rollouts


def _print_summary(summary: dict[str, Any], console: Any) -> None:
    k = summary["k"]
    cols = ("tasks", "episodes", "pass@1", f"pass@{k}", f"pass^{k}", "reward", "user_early_stops")
    for title, groups in (("world", summary["worlds"]), ("difficulty", summary["difficulty"])):
        t = Table(title, *(c.replace("user_", "") for c in cols), title=f"rollouts by {title}")
        for name, g in [*groups.items(), ("all", summary["all"])]:
            t.add_row(name, *(str(g.get(c, "")) for c in cols))
        console.print(t)


def rollout(
    worlds: Annotated[Path, typer.Option("--worlds", help="A world, or a folder of worlds.")],
    policy: Annotated[
        str, typer.Option(help="scripted:gold | random | openai:MODEL (base URL from env).")
    ] = "scripted:gold",
    user: Annotated[str, typer.Option(help="scripted | openai:MODEL.")] = "scripted",
    k: Annotated[int, typer.Option("--k", help="Samples per task.")] = 1,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    backend: Annotated[str, typer.Option(help="process | ray.")] = "process",
    seed: Annotated[int, typer.Option(help="Seed of every episode's randomness.")] = 0,
    max_turns: Annotated[int, typer.Option(help="Agent turns before the episode stops.")] = 30,
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for trajectories and summary.")
    ] = Path("rollouts"),
    timing: Annotated[
        bool, typer.Option(help="Record each episode's wall time (--no-timing: identical bytes).")
    ] = True,
) -> None:
    """Run K samples per task in parallel; write trajectories (JSONL + Parquet); print
    pass@1, pass@k and pass^k per world and per difficulty."""
    res = run(
        run_rollouts,
        worlds,
        policy=policy,
        user=user,
        k=k,
        workers=workers,
        backend=backend,
        seed=seed,
        max_turns=max_turns,
        timing=timing,
        out=out_dir,
    )
    _print_summary(res.summary, out)
    out.print(f"[green]wrote[/green] {res.paths['jsonl']} and {res.paths['parquet'].name}")


dataset_app = typer.Typer(help="Export training datasets.", no_args_is_help=True)


@dataset_app.command("sft")
def dataset_sft(
    trajectories: Annotated[Path, typer.Argument(help="trajectories.jsonl of a rollout.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("data"),
    all_episodes: Annotated[
        bool, typer.Option("--all", help="Keep failed episodes too (default: passing only).")
    ] = False,
) -> None:
    """Chat-format SFT data (OpenAI messages with tools) as sft.jsonl and sft.parquet."""
    paths = run(export_sft, trajectories, out_dir, passed_only=not all_episodes)
    out.print(f"[green]wrote[/green] {paths['jsonl']} and {paths['parquet'].name}")


@dataset_app.command("rl")
def dataset_rl(
    worlds: Annotated[Path, typer.Option("--worlds", help="A world, or a folder of worlds.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("data"),
) -> None:
    """RL prompt dataset (prompt, environment, task_id) as rl_prompts.jsonl and .parquet."""
    paths = run(lambda: export_rl(find_worlds(worlds), out_dir))
    out.print(f"[green]wrote[/green] {paths['jsonl']} and {paths['parquet'].name}")


def register(app: typer.Typer) -> None:
    """Add ``rollout`` and ``dataset sft|rl`` to the ``scaleenv`` app."""
    app.command("rollout")(rollout)
    app.add_typer(dataset_app, name="dataset")
