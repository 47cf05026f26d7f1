"""Whether a precondition can fire at all: "hard to reach" or "never fires".

When no case reached a state where a precondition fires, ``falsifiable`` runs its check
alone with free bind values, then with one column of a row it reads set to another value
of its declared domain, or the row removed (a key has no other value). Only a check true
for all of these (a tautology, like ``status IN`` every member of the enum) never fires.
"""

from __future__ import annotations

import json
import random
import sqlite3
from typing import Any

from engine.db import q
from engine.runtime.call import truthy
from engine.spec.sql import parse_one_statement, result_lineage, tables_read
from synth.proctest.addressing import read_columns
from synth.proctest.casegen import Sampler
from synth.proctest.casestate import column_values, param_values, rows_near
from synth.proctest.oracles import Oracle


def falsifiable(
    oracle: Oracle, sampler: Sampler, name: str, k: int, calls: list[dict[str, Any]],
    rng: random.Random, tries: int = 2000,
) -> dict[str, Any] | None:  # fmt: skip
    """Bind values for which precondition ``k``'s check, run on its own over the current
    rows, returns a row whose first column is false (None if no such values were found).

    Binds are free here: params, lets and generated ids each take values seen in the
    search, values of their lineage columns, or extremes (arrays: JSON lists of those).
    Failing that, one column of a row the check reads takes other values of its declared
    domain (``_false_by_column``). A check never false either way is a tautology: the
    precondition never fires.
    """
    tool = oracle.spec.tools[name]
    seen: list[dict[str, Any]] = []
    for args in calls[:12]:
        try:
            seen.append(oracle.binds(name, args))
        except Exception:  # noqa: BLE001 - a call whose binds fail adds no candidates
            continue
    names = [*tool.params, *tool.generate, *tool.let, "now"]
    extremes = [0, 1, -1, 10**6, -(10**6), "", "zz-none", None, oracle.spec.now]
    refs = {n: [r for r, _ in sampler.lineage(name).get(n, [])[:2]] for n in tool.params}
    for n, sql in tool.let.items():  # a let's lineage: the column its query selects
        lin = list(result_lineage(sql, oracle.spec).values())[:1]
        refs[n] = lin
    cands: dict[str, list[Any]] = {}
    for n in names:
        vals = [b[n] for b in seen if n in b]
        items: list[Any] = []
        for ref in refs.get(n, []):
            t, col = ref.split(".")
            pool = sampler.pool(t, col)
            items += [v for _, v in rng.sample(pool, min(30, len(pool)))]
            items += [rng.choice(group)[1] for group in sampler.strata(t, col)]  # every kind
        if n in tool.params and tool.params[n].type == "array":  # bound as JSON text
            pairs = zip(items, [*items[1:], *items[:1]], strict=True)
            vals += [json.dumps(x) for v, w in pairs for x in ([v], [v, v], [v, w])]
            vals += ["[]", None]
        else:
            vals += items
            kinds = {_kind(v) for v in vals if v is not None}
            vals += [x for x in extremes if x is None or not kinds or _kind(x) in kinds]
        cands[n] = list(dict.fromkeys(json.dumps(v) for v in vals))
    check = tool.preconditions[k].check
    for _ in range(tries):
        base = rng.choice(seen) if seen else {}
        binds = {
            n: base[n] if n in base and rng.random() < 0.3 else json.loads(rng.choice(cands[n]))
            for n in names
        }
        try:
            row = oracle.s.conn.execute(check, binds).fetchone()
        except Exception:  # noqa: BLE001 - values of the wrong kind for this SQL
            continue
        if row is not None and not truthy(row[0]):
            return {n: binds[n] for n in names if n != "now"}
    earlier = [p.check for p in tool.preconditions[:k]]
    return _false_by_column(oracle, sampler, check, seen[:4], names, earlier)


def _false_by_column(
    oracle: Oracle,
    sampler: Sampler,
    check: str,
    seen: list[dict[str, Any]],
    names: list[str],
    earlier: list[str] = (),  # type: ignore[assignment]
) -> dict[str, Any] | None:
    """Binds of a searched call and one column of a row the check reads set to another
    value of its declared domain, for which the check is false (None: a tautology over the
    declared domains). Such a state may take several coupled changes (an account emptied,
    its cards blocked and then closed), more than ``construct_state`` makes."""
    conn, spec = oracle.s.conn, oracle.spec
    cols = read_columns(spec, [check])
    try:
        tables = set(tables_read(parse_one_statement(check)))
    except ValueError:
        return None
    for binds in seen:
        vals = param_values(binds, names)
        for table, rid in rows_near(oracle, sampler, vals, tables):
            ent = spec.entities[table]
            row = conn.execute(f"SELECT * FROM {q(table)} WHERE rowid = ?", (rid,)).fetchone()
            cur = dict(zip(ent.columns, row, strict=False))
            tries: list[tuple[str, tuple, str, Any]] = []
            for cname in ent.columns:
                if not {(table, cname), (None, cname)} & cols:
                    continue
                for val in column_values(oracle, table, cname, cur[cname], vals):
                    sql = f"UPDATE {q(table)} SET {q(cname)} = ? WHERE rowid = ?"
                    tries.append((sql, (val, rid), f"{table}.{cname}", val))
                if ent.columns[cname].primary_key:  # a key has no other value: no such row
                    sql = f"DELETE FROM {q(table)} WHERE rowid = ?"
                    tries.append((sql, (rid,), f"{table} row", "absent"))
            for sql, params, label, val in tries:
                if _false_after(conn, sql, params, check, binds, earlier):
                    shown = {n: binds[n] for n in names if n != "now" and n in binds}
                    return {**shown, label: val}
    return None


def _false_after(
    conn: sqlite3.Connection, sql: str, params: tuple, check: str, binds: dict[str, Any],
    earlier: list[str],
) -> bool:  # fmt: skip
    """Whether ``check`` fails (no row, or a false first column: the runtime's rule) after
    the one-row change ``sql`` while the ``earlier`` preconditions still pass (else they
    would fire first); undone after. Foreign keys are deferred (never committed), so a row
    can be gone without its children."""
    conn.execute("SAVEPOINT scaleenv_probe")
    try:
        conn.execute("PRAGMA defer_foreign_keys = ON")
        conn.execute(sql, params)
        got = conn.execute(check, binds).fetchone()
        for pre in earlier:
            row = conn.execute(pre, binds).fetchone()
            if row is None or not truthy(row[0]):
                return False
    except sqlite3.Error:
        return False
    finally:
        conn.execute("ROLLBACK TO scaleenv_probe")
        conn.execute("RELEASE scaleenv_probe")
        conn.execute("PRAGMA defer_foreign_keys = OFF")
    return got is None or not truthy(got[0])


def _kind(v: Any) -> str:
    return "number" if isinstance(v, int | float) and not isinstance(v, bool) else type(v).__name__
