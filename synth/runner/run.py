"""``scaleenv synth``: build N worlds from a source, resumably, and write the catalog.

Finished worlds whose manifest verifies and whose job matches are skipped, so a run that
was killed picks up where it stopped and ends with the same catalog bytes as one that was
not. Each world is written atomically by the driver; a failing domain becomes a catalog
row with its one-line reason and the run goes on.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from engine import ScaleEnvError
from engine.world import write_world
from synth.runner.backends import run_jobs
from synth.runner.catalog import (
    WORLDS_DIR,
    finished_record,
    normalize,
    summary,
    write_catalog,
)
from synth.runner.sources import load_source, source_ref
from synth.runner.worker import job_key

LOCK = ".synth.lock"
TIMINGS_LOG = "timings.jsonl"  # appended as worlds finish; timings.json is made from it


@dataclass
class SynthResult:
    """What a run produced: the catalog records (sorted) and what it had to do."""

    out: Path
    records: list[dict[str, Any]]
    summary: dict[str, Any]
    built: int
    skipped: int
    seconds: float

    def summary_line(self) -> str:
        s = self.summary
        return (
            f"{s['ok']}/{s['worlds']} worlds ok, {s['failed']} failed "
            f"({self.built} built, {self.skipped} already done), {s['tasks']} tasks, "
            f"median {s['median_tools']} tools / {s['median_tables']} tables, "
            f"{s['distinct_spec_hashes']} distinct specs in {self.seconds:.1f}s"
        )


@contextlib.contextmanager
def _lock(out: Path) -> Iterator[None]:
    """One run per output directory; a lock left by a killed run is taken over."""
    path = out / LOCK
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                pid = int(path.read_text().strip() or 0)
                os.kill(pid, 0)
            except (ValueError, ProcessLookupError, FileNotFoundError):
                path.unlink(missing_ok=True)  # its run is gone
                continue
            except PermissionError:
                pass
            raise ScaleEnvError(f"{out}: another synth run (pid {pid}) is writing here") from None
        with os.fdopen(fd, "w") as fh:
            fh.write(str(os.getpid()))
        break
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def _clean_leftovers(worlds: Path) -> None:
    """Remove half-written temp directories a killed run left behind."""
    for p in worlds.glob(".*"):
        if p.is_dir() and (p.name.endswith(".tmp") or ".old." in p.name):
            shutil.rmtree(p, ignore_errors=True)


def _progress(progress: bool | Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]synth[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[green]{task.fields[ok]} ok[/green] [red]{task.fields[failed]} failed[/red]"),
        TextColumn("{task.fields[rate]} worlds/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("[dim]{task.fields[last]}[/dim]"),
        console=progress if isinstance(progress, Console) else Console(stderr=True),
        disable=progress is False,
        transient=False,
    )


def run_synth(
    n: int,
    out: str | Path,
    *,
    seed: int = 0,
    workers: int = 1,
    backend: str = "process",
    rows: int | None = None,
    tasks: int = 20,
    source: str = "catalog",
    source_options: dict[str, Any] | None = None,
    timeout: float | None = 600.0,
    ray_address: str | None = None,
    progress: bool | Console = True,
) -> SynthResult:
    """Build ``n`` worlds of ``source`` under ``out/worlds`` and write the catalog."""
    if n < 1:
        raise ScaleEnvError(f"--domains {n}: must be at least 1")
    t0 = time.perf_counter()
    out = Path(out).resolve()
    worlds = out / WORLDS_DIR
    worlds.mkdir(parents=True, exist_ok=True)
    ref = source_ref(source)
    opts = dict(sorted((source_options or {}).items()))
    items = load_source(ref, **opts).items(seed, n)
    run_info = {"source": source, "seed": seed, "domains": n, "rows": rows, "tasks": tasks}
    records: dict[str, dict[str, Any]] = {}
    seconds = _old_timings(out, {i.id for i in items})
    built = skipped = 0
    with _lock(out):
        _clean_leftovers(worlds)
        jobs = []
        for item in items:
            job = {
                "source": source,
                "ref": ref,
                "options": opts,
                "item": item.to_dict(),
                "rows": rows,
                "tasks": tasks,
                "timeout": timeout,
            }
            done = finished_record(worlds / item.id, job_key(job))
            if done is not None:
                records[item.id] = done
                skipped += 1
            else:
                jobs.append(job)
        with _progress(progress) as bar:
            ok = sum(r["status"] == "ok" for r in records.values())
            fields = {"ok": ok, "failed": len(records) - ok, "rate": "-", "last": ""}
            task = bar.add_task("synth", total=len(items), completed=len(records), **fields)
            t_run = time.perf_counter()
            log = open(out / TIMINGS_LOG, "a", encoding="utf-8")  # noqa: SIM115 - closed below
            try:
                for job, outcome in run_jobs(jobs, backend, workers, ray_address):
                    rid = job["item"]["id"]
                    rec = _store(worlds / rid, outcome)
                    records[rid] = rec
                    seconds[rid] = outcome["seconds"]
                    log.write(json.dumps({"id": rid, "seconds": outcome["seconds"]}) + "\n")
                    log.flush()
                    built += 1
                    fields["ok" if rec["status"] == "ok" else "failed"] += 1
                    rate = built / max(time.perf_counter() - t_run, 1e-9)
                    fields["rate"] = f"{rate:.2f}"
                    fields["last"] = (
                        rid if rec["status"] == "ok" else f"{rid}: {rec['reason'][:60]}"
                    )
                    bar.update(task, advance=1, **fields)
            finally:
                log.close()
        ordered = [normalize(records[i.id]) for i in items]
        write_catalog(out, run_info, ordered, seconds)
    return SynthResult(out, ordered, summary(ordered), built, skipped, time.perf_counter() - t0)


def _old_timings(out: Path, ids: set[str]) -> dict[str, float]:
    """Seconds of worlds built earlier, also by a run that was killed (from its log)."""
    found: dict[str, float] = {}
    try:
        lines = (out / TIMINGS_LOG).read_text(encoding="utf-8").splitlines()
    except OSError:
        return found
    for line in lines:
        try:
            entry = json.loads(line)
            if entry["id"] in ids:
                found[entry["id"]] = float(entry["seconds"])
        except (ValueError, KeyError, TypeError):
            continue  # a line cut by a kill
    return found


def _store(world_dir: Path, outcome: dict[str, Any]) -> dict[str, Any]:
    """Write a built world atomically; a failed one leaves no directory behind."""
    record = outcome["record"]
    if outcome["files"] is None:
        shutil.rmtree(world_dir, ignore_errors=True)
        return record
    if world_dir.is_dir() and not (world_dir / "manifest.json").is_file():
        shutil.rmtree(world_dir)  # an unfinished world under our worlds/: write_world refuses it
    try:
        write_world(world_dir, outcome["files"], outcome["meta"])
    except (OSError, ScaleEnvError) as exc:
        record = {**record, "status": "failed", "reason": f"write: {exc}"[:300]}
    return record
