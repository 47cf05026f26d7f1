"""Tasks in a world directory: generate into it atomically, and re-check what is stored."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from engine.errors import TaskError
from engine.world import TASKS_FILE, World, read_world_files, write_world
from synth.audit import audit_tasks
from synth.graph import GRAPH_FILE, graph_to_json, load_world_graph
from synth.tasks.generate import TaskSet, generate_tasks
from synth.tasks.quality import quality_report
from synth.tasks.verify import duplicates, reason_code, verify_task

_MANIFEST_OWN = ("files", "rows", "format", "scaleenv")


def generate_into(world_dir: str | Path, n: int, seed: int, progress: bool = False) -> TaskSet:
    """Generate ``n`` tasks for the world at ``world_dir`` and rewrite it with
    ``tasks.jsonl`` and ``graph.json`` (every other file and the manifest meta kept);
    ``progress`` shows a transient bar on stderr while tasks are sampled."""

    if isinstance(n, bool) or not isinstance(n, int) or n < 1:  # 0 would empty tasks.jsonl
        raise TaskError(f"{world_dir}: the number of tasks must be >= 1, got {n!r}")
    manifest, files = read_world_files(world_dir)
    world = World.load(world_dir)
    graph = load_world_graph(world)
    if progress:
        from rich.progress import Progress

        with Progress(console=Console(stderr=True), transient=True) as bar:
            job = bar.add_task(f"tasks for {world.spec.name}", total=n)
            generated = generate_tasks(
                world,
                n=n,
                seed=seed,
                graph=graph,
                progress=lambda k, _n: bar.update(job, completed=k),
            )
    else:
        generated = generate_tasks(world, n=n, seed=seed, graph=graph)
    out = dict(files)
    out[TASKS_FILE] = generated.to_jsonl().encode()
    out[GRAPH_FILE] = graph_to_json(graph).encode()
    meta = {k: v for k, v in manifest.items() if k not in _MANIFEST_OWN}
    meta["task_seed"] = seed
    meta["tasks"] = len(generated.tasks)
    write_world(world_dir, out, meta)
    return generated


def report_world(world_dir: str | Path, seed: int | None = None) -> dict[str, Any]:
    """The quality report of the tasks stored in a world, with every task re-verified."""
    world = World.load(world_dir)
    tasks = world.tasks
    use_seed = (
        seed
        if seed is not None
        else int(world.manifest.get("task_seed", world.manifest.get("seed", 0)) or 0)
    )
    report = quality_report(world, tasks, use_seed)
    problems: Counter = Counter()
    s = world.session()
    try:
        for t in tasks:
            found = verify_task(world, t, s)
            if found:
                problems[reason_code(found[0])] += 1
    finally:
        s.close()
    dups = duplicates(tasks)
    if dups:
        problems["duplicate_gold_diff"] += len(dups)
    report["verification"] = {
        "ok": len(tasks) - sum(problems.values()),
        "problems": dict(sorted(problems.items())),
    }

    aud = audit_tasks(world, tasks)  # the independent auditor on what is stored
    report["audit"] = {
        "checked": aud["tasks"],
        "passed": aud["passed"],
        "rejected": {k: v for k, v in aud["failed_by_check"].items() if v},
    }
    return report


def print_report(rep: dict[str, Any], out: Console, explain: bool = False) -> None:
    """The quality report as rich tables: counts, coverage, sizes, policies, rejections,
    the auditor's counts and (``explain``) per write tool whether it was covered and why not."""
    t = Table("measure", "value", title=f"tasks of {rep.get('domain', '?')}")
    diff = rep.get("difficulty", {})
    t.add_row("tasks", str(rep.get("tasks", 0)))
    t.add_row("difficulty", ", ".join(f"{k} {v}" for k, v in diff.items()))
    t.add_row("write-tool coverage", f"{rep.get('write_coverage', 0):.0%}")
    if rep.get("uncovered_write_tools"):
        t.add_row("uncovered write tools", ", ".join(rep["uncovered_write_tools"]))
    for key in ("toolset_sizes", "complexity", "distractors", "gold_actions"):
        s = rep.get(key, {})
        t.add_row(
            key.replace("_", " "),
            f"median {s.get('median')} (min {s.get('min')}, max {s.get('max')})",
        )
    t.add_row("domain tools", str(rep.get("domain_tools", "")))
    t.add_row("tasks without distractors", str(rep.get("tasks_without_distractors", 0)))
    t.add_row("sub-goals", ", ".join(f"{k} {v}" for k, v in rep.get("subgoals", {}).items()))
    t.add_row("required answers", str(rep.get("required_answers", 0)))
    if "seconds" in rep:
        t.add_row("seconds", str(rep["seconds"]))
    out.print(t)
    pol = rep.get("policies")
    if pol:
        t = Table("policy", "pass rate", "must", title="policies")
        for name, must in (("gold", "= 100%"), ("random", "<= 5%"), ("empty", "= 0%")):
            rate = pol.get(name, 0.0)
            good = (
                rate == 1.0 if name == "gold" else rate <= 0.05 if name == "random" else rate == 0.0
            )
            colour = "green" if good else "red"
            t.add_row(name, f"[{colour}]{rate:.1%}[/{colour}]", must)
        out.print(t)
    t = Table("write tool", "tasks", title="write tools in gold actions")
    for name, count in rep.get("write_tools", {}).items():
        t.add_row(name, str(count) if count else "[red]0[/red]")
    out.print(t)
    aud = rep.get("audit")
    if aud:
        t = Table("audit", "tasks", title="independent task auditor")
        t.add_row("checked", str(aud.get("checked", 0)))
        t.add_row("passed (shipped)", str(aud.get("passed", 0)))
        for code, count in aud.get("rejected", {}).items():
            t.add_row(escape(f"rejected: {code}"), f"[red]{count}[/red]")
        out.print(t)
    if explain and rep.get("explain"):
        t = Table("write tool", "covered, or why not", title="write-tool coverage explained")
        for name, why in rep["explain"].items():
            colour = "green" if why.startswith("covered") else "yellow"
            t.add_row(escape(name), f"[{colour}]{escape(why)}[/{colour}]")  # data, not markup
        out.print(t)
    for key, title in (
        ("rejections", "rejected candidates by rule"),
        ("verification", "stored tasks re-verified"),
    ):
        block = rep.get(key)
        if block is None:
            continue
        rows = block.get("problems", block) if key == "verification" else block
        t = Table("reason", "count", title=title)
        if key == "verification":
            t.add_row("ok", str(block.get("ok", 0)))
        for reason, count in rows.items():
            t.add_row(escape(reason), str(count))
        if not rows and key == "rejections":
            t.add_row("none", "0")
        out.print(t)
