"""Issue 19 figures: N tasks (default 200) per domain, re-checked by the independent auditor.

    python benchmarks/task_audit_figures.py [--n 200] [--seed 0] [domain ...]

Per domain: tasks shipped, gold / empty pass rates, write-tool coverage and the reason for
every uncovered write tool, candidates the auditor rejected during generation, and the
auditor's re-count on the shipped set (gold actions on another user's rows, refusals allowed
for the user, ambiguous descriptions, ungrounded arguments). Kept out of the test suite.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter

from synth.audit import Auditor
from synth.build import build_world
from synth.resources import resolve_spec
from synth.tasks import generate_tasks


def measure(domain: str, n: int, seed: int) -> dict:
    t0 = time.perf_counter()
    world = build_world(resolve_spec(domain), seed=1).world()
    ts = generate_tasks(world, n, seed=seed)
    aud = Auditor(world)
    found: Counter = Counter()
    for t in ts.tasks:
        for p in aud.audit(t):
            if p.startswith("ownership: gold"):
                found["gold_actions_on_other_users_rows"] += 1
            elif "is allowed for this user" in p:
                found["refusals_allowed_for_user"] += 1
            elif p.startswith("unique"):
                found["ambiguous_descriptions"] += 1
            else:
                found[p.split(":", 1)[0]] += 1
    aud.close()
    rep = ts.report
    return {
        "domain": domain,
        "tasks": len(ts.tasks),
        "refusals": sum(1 for t in ts.tasks for g in t.subgoals if g["kind"] == "refusal"),
        "mentions": sum(len(t.meta.get("mentions", [])) for t in ts.tasks),
        "gold": rep["policies"]["gold"],
        "empty": rep["policies"]["empty"],
        "write_coverage": rep["write_coverage"],
        "not_covered": {k: v for k, v in rep["explain"].items() if not v.startswith("covered")},
        "audit_rejected_during_generation": rep["audit"]["rejected"],
        "audit_recount_on_shipped": {
            k: found.get(k, 0)
            for k in (
                "gold_actions_on_other_users_rows",
                "refusals_allowed_for_user",
                "ambiguous_descriptions",
                "grounding",
                "outcome",
                "audience",
                "user",
            )
        },
        "seconds": round(time.perf_counter() - t0, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("domains", nargs="*", default=["car_rental", "vet_clinic"])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    for d in a.domains:
        print(json.dumps(measure(d, a.n, a.seed), sort_keys=True))


if __name__ == "__main__":
    main()
