"""``scaleenv import tau2``: a tau2-bench domain (read from the user's checkout, never
vendored) as a scaleenv world: its database through ``import_world`` with a declared
mapping of tau2's nested ``db.json``, its tools as an ordinary spec (same names, params,
messages, effects: ``synth.importers.tau2_retail``), and its tasks with their splits, each
task's gold final state made by replaying tau2's gold actions in the imported world.

A task whose gold actions do not all succeed here keeps no gold diff and is listed in
``tau2_replay.json`` with the first failing action and its message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from engine.errors import ScaleEnvError
from engine.spec.task import Action, Task, UserProfile, dump_tasks
from engine.spec.validate import load_spec
from engine.world import write_world
from synth.importers import tau2_airline, tau2_retail
from synth.importers.rows import ImportResult, import_world
from synth.importers.sources import rows_from_document
from synth.importers.tau2_doc import payment_methods, table_rows, user_identity

DOMAINS = ("retail", "airline")
REPLAY_FILE = "tau2_replay.json"
SPLITS_FILE = "splits.json"

RETAIL_MAPPING = {
    "tables": {
        "users": {"path": "users.*", "columns": {
            "first_name": "name.first_name", "last_name": "name.last_name",
            **{f: f"address.{f}" for f in ("address1", "address2", "city", "country", "state", "zip")},
        }},
        "payment_methods": {"path": "users.*.payment_methods.*", "columns": {"user_id": "^user_id"}},
        "products": "products.*",
        "variants": {"path": "products.*.variants.*", "columns": {"product_id": "^product_id"}},
        "orders": "orders.*",
        "order_items": {"path": "orders.*.items.*", "columns": {"order_id": "^order_id", "position": "#"}},
    }
}  # fmt: skip
_FLIGHT_DATE = {
    f"{c}_{k}": f"{'available_seats' if k == 'seats' else 'prices'}.{c}"
    for c in ("basic_economy", "economy", "business")
    for k in ("seats", "price")
}
AIRLINE_MAPPING = {
    "tables": {
        "flights": "flights.*",
        "flight_dates": {"path": "flights.*.dates.*", "columns": {
            "flight_number": "^flight_number", "date": "@key", **_FLIGHT_DATE}},
        "users": {"path": "users.*", "columns": {
            "first_name": "name.first_name", "last_name": "name.last_name",
            **{f: f"address.{f}" for f in ("address1", "address2", "city", "country", "state", "zip")},
        }},
        "payment_methods": {"path": "users.*.payment_methods.*", "columns": {"user_id": "^user_id"}},
        "saved_passengers": {"path": "users.*.saved_passengers.*", "columns": {
            "user_id": "^user_id", "position": "#"}},
        "reservations": "reservations.*",
        "reservation_flights": {"path": "reservations.*.flights.*", "columns": {
            "reservation_id": "^reservation_id", "position": "#"}},
        "reservation_passengers": {"path": "reservations.*.passengers.*", "columns": {
            "reservation_id": "^reservation_id", "position": "#"}},
    }
}  # fmt: skip
MAPPINGS = {"retail": RETAIL_MAPPING, "airline": AIRLINE_MAPPING}


@dataclass
class Tau2Import:
    """The written world, its tasks and what replaying tau2's gold actions gave."""

    path: Path | None
    imported: ImportResult
    tasks: list[Task]
    replay: dict[str, Any]

    @property
    def summary(self) -> str:
        r = self.replay
        return (
            f"{len(self.tasks)} tasks ({r['replayed']} replayed, {len(r['failed'])} with a "
            f"failing gold action), splits {sorted(r['splits'])}"
        )


def domain_dir(tau2: str | Path, domain: str) -> Path:
    """The folder holding the domain's db.json and tasks.json in a checkout (or itself)."""
    if domain not in DOMAINS:
        raise ScaleEnvError(f"import tau2: domain {domain!r} is not supported (only {DOMAINS})")
    root = Path(tau2)
    for cand in (root / "data" / "tau2" / "domains" / domain, root / domain, root):
        if (cand / "db.json").is_file() and (cand / "tasks.json").is_file():
            return cand
    raise ScaleEnvError(
        f"{root}: no tau2-bench {domain} data (expected data/tau2/domains/{domain}/db.json "
        "and tasks.json; git clone https://github.com/sierra-research/tau2-bench)"
    )


def domain_spec(domain: str) -> dict[str, Any]:
    """A domain's spec as data: its schema file plus its tools."""
    text = resources.files("synth.importers").joinpath(f"tau2_specs/{domain}.yaml").read_text()
    spec = yaml.safe_load(text)
    spec["tools"] = (tau2_airline if domain == "airline" else tau2_retail).tools()
    return spec


def retail_spec() -> dict[str, Any]:
    """The retail spec as data: the schema file plus the tools."""
    return domain_spec("retail")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScaleEnvError(f"{path}: {' '.join(str(exc).split())}") from None


def _splits(folder: Path) -> dict[str, list[str]]:
    path = folder / "split_tasks.json"
    if not path.is_file():
        return {}
    got = _read_json(path)
    if not isinstance(got, dict):
        raise ScaleEnvError(f"{path}: expected {{split: [task ids]}}")
    return {str(k): [str(x) for x in v] for k, v in sorted(got.items())}


def replay_tasks(
    imported: ImportResult, raw_tasks: list[dict[str, Any]], splits: dict[str, list[str]]
) -> tuple[list[Task], dict[str, Any]]:
    """Tasks whose gold diff comes from replaying each task's gold actions from the start."""
    spec = imported.spec
    session = imported.world().session()
    toolset = sorted(spec.active_tools()) + list(spec.builtins)
    split_of: dict[str, list[str]] = {}
    for name, ids in splits.items():
        for i in ids:
            split_of.setdefault(i, []).append(name)
    tasks: list[Task] = []
    failed: list[dict[str, Any]] = []
    for raw in raw_tasks:
        tid = str(raw.get("id"))
        crit = raw.get("evaluation_criteria") or {}
        actions = [
            Action(tool=a["name"], args=dict(a.get("arguments") or {}))
            for a in crit.get("actions") or []
        ]
        session.reset()
        problem: dict[str, Any] | None = None
        if raw.get("initial_state"):
            problem = {"action": None, "message": "initial_state is not supported"}
        for n, act in enumerate(actions):
            if problem:
                break
            res = session.call(act.tool, act.args)
            if not res.ok:
                problem = {"action": n, "tool": act.tool, "message": res.message}
        diff = [] if problem else session.changes()
        if problem:
            failed.append({"task": tid, **problem})
        scen = (raw.get("user_scenario") or {}).get("instructions") or {}
        if isinstance(scen, str):
            scen = {"reason_for_call": scen}
        tasks.append(
            Task(
                id=f"tau2-{spec.name}-{tid}",
                domain=spec.name,
                instruction=str(scen.get("reason_for_call") or ""),
                user=UserProfile(
                    name=str(scen.get("known_info") or "customer"),
                    known={k: scen[k] for k in ("known_info", "unknown_info") if scen.get(k)},
                    persona=str(scen.get("task_instructions") or ""),
                ),
                toolset=toolset,
                gold_actions=actions,
                gold_diff=diff,
                required_answers=[str(x) for x in crit.get("communicate_info") or []],
                meta={
                    "source": "tau2-bench",
                    "tau2_id": tid,
                    "splits": split_of.get(tid, []),
                    "reward_basis": crit.get("reward_basis"),
                    "nl_assertions": crit.get("nl_assertions"),
                    "replayed": problem is None,
                },
            )
        )
    session.close()
    report = {
        "tasks": len(tasks),
        "replayed": len(tasks) - len(failed),
        "failed": failed,
        "splits": {k: len(v) for k, v in splits.items()},
    }
    return tasks, report


def import_tau2(
    tau2: str | Path,
    domain: str = "retail",
    out: str | Path | None = None,
    *,
    proctest: bool = True,
) -> Tau2Import:
    """Import a tau2-bench domain from a checkout; write the world to ``out`` when given."""
    folder = domain_dir(tau2, domain)
    doc = _read_json(folder / "db.json")
    raw_tasks = _read_json(folder / "tasks.json")
    if not isinstance(raw_tasks, list):
        raise ScaleEnvError(f"{folder / 'tasks.json'}: expected a list of tasks")

    spec = load_spec(domain_spec(domain))
    rows = rows_from_document(spec, doc, MAPPINGS[domain], where=str(folder / "db.json"))
    imported = import_world(spec, rows, None, proctest=proctest)
    splits = _splits(folder)
    tasks, report = replay_tasks(imported, raw_tasks, splits)
    files = dict(imported.files)
    files["tasks.jsonl"] = dump_tasks(tasks).encode()
    ids = {t.meta["tau2_id"]: t.id for t in tasks}
    named = {k: [ids[i] for i in v if i in ids] for k, v in splits.items()}
    files[SPLITS_FILE] = (json.dumps(named, indent=1, sort_keys=True) + "\n").encode()
    files[REPLAY_FILE] = (json.dumps(report, indent=1, sort_keys=True) + "\n").encode()
    meta = {**imported.meta, "tau2": {"domain": domain, "tasks": len(tasks)}}
    path = write_world(out, files, meta) if out is not None else None
    return Tau2Import(path, imported, tasks, report)


_ORDER_OPTIONAL = (
    "cancel_reason", "exchange_items", "exchange_new_items", "exchange_payment_method_id",
    "exchange_price_difference", "return_items", "return_payment_method_id",
)  # fmt: skip


_RETAIL_PAYMENT_FIELDS = {"credit_card": ("brand", "last_four"), "gift_card": ("balance",)}


def to_tau2_document(db_bytes: bytes) -> dict[str, Any]:
    """A retail world's database as tau2's ``db.json`` document (``RetailDB.model_dump``):
    the inverse of ``RETAIL_MAPPING``, absent optional order fields as None."""

    tables = ("users", "payment_methods", "products", "variants", "orders", "order_items")
    rows = table_rows(db_bytes, tables)
    pms = payment_methods(rows["payment_methods"], lambda s: _RETAIL_PAYMENT_FIELDS.get(s, ()))
    variants: dict[str, dict[str, Any]] = {}
    for v in rows["variants"]:
        variants.setdefault(v["product_id"], {})[v["item_id"]] = {
            "item_id": v["item_id"],
            "options": json.loads(v["options"]),
            "available": bool(v["available"]),
            "price": v["price"],
        }
    users = {
        u["user_id"]: {
            **user_identity(u),
            "payment_methods": pms.get(u["user_id"], {}),
            "orders": json.loads(u["orders"]),
        }
        for u in rows["users"]
    }
    products = {
        p["product_id"]: {
            "name": p["name"],
            "product_id": p["product_id"],
            "variants": variants.get(p["product_id"], {}),
        }
        for p in rows["products"]
    }
    items: dict[str, list[dict[str, Any]]] = {}
    for i in sorted(rows["order_items"], key=lambda r: (r["order_id"], r["position"])):
        items.setdefault(i["order_id"], []).append(
            {k: i[k] for k in ("name", "product_id", "item_id", "price")}
            | {"options": json.loads(i["options"])}
        )
    orders = {}
    for o in rows["orders"]:
        doc = {k: o[k] for k in ("order_id", "user_id", "status")}
        for k in ("address", "fulfillments", "payment_history"):
            doc[k] = json.loads(o[k])
        doc["items"] = items.get(o["order_id"], [])
        for k in _ORDER_OPTIONAL:
            v = o[k]
            doc[k] = json.loads(v) if k.endswith("_items") and v is not None else v
        orders[o["order_id"]] = doc
    return {"products": products, "users": users, "orders": orders}


def same_document(a: Any, b: Any, tol: float = 1e-6) -> bool:
    """Structural equality, numbers within ``tol`` (tau2 keeps unrounded float sums such
    as 2.1500000000000004 where SQLite's JSON writes 2.15)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_document(a[k], b[k], tol) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_document(x, y, tol) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float):
        if isinstance(a, bool) or isinstance(b, bool):
            return a is b
        return abs(a - b) <= tol
    return a == b
