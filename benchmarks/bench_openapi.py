"""Compile every Google API discovery document of the installed client into a world.

Run: ``python benchmarks/bench_openapi.py [--workers 2] [--limit N] [--names a,b]``
(the whole corpus takes tens of minutes on two cores; ``--json FILE`` keeps the rows).
Per API: operations compiled/skipped, CRUD operations compiled of those in the document,
tools, quarantined tools, verified tasks and their gold/empty pass rates, build seconds.
Totals compare against the targets of the OpenAPI issue (the baseline a world must meet):
>= 5 tools and >= 10 verified tasks with gold 100% and empty 0%; >= 80% of CRUD operations
become tools; 0 quarantined tools in >= 90% of the worlds.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import statistics
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _alarm(signum, frame):  # noqa: ARG001
    raise TimeoutError("build took too long")


def one(name: str, rows: int, tasks: int, timeout: int) -> dict:
    """Compile and build one API; never raises (the error is the row's reason)."""
    from synth.build import build_world
    from synth.generate.openapi import compile_google

    row: dict = {"api": name}
    t0 = time.perf_counter()
    signal.signal(signal.SIGVTALRM, _alarm)  # CPU seconds: fair on a busy machine
    signal.setitimer(signal.ITIMER_VIRTUAL, timeout)
    try:
        spec, rep = compile_google(name)
        done, total = rep.crud()
        row.update(
            tables=len(rep.tables),
            compiled=len(rep.compiled),
            skipped=len(rep.skipped),
            crud_done=done,
            crud_total=total,
            skip_reasons=dict(Counter(_reason(o.reason or "") for o in rep.skipped)),
        )
        res = build_world(spec, seed=0, rows=rows, tasks=tasks)
        pol = res.reports["tasks"].report.get("policies", {})
        row.update(
            tools=len(res.spec.tools),
            quarantined=sum(1 for t in res.spec.tools.values() if t.quarantined),
            tasks=len(res.reports["tasks"].tasks),
            answer_only=sum(1 for t in res.reports["tasks"].tasks if t.meta.get("answer_only")),
            gold=pol.get("gold", 0.0),
            empty=pol.get("empty", 0.0),
            random=pol.get("random", 0.0),
        )
    except Exception as exc:  # noqa: BLE001 - a failing API is a row, not a crash
        rep = getattr(exc, "report", None)
        if rep is not None:  # nothing compiled: its CRUD operations count as not compiled
            done, total = rep.crud()
            row.update(crud_done=done, crud_total=total, compiled=0, skipped=len(rep.skipped))
            row["skip_reasons"] = dict(Counter(_reason(o.reason or "") for o in rep.skipped))
        row["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
    row["seconds"] = round(time.perf_counter() - t0, 2)
    return row


def _reason(text: str) -> str:
    """A skip reason without the names in it, so reasons can be counted across APIs."""
    text = re.sub(r"'[^']*'", "*", text)
    return re.sub(r"\([^)]*\)", "(...)", text)


def passes(r: dict) -> bool:
    return (
        "error" not in r
        and r.get("tools", 0) >= 5
        and r.get("tasks", 0) >= 10
        and r.get("gold", 0) >= 1.0
        and r.get("empty", 1) == 0.0
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--limit", type=int, default=0, help="Only the first N APIs (0: all).")
    ap.add_argument("--names", default="", help="Comma-separated API names.")
    ap.add_argument("--rows", type=int, default=300)
    ap.add_argument("--tasks", type=int, default=10)
    ap.add_argument("--timeout", type=int, default=300, help="CPU seconds per API.")
    ap.add_argument("--json", type=Path, default=None, help="Write the rows here (JSON lines).")
    ap.add_argument(
        "--from-json",
        type=Path,
        action="append",
        default=[],
        help="Only summarize saved rows (repeatable; a later file's row for an API wins).",
    )
    args = ap.parse_args()
    from synth.generate.openapi import google_api_names

    if args.from_json:
        merged: dict[str, dict] = {}
        for path in args.from_json:
            for line in path.read_text().splitlines():
                row = json.loads(line)
                merged[row["api"]] = row
        summarize([merged[k] for k in sorted(merged)], time.perf_counter())
        return
    names = [n for n in args.names.split(",") if n] or google_api_names()
    if args.limit:
        names = names[: args.limit]
    rows: list[dict] = []
    t0 = time.perf_counter()
    print(
        f"{'api':32} {'tbl':>4} {'ops':>5} {'skip':>5} {'crud':>9} {'tools':>5} {'quar':>4} {'tasks':>5} {'gold':>5} {'empty':>5} {'s':>6}"
    )
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        futs = [pool.submit(one, n, args.rows, args.tasks, args.timeout) for n in names]
        for fut in futs:
            r = fut.result()
            rows.append(r)
            if "error" in r:
                print(f"{r['api']:32} ERROR {r['error']} ({r['seconds']}s)", flush=True)
                continue
            crud = f"{r['crud_done']}/{r['crud_total']}"
            print(
                f"{r['api']:32} {r['tables']:>4} {r['compiled']:>5} {r['skipped']:>5} {crud:>9} "
                f"{r['tools']:>5} {r['quarantined']:>4} {r['tasks']:>5} {r['gold']:>5.0%} "
                f"{r['empty']:>5.0%} {r['seconds']:>6}",
                flush=True,
            )
    if args.json:
        args.json.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    summarize(rows, t0)


def summarize(rows: list[dict], t0: float) -> None:
    """The totals against the issue's targets."""
    built = [r for r in rows if "error" not in r]
    ok = [r for r in rows if passes(r)]
    crud_done = sum(r.get("crud_done", 0) for r in rows)
    crud_total = sum(r.get("crud_total", 0) for r in rows)
    per_api = [r["crud_done"] / r["crud_total"] for r in rows if r.get("crud_total")]
    clean = [r for r in built if r["quarantined"] == 0]
    n = len(rows)
    print()
    print(f"APIs: {n}; built: {len(built)}; errors: {n - len(built)}")
    print(
        f"worlds with >=5 tools, >=10 tasks, gold 100%, empty 0%: {len(ok)} of {n} (target 300 of 338)"
    )
    from synth.generate.openapi.discovery import most_methods  # noqa: PLC0415 - after sys.path

    few = sorted(r["api"] for r in rows if most_methods(r["api"]) < 5)
    print(
        f"ceiling: {n - len(few)} of {n} documents have >= 5 methods in some version (one tool "
        f"per method at most); {len(few)} have fewer: {', '.join(few)}"
    )
    if crud_total:
        print(
            f"CRUD operations -> tools: {crud_done}/{crud_total} = {crud_done / crud_total:.1%} "
            f"(median per API {statistics.median(per_api):.1%}; target >= 80%)"
        )
    if built:
        print(
            f"worlds with 0 quarantined tools: {len(clean)}/{len(built)} = {len(clean) / len(built):.1%} (target >= 90%)"
        )
        print(
            f"operations compiled {sum(r['compiled'] for r in built)}, skipped {sum(r['skipped'] for r in built)}; "
            f"tools {sum(r['tools'] for r in built)}, quarantined {sum(r['quarantined'] for r in built)}, "
            f"tasks {sum(r['tasks'] for r in built)}"
        )
        if all("answer_only" in r for r in built):
            ans = sum(r["answer_only"] for r in built)
            print(
                f"tasks: {sum(r['tasks'] for r in built) - ans} write-chain, {ans} answer-only "
                f"(in {sum(1 for r in built if r['answer_only'])} worlds)"
            )
        reasons: Counter = Counter()
        for r in rows:
            reasons.update(r.get("skip_reasons", {}))
        print("most frequent skip reasons:")
        for why, count in reasons.most_common(8):
            print(f"  {count:6}  {why}")
        failing = Counter(
            "error: " + r["error"].split(":")[0]
            if "error" in r
            else "fewer than 10 tasks"
            if r.get("tasks", 0) < 10
            else "fewer than 5 tools"
            if r.get("tools", 0) < 5
            else "quarantine or pass rate"
            for r in rows
            if not passes(r)
        )
        print("why worlds miss the bar:", dict(sorted(failing.items())))
        secs = [r["seconds"] for r in rows]
        print(
            f"seconds per API: median {statistics.median(secs):.1f}, max {max(secs):.1f}; wall {time.perf_counter() - t0:.0f}s"
        )


if __name__ == "__main__":
    main()
