"""A tau2-bench domain imported by ``scaleenv import tau2``, next to tau2's own runtime.

Run: ``python benchmarks/bench_tau2.py --tau2 CHECKOUT --tau2-python PY [--domain airline]``
where CHECKOUT is a tau2-bench clone and PY a Python with tau2's dependencies (``pip install
pydantic toml loguru addict deepdiff python-dotenv docstring-parser``); without them it runs
on fixtures/tau2_mini (fixtures/tau2_mini_airline) and prints our side only. With
``--tau2-code CHECKOUT`` the data comes from ``--tau2`` (a fixture folder) and tau2's code
from the checkout: ``--domain airline --tau2 fixtures/tau2_mini_airline --tau2-code
CHECKOUT`` runs tau2's airline runtime on the fixture. Ours: ``engine.Session`` on the imported world
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

from synth.importers.tau2 import (  # noqa: E402
    domain_dir,
    import_tau2,
    same_document,
    to_tau2_document,
)
from synth.importers.tau2_airline_doc import to_airline_document  # noqa: E402

FIXTURES = {
    "retail": ROOT / "fixtures" / "tau2_mini",
    "airline": ROOT / "fixtures" / "tau2_mini_airline",
}
DOCUMENT = {"retail": to_tau2_document, "airline": to_airline_document}


def _ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def ours(tau2: Path, repeat: int, domain: str = "retail") -> tuple[dict, dict]:
    t0 = time.perf_counter()
    res = import_tau2(tau2, domain, None, proctest=False)
    took = time.perf_counter() - t0
    s = res.imported.world().session()
    resets, evals, finals, outputs = [], [], {}, {}
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
            outs = [s.call(act.tool, act.args).result for act in task.gold_actions]
            t = time.perf_counter()
            score = s.evaluate(task, messages=task.required_answers)
            evals.append(time.perf_counter() - t)
            assert score.reward == 1.0, task.id
        finals[task.meta["tau2_id"]] = DOCUMENT[domain](s.export_bytes())
        outputs[task.meta["tau2_id"]] = outs
    stats = {"import_s": took, "tasks": len(res.tasks), "replayed": res.replay["replayed"]}
    stats |= {"reset_ms": _ms(resets), "evaluate_ms": _ms(evals), "outputs": outputs}
    return stats, finals


def theirs(tau2: Path, python: str, domain: str = "retail", code: Path | None = None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "tau2.json"
        script = ROOT / "benchmarks" / "tau2_runtime.py"
        where = [str(code or tau2), str(out), domain]
        if code is not None:
            where.append(str(domain_dir(tau2, domain)))
        subprocess.run([python, str(script), *where], check=True)
        return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--domain", choices=sorted(FIXTURES), default="retail")
    ap.add_argument("--tau2", type=Path, default=None, help="A checkout or a fixture folder.")
    ap.add_argument("--tau2-code", type=Path, default=None, help="A checkout for tau2's code.")
    ap.add_argument("--tau2-python", default=None, help="A Python with tau2's dependencies.")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    tau2 = args.tau2 or FIXTURES[args.domain]
    mine, finals = ours(tau2, args.repeat, args.domain)
    print(f"ours: imported {mine['tasks']} tasks in {mine['import_s']:.1f} s, "
          f"{mine['replayed']} replay; reset {mine['reset_ms']:.3f} ms, "
          f"evaluate {mine['evaluate_ms']:.3f} ms (medians)")  # fmt: skip
    if args.tau2_python is None:
        print("tau2's runtime not run (give --tau2 CHECKOUT --tau2-python PY)")
        return 0
    got = theirs(tau2, args.tau2_python, args.domain, args.tau2_code)
    ok = {k: v for k, v in got["results"].items() if v["ok"]}
    differ = sorted(
        k for k, v in ok.items() if not (k in finals and same_document(finals[k], v["final"]))
    )
    same = len(ok) - len(differ)
    print(
        f"tau2: {len(got['results'])} tasks, gold actions succeed in {len(ok)}; "
        f"our final state equals tau2's in {same}/{len(ok)} ({100 * same / max(1, len(ok)):.1f}%)"
    )
    if differ:
        print(f"final states differ in tasks {differ}")
    calls = [
        (k, i, o, v["outputs"][i])
        for k, v in ok.items()
        if "outputs" in v
        for i, o in enumerate(mine["outputs"].get(k, []))
        if i < len(v["outputs"])
    ]
    odd = [(k, i) for k, i, o, t in calls if not same_document(o, t)]
    print(
        f"tool results equal to tau2's in {len(calls) - len(odd)}/{len(calls)} gold calls"
        + (f" (differ: {odd[:10]})" if odd else "")
    )
    r, e = _ms(got["reset_s"]), _ms(got["evaluate_s"])
    print(f"{'':<10}{'ours ms':>10}{'tau2 ms':>10}{'ratio':>9}")
    print(f"{'reset':<10}{mine['reset_ms']:>10.3f}{r:>10.1f}{r / mine['reset_ms']:>8.0f}x")
    print(f"{'evaluate':<10}{mine['evaluate_ms']:>10.3f}{e:>10.1f}{e / mine['evaluate_ms']:>8.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
