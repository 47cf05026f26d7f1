"""A tau2-bench retail domain imported by ``scaleenv import tau2``, next to tau2's own runtime.

Run: ``python benchmarks/bench_tau2.py --tau2 CHECKOUT --tau2-python PY`` where CHECKOUT is
a tau2-bench clone and PY a Python with tau2's dependencies (``pip install pydantic toml
loguru addict deepdiff python-dotenv docstring-parser``); without them it runs on
fixtures/tau2_mini and prints our side only. Ours: ``engine.Session`` on the imported world
(reset to the task's start, evaluation = diff of the final state against the gold diff).
Theirs (``tau2_runtime.py``): reset = ``RetailDB.load(db.json)``, evaluation = replay the
gold actions on a fresh copy and compare database hashes. Also counts the tasks whose final
state after our replay equals tau2's (numbers within 1e-6), over the tasks whose gold actions
succeed in tau2 itself. Times are medians in milliseconds; ratio = theirs / ours.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from synth.importers.tau2 import import_tau2, same_document, to_tau2_document  # noqa: E402


def _ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def ours(tau2: Path, repeat: int) -> tuple[dict, dict]:
    t0 = time.perf_counter()
    res = import_tau2(tau2, "retail", None, proctest=False)
    took = time.perf_counter() - t0
    s = res.imported.world().session()
    resets, evals, finals = [], [], {}
    for task in res.tasks:
        if not task.meta["replayed"]:
            continue
        for _ in range(repeat):
            s.reset()
            for act in task.gold_actions:
                s.call(act.tool, act.args)
            t = time.perf_counter()
            s.reset(task)
            resets.append(time.perf_counter() - t)
            for act in task.gold_actions:
                s.call(act.tool, act.args)
            t = time.perf_counter()
            score = s.evaluate(task, messages=task.required_answers)
            evals.append(time.perf_counter() - t)
            assert score.reward == 1.0, task.id
        finals[task.meta["tau2_id"]] = to_tau2_document(s.export_bytes())
    stats = {"import_s": took, "tasks": len(res.tasks), "replayed": res.replay["replayed"]}
    stats |= {"reset_ms": _ms(resets), "evaluate_ms": _ms(evals)}
    return stats, finals


def theirs(tau2: Path, python: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "tau2.json"
        script = ROOT / "benchmarks" / "tau2_runtime.py"
        subprocess.run([python, str(script), str(tau2), str(out)], check=True)
        return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tau2", type=Path, default=ROOT / "fixtures" / "tau2_mini")
    ap.add_argument("--tau2-python", default=None, help="A Python with tau2's dependencies.")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    mine, finals = ours(args.tau2, args.repeat)
    print(f"ours: imported {mine['tasks']} tasks in {mine['import_s']:.1f} s, "
          f"{mine['replayed']} replay; reset {mine['reset_ms']:.3f} ms, "
          f"evaluate {mine['evaluate_ms']:.3f} ms (medians)")  # fmt: skip
    if args.tau2_python is None:
        print("tau2's runtime not run (give --tau2 CHECKOUT --tau2-python PY)")
        return 0
    got = theirs(args.tau2, args.tau2_python)
    ok = {k: v for k, v in got["results"].items() if v["ok"]}
    same = sum(k in finals and same_document(finals[k], v["final"]) for k, v in ok.items())
    print(
        f"tau2: {len(got['results'])} tasks, gold actions succeed in {len(ok)}; "
        f"our final state equals tau2's in {same}/{len(ok)} ({100 * same / max(1, len(ok)):.1f}%)"
    )
    r, e = _ms(got["reset_s"]), _ms(got["evaluate_s"])
    print(f"{'':<10}{'ours ms':>10}{'tau2 ms':>10}{'ratio':>9}")
    print(f"{'reset':<10}{mine['reset_ms']:>10.3f}{r:>10.1f}{r / mine['reset_ms']:>8.0f}x")
    print(f"{'evaluate':<10}{mine['evaluate_ms']:>10.3f}{e:>10.1f}{e / mine['evaluate_ms']:>8.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
