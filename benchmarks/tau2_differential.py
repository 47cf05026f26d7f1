"""Differential test of an imported tau2-bench domain against tau2's own tools: random call
sequences (drawn by procedural testing's sampler from the live rows: valid-typed, mostly
coherent, many refused) run in both, comparing every result or refusal message and the
final database of each sequence.

    python benchmarks/tau2_differential.py --tau2-code CHECKOUT --tau2-python PY \\
        [--domain airline] [--data fixtures/tau2_mini_airline] [--sequences 200]

``--theirs CALLS OUT`` is the tau2 side, run by PY (a Python with tau2's dependencies); it
imports nothing from scaleenv. Tool results are compared as JSON (numbers within 1e-6),
refusals by their message.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import types
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def theirs(code: str, domain: str, data: str, calls_path: str, out: str) -> None:
    pkg = types.ModuleType("tau2")
    pkg.__path__ = [str(Path(code) / "src" / "tau2")]  # type: ignore[attr-defined]
    sys.modules["tau2"] = pkg
    if domain == "airline":
        from tau2.domains.airline.data_model import FlightDB as DB
        from tau2.domains.airline.tools import AirlineTools as Tools
    else:
        from tau2.domains.retail.data_model import RetailDB as DB
        from tau2.domains.retail.tools import RetailTools as Tools
    from tau2_runtime import _plain  # the same dump as the gold-action comparison

    got = []
    for seq in json.loads(Path(calls_path).read_text()):
        tools = Tools(DB.load(str(Path(data) / "db.json")))
        res = []
        for name, args in seq:
            try:
                res.append({"ok": True, "result": _plain(tools.use_tool(name, **args))})
            except Exception as exc:  # noqa: BLE001 - tau2 raises ValueError (and others)
                res.append({"ok": False, "message": str(exc), "kind": type(exc).__name__})
        got.append({"calls": res, "final": tools.db.model_dump(mode="json")})
    Path(out).write_text(json.dumps(got))


def ours(domain: str, data: Path, sequences: int, length: int, seed: int) -> tuple[list, list]:
    sys.path.insert(0, str(ROOT))
    from synth.importers.tau2 import import_tau2, to_tau2_document
    from synth.importers.tau2_airline_doc import to_airline_document
    from synth.proctest.casegen import Sampler

    doc = to_airline_document if domain == "airline" else to_tau2_document
    res = import_tau2(data, domain, None, proctest=False)
    s = res.imported.world().session()
    names = sorted(res.imported.spec.tools)
    writes = [n for n in names if res.imported.spec.tools[n].effects]
    rng = random.Random(seed)
    seqs, got = [], []
    for _ in range(sequences):
        s.reset()
        sampler = Sampler(s)
        seq, out = [], []
        for _ in range(length):
            name = rng.choice(writes if rng.random() < 0.7 else names)
            args = sampler.valid_args(name, rng)
            r = s.call(name, args)
            total = re.search(r"total price is (-?\d+), but paid", r.message or "")
            if total and args.get("payment_methods"):  # once more, paying the price it said
                seq.append([name, args])
                out.append({"ok": False, "message": r.message})
                pays = args["payment_methods"]
                rest = sum(p["amount"] for p in pays[1:])
                args = {
                    **args,
                    "payment_methods": [{**pays[0], "amount": int(total[1]) - rest}, *pays[1:]],
                }
                r = s.call(name, args)
            if r.error_type == "invalid_arguments":
                continue  # a type tau2 would take differently: not a comparison
            sampler.invalidate()
            seq.append([name, args])
            out.append(
                {"ok": r.ok, "result": r.result} if r.ok else {"ok": False, "message": r.message}
            )
        seqs.append(seq)
        got.append({"calls": out, "final": doc(s.export_bytes())})
    return seqs, got


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--domain", default="airline")
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--tau2-code", type=Path)
    ap.add_argument("--tau2-python")
    ap.add_argument("--sequences", type=int, default=200)
    ap.add_argument("--length", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--theirs", nargs=2, metavar=("CALLS", "OUT"))
    args = ap.parse_args(argv)
    data = args.data or ROOT / "fixtures" / (
        "tau2_mini_airline" if args.domain == "airline" else "tau2_mini"
    )
    if args.theirs:
        theirs(str(args.tau2_code), args.domain, str(data), *args.theirs)
        return 0
    from synth.importers.tau2 import same_document  # noqa: PLC0415 - after sys.path

    seqs, mine = ours(args.domain, data, args.sequences, args.length, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        calls, out = Path(tmp) / "calls.json", Path(tmp) / "out.json"
        calls.write_text(json.dumps(seqs))
        cmd = [args.tau2_python, __file__, "--domain", args.domain, "--data", str(data),
               "--tau2-code", str(args.tau2_code), "--theirs", str(calls), str(out)]  # fmt: skip
        subprocess.run(cmd, check=True, cwd=ROOT / "benchmarks", stderr=subprocess.DEVNULL)
        them = json.loads(out.read_text())
    n = same = 0
    kinds: Counter[str] = Counter()
    odd = []
    for i, (a, b) in enumerate(zip(mine, them, strict=True)):
        for j, (x, y) in enumerate(zip(a["calls"], b["calls"], strict=True)):
            n += 1
            name = seqs[i][j][0]
            kinds[f"{name} {'ok' if x['ok'] else 'refused'}"] += 1
            if x["ok"] == y["ok"] and (
                same_document(x.get("result"), y.get("result"))
                if x["ok"]
                else x["message"] == y["message"]
            ):
                same += 1
            else:
                odd.append((i, j, name, x.get("message") or "ok", y.get("message") or "ok"))
    finals = sum(same_document(a["final"], b["final"]) for a, b in zip(mine, them, strict=True))
    print(f"{len(seqs)} sequences, {n} calls: results/messages equal in {same}/{n}; "
          f"final databases equal in {finals}/{len(seqs)}")  # fmt: skip
    shapes = {
        re.sub(r"\S*\d\S*", "N", x["message"]) for a in mine for x in a["calls"] if not x["ok"]
    }
    print(f"  {len(shapes)} distinct refusal messages (ids and numbers as N): {sorted(shapes)}")
    for k, v in sorted(kinds.items()):
        print(f"  {k}: {v}")
    for row in odd[:15]:
        print("  differs:", row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
