"""tau2-bench's own runtime on its retail tasks, run with a Python that has tau2's
dependencies (pydantic, toml, loguru, addict, deepdiff, python-dotenv, docstring-parser)
and the checkout's ``src`` (imported without ``tau2/__init__``, which pulls in the LLM
runner). Used by ``bench_tau2.py`` as a subprocess; it imports nothing from scaleenv.

    python benchmarks/tau2_runtime.py TAU2_CHECKOUT OUT.json [retail|airline [DATA_DIR]]

DATA_DIR (default: the checkout's data/tau2/domains/DOMAIN) holds db.json and tasks.json,
e.g. fixtures/tau2_mini_airline with the code of a checkout.

For every task: whether all gold actions succeed, the final database (``model_dump``),
and the times tau2 spends on a reset (``RetailDB.load``) and on an evaluation (replaying
the gold actions on a fresh copy, hashing both databases).
"""

from __future__ import annotations

import json
import sys
import time
import types
from pathlib import Path


def _plain(value: object) -> object:
    """A tool's return value as JSON data (pydantic models dumped, lists and tuples walked)."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")  # type: ignore[attr-defined]
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def main(checkout: str, out: str, domain: str = "retail", data: str | None = None) -> None:
    root = Path(checkout)
    pkg = types.ModuleType("tau2")
    pkg.__path__ = [str(root / "src" / "tau2")]  # type: ignore[attr-defined]
    sys.modules["tau2"] = pkg
    if domain == "airline":
        from tau2.domains.airline.data_model import FlightDB as RetailDB
        from tau2.domains.airline.tools import AirlineTools as RetailTools
    else:
        from tau2.domains.retail.data_model import RetailDB
        from tau2.domains.retail.tools import RetailTools

    folder = Path(data) if data else root / "data" / "tau2" / "domains" / domain
    db_path = str(folder / "db.json")
    tasks = json.loads((folder / "tasks.json").read_text())
    results = {}
    resets, evals = [], []
    for task in tasks:
        actions = (task.get("evaluation_criteria") or {}).get("actions") or []
        t0 = time.perf_counter()
        db = RetailDB.load(db_path)
        resets.append(time.perf_counter() - t0)
        tools = RetailTools(db)
        ok, error, outputs = True, None, []
        for a in actions:
            try:
                outputs.append(_plain(tools.use_tool(a["name"], **(a.get("arguments") or {}))))
            except Exception as exc:  # noqa: BLE001 - tau2 raises ValueError; keep any
                ok, error = False, f"{a['name']}: {exc}"
                break
        final = db.model_dump(mode="json")
        # an evaluation as tau2 does it: fresh copy, replay the gold actions, compare hashes
        t0 = time.perf_counter()
        gold = RetailTools(RetailDB.load(db_path))
        for a in actions:
            try:
                gold.use_tool(a["name"], **(a.get("arguments") or {}))
            except Exception:  # noqa: BLE001
                break
        same = gold.get_db_hash() == tools.get_db_hash()
        evals.append(time.perf_counter() - t0)
        results[str(task["id"])] = {
            "ok": ok, "error": error, "final": final, "same": same, "outputs": outputs
        }  # fmt: skip
    Path(out).write_text(
        json.dumps({"results": results, "reset_s": resets, "evaluate_s": evals}, sort_keys=True)
    )


if __name__ == "__main__":
    main(*sys.argv[1:5])
