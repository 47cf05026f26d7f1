"""Peak memory of ``tasks gen`` against the number of tasks (issue 21: memory flat in the
number of tasks).

Run: ``python benchmarks/bench_tasks_memory.py`` (retail at 10k rows, 100/300/1,000 tasks;
about four minutes on 2 cores; ``--world DIR`` reuses a built world, ``--n 100 300``).
Each generation runs in its own child process, so ``ru_maxrss`` is that generation's peak
(interpreter, imports and the loaded world included). Per N it prints the peak as the code
is (bounded memos: ``engine.runtime.lru``; generation inside ``Shared.scratch``) next to the
old figure (the same generation with the memos as before: 1,024 start patches and 4,096
digests per world, now kept least recently used rather than all cleared at that size, the
sampler's base-state lookups unbounded, its screen memo cleared at 20,000 entries), the output
itself (the tasks as JSONL, and as the Python objects the generator returns) and the CPU
seconds. The last lines give the growth per 100 tasks between the smallest and the
largest N: peak, and the output's share of it. Memory figures only; the CPU seconds are
for orientation (a shared machine). Every child imports the code afresh: in a tree others
edit, run it from a copy (``git archive HEAD``) or the rows mix versions.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class _OldMemo(dict):
    """The screen memo as before: cleared only past 20,000 entries, not per state."""

    def clear(self) -> None:
        if len(self) > 20000:
            super().clear()


def _old_memos() -> None:
    """Set the memos' bounds back to the old ones (in this child process only)."""
    import engine.runtime.shared as shared  # lazy: the child process only
    import synth.tasks.context as context  # lazy: the child process only

    shared.PATCHES, shared.DIGESTS = 1024, 4096
    shared.SCRATCH_PATCHES, shared.SCRATCH_DIGESTS = 1024, 4096  # no smaller scratch caches
    context.LINKS = context.OWNERS = 10**9
    init = context.Ctx.__init__

    def old_init(self: Any, *args: Any, **kw: Any) -> None:
        init(self, *args, **kw)
        self.memo = _OldMemo()

    context.Ctx.__init__ = old_init  # type: ignore[method-assign]


def _deep_mb(obj: object) -> float:
    """Bytes of ``obj`` and everything it reaches (types, modules and functions left out)."""
    seen: set[int] = set()
    skip = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType)
    total, stack = 0, [obj]
    while stack:
        x = stack.pop()
        if id(x) in seen or isinstance(x, skip):
            continue
        seen.add(id(x))
        total += sys.getsizeof(x)
        stack.extend(gc.get_referents(x))
    return total / 2**20


def one(world_dir: str, n: int, old: bool) -> dict[str, Any]:
    """One generation of ``n`` tasks in this (child) process; ``old``: the old memos."""
    from engine.world import World  # lazy: the child process only
    from synth.tasks import generate_tasks  # lazy: the child process only

    if old:
        _old_memos()
    world = World.load(world_dir)
    cpu = time.process_time()
    made = generate_tasks(world, n=n, seed=0)
    cpu = time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the measuring
    return {
        "tasks": len(made.tasks),
        "peak_mb": peak,
        "jsonl_mb": len(made.to_jsonl().encode()) / 2**20,
        "objects_mb": _deep_mb(made.tasks),
        "cpu_s": cpu,
    }


def child(world_dir: Path, n: int, old: bool) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", str(world_dir), str(n), "old" if old else "new"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def _build(domain: str, rows: int, out: Path) -> Path:
    from synth.build import build_world  # lazy: the parent builds the world once

    build_world(domain, rows=rows, seed=0, out=out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--domain", default="retail")
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--n", nargs="+", type=int, default=[100, 300, 1000])
    ap.add_argument("--world", type=Path, help="a built world to use (else one is built)")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        world_dir, n, which = args.child
        print(json.dumps(one(world_dir, int(n), which == "old")))
        return
    with tempfile.TemporaryDirectory(prefix="bench-tasks-memory-") as tmp:
        world = args.world or _build(args.domain, args.rows, Path(tmp) / "world")
        print(f"{args.domain} {args.rows:,} rows ({world})")
        print(
            f"{'tasks':>6} {'peak MB':>8} {'old MB':>7} {'jsonl MB':>9} {'objs MB':>8} "
            f"{'cpu s':>6} {'old cpu':>7}"
        )
        rows: list[tuple[int, dict[str, Any], dict[str, Any]]] = []
        for n in sorted(args.n):
            new, old = child(world, n, False), child(world, n, True)
            rows.append((n, new, old))
            print(
                f"{new['tasks']:>6} {new['peak_mb']:>8.1f} {old['peak_mb']:>7.1f} "
                f"{new['jsonl_mb']:>9.2f} {new['objects_mb']:>8.2f} "
                f"{new['cpu_s']:>6.1f} {old['cpu_s']:>7.1f}",
                flush=True,
            )
    if len(rows) > 1:
        (n0, a, a_old), (n1, b, b_old) = rows[0], rows[-1]
        per = 100 / (b["tasks"] - a["tasks"])
        print(
            f"per 100 tasks ({n0} -> {n1}): peak +{(b['peak_mb'] - a['peak_mb']) * per:.1f} MB "
            f"(old +{(b_old['peak_mb'] - a_old['peak_mb']) * per:.1f} MB); the output itself "
            f"+{(b['jsonl_mb'] - a['jsonl_mb']) * per:.2f} MB as JSONL, "
            f"+{(b['objects_mb'] - a['objects_mb']) * per:.2f} MB as objects"
        )


if __name__ == "__main__":
    main()
