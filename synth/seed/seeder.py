"""Seed a world's empty schema with rows that honour every constraint of the spec.

Tables are filled parents first. Each column is drawn as a whole list from its generator
(``synth.seed.columns``) with a ``random.Random`` derived from (seed, table, column), so the same
spec and seed give the same rows and bytes. Foreign keys sample existing parent keys with
skew (some customers have no orders, some many); uniques are built by construction,
composite uniques by bounded redraws; a row that a CHECK rejects is redrawn row by row a
bounded number of times. Then ``sql`` fills derive values, invariants are checked and
repaired, and ``PRAGMA foreign_key_check`` must come back empty. Nothing is left violated
silently: failure is a ``SeedError`` naming the table, column or invariant.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import time
from itertools import accumulate
from math import log
from operator import itemgetter
from typing import Any

from engine.spec.models import DomainSpec
from synth.seed.checks import constraint_columns
from synth.seed.columns import NULL_FRACTION, ColumnGen, make_generator
from synth.seed.fills import fill_plan, run_fills
from synth.seed.insert import TRIES, Inserter
from synth.seed.plan import plan_counts, table_order
from synth.seed.repair import repair_invariants
from synth.seed.settle import close_rowid_gaps, schema_cookie, set_schema_cookie
from synth.seed.values import SeedError, emails_from_names, make_unique, pool, sub_rng

__all__ = ["SeedCounts", "SeedError", "plan_counts", "seed_database", "table_order"]

logger = logging.getLogger(__name__)


class SeedCounts(dict[str, int]):
    """Rows per table (spec order). ``capped``: tables given fewer rows than asked, and why;
    ``repaired``: rows deleted per invariant to make it hold; ``seconds``: time taken."""

    def __init__(self, counts: dict[str, int], capped: dict[str, str], repaired: dict[str, int]):
        super().__init__(counts)
        self.capped = capped
        self.repaired = repaired
        self.seconds = 0.0


class _Seeder:
    def __init__(self, spec: DomainSpec, conn: sqlite3.Connection, seed: int) -> None:
        self.spec, self.conn, self.seed = spec, conn, seed
        self.keys: dict[tuple[str, str], list[Any]] = {}  # final values of referenced columns
        self.fk_cum: dict[tuple[str, str], list[float]] = {}
        self.capped: dict[str, str] = {}
        self.order, self.deferred = table_order(spec)
        self.referenced = {
            tuple(c.references.split("."))
            for e in spec.entities.values()
            for c in e.columns.values()
            if c.references
        }
        self.inserter = Inserter(conn, spec, seed, constraint_columns(spec))
        self.tool_ids = {
            (g.table, g.column) for t in spec.tools.values() for g in t.generate.values()
        }

    # ---- planning ------------------------------------------------------------------------
    def _parent_count(self, ref: str) -> int:
        return len(self.keys.get(tuple(ref.split(".")), []))  # type: ignore[arg-type]

    def _cap(self, table: str, n: int, gens: dict[str, ColumnGen]) -> int:
        entity = self.spec.entities[table]
        limits: list[tuple[int, str]] = []
        for cname, col in entity.columns.items():
            ref = col.references
            if ref and ref.split(".")[0] != table and (table, cname) not in self.deferred:
                parents = self._parent_count(ref)
                if parents == 0 and not col.nullable:
                    limits.append((0, f"{cname}: no rows in {ref}"))
                elif col.unique or entity.primary_key == [cname]:
                    limits.append(
                        (parents, f"{cname}: unique reference to {parents} rows of {ref}")
                    )
            elif cname in gens and gens[cname].capacity is not None:
                cap = gens[cname].capacity or 0
                if (table, cname) in self.tool_ids:  # leave room for the tools' new ids
                    cap -= max(1, cap // 10)
                limits.append((cap, f"{cname}: only {cap} distinct values"))
        for group in self._groups(table):
            size = 1
            for cname in group:
                col = entity.columns[cname]
                dom = self._parent_count(col.references) if col.references else gens[cname].domain
                if dom is None:
                    break
                size *= dom
            else:
                limits.append((size, f"{'+'.join(group)}: only {size} distinct combinations"))
        for limit, why in sorted(limits, key=lambda x: x[0]):
            if limit < n:
                self.capped[table] = f"{n} rows asked, {limit} possible ({why})"
                logger.info("seed %s: %s", table, self.capped[table])
                return max(0, limit)
        return n

    def _groups(self, table: str) -> list[list[str]]:
        entity = self.spec.entities[table]
        groups = [list(g) for g in entity.unique]
        if len(entity.primary_key) > 1:
            groups.append(entity.primary_key)
        return groups

    # ---- foreign keys --------------------------------------------------------------------
    def _fk(self, table: str, cname: str, n: int, own: dict[str, list[Any]]) -> list[Any]:
        """Parent keys for ``n`` rows: unique, covering (cascade parts) or skewed."""
        entity = self.spec.entities[table]
        col = entity.columns[cname]
        ptable, pcol = (col.references or "").split(".")
        rng = sub_rng(self.seed, table, cname, "fk")
        nulls = col.faker.null_fraction if col.faker else (NULL_FRACTION if col.nullable else 0.0)
        if (table, cname) in self.deferred:
            return [None] * n
        if ptable == table:  # a tree: each row points at an earlier row (row 0 at itself)
            keys = own[pcol]
            rnd = rng.random
            out = [keys[int(rnd() * i)] if i else None for i in range(n)]
            if not col.nullable and n:
                out[0] = keys[0]
            return [None if col.nullable and rnd() < nulls else v for v in out]
        keys = self.keys[(ptable, pcol)]
        p = len(keys)
        if p == 0:
            return [None] * n
        if col.unique or entity.primary_key == [cname]:
            idx = sorted(rng.sample(range(p), min(n, p)))
        else:
            rnd = rng.random  # exponential weights: some parents get no children, some many
            weights = [-log(1.0 - rnd()) for _ in range(p)]
            cum = self.fk_cum[(table, cname)] = list(accumulate(weights))
            population = range(p)
            if col.on_delete == "cascade" and n >= p:  # parts: every whole has at least one
                idx = sorted(list(population) + rng.choices(population, cum_weights=cum, k=n - p))
            else:
                idx = rng.choices(population, cum_weights=cum, k=n)
        out = [keys[i] for i in idx]
        if col.nullable and nulls > 0:
            rnd = rng.random
            out = [None if rnd() < nulls else v for v in out]
        return out

    def _redraw(
        self, table: str, cname: str, gens: dict[str, ColumnGen], rng: random.Random
    ) -> Any:
        col = self.spec.entities[table].columns[cname]
        if col.references is None:
            return gens[cname].draw(rng, 1)[0]
        keys = self.keys.get(tuple(col.references.split(".")), [])  # type: ignore[arg-type]
        if not keys:
            return None
        cum = self.fk_cum.get((table, cname))
        return rng.choices(keys, cum_weights=cum, k=1)[0] if cum else rng.choice(keys)

    # ---- one table -----------------------------------------------------------------------
    def table_rows(
        self, table: str, target: int
    ) -> tuple[list[str], list[tuple], dict[str, ColumnGen]]:
        entity = self.spec.entities[table]
        cols = list(entity.columns)
        gens = {
            c: make_generator(self.spec, table, c, target, self.seed)
            for c, col in entity.columns.items()
            if col.references is None
        }
        n = self._cap(table, target, gens)
        vals: dict[str, list[Any]] = {}
        emails = [c for c, g in gens.items() if g.source == ("provider", "email", {})]
        for c in cols:
            if c in gens and c not in emails:
                vals[c] = gens[c].draw(sub_rng(self.seed, table, c), n)
        for c in emails:
            vals[c] = self._emails(table, c, gens, vals, n)
        for c in cols:
            if c not in gens:
                vals[c] = self._fk(table, c, n, vals)
        rows = list(zip(*(vals[c] for c in cols), strict=True)) if cols else []
        groups = self._groups(table)
        if groups:
            rows = self._dedupe(table, cols, rows, groups, gens)
        return cols, rows, gens

    def _emails(
        self, table: str, cname: str, gens: dict[str, ColumnGen], vals: dict[str, list[Any]], n: int
    ) -> list[Any]:
        """Emails made from the row's own name (``mary.jones@...``), unique when they must be."""
        rng = sub_rng(self.seed, table, cname)
        names = next(
            (vals[c] for c, g in gens.items() if g.source[:2] == ("provider", "name")), None
        )
        if names is None and "first_name" in vals and "last_name" in vals:
            pairs = zip(vals["first_name"], vals["last_name"], strict=True)
            names = [f"{a or ''} {b or ''}" for a, b in pairs]
        if names is None:
            return gens[cname].draw(rng, n)
        col = self.spec.entities[table].columns[cname]
        domains = [d for d in pool(self.seed, "free_email_domain", {}, 50) if isinstance(d, str)]
        emails = emails_from_names(names, domains, rng)
        if col.max_length:
            emails = [e[: col.max_length] for e in emails]
        if gens[cname].unique:
            emails = make_unique(emails, col.max_length)
        nulls = col.faker.null_fraction if col.faker else NULL_FRACTION
        if col.nullable and nulls > 0:
            rnd = rng.random
            emails = [None if rnd() < nulls else e for e in emails]
        return emails

    def _dedupe(
        self,
        table: str,
        cols: list[str],
        rows: list[tuple],
        groups: list[list[str]],
        gens: dict[str, ColumnGen],
    ) -> list[tuple]:
        """Redraw rows whose composite key repeats (last column first); drop hopeless ones."""
        getters = [itemgetter(*[cols.index(c) for c in g]) for g in groups]
        suspects: set[int] = set()
        for get in getters:
            seen: set = set()
            for i, key in enumerate(map(get, rows)):
                if key in seen and None not in key:
                    suspects.add(i)
                seen.add(key)
        if not suspects:
            return rows
        keep = [r for i, r in enumerate(rows) if i not in suspects]
        seens = [set(map(get, keep)) for get in getters]
        rng = sub_rng(self.seed, table, "unique")
        dropped: set[int] = set()
        for i in sorted(suspects):
            row = rows[i]
            for attempt in range(TRIES):
                keys = [get(row) for get in getters]
                clash = [k for k, key in enumerate(keys) if key in seens[k] and None not in key]
                if not clash:
                    for key, s in zip(keys, seens, strict=True):
                        s.add(key)
                    rows[i] = row
                    break
                group = [cols.index(c) for c in groups[clash[0]]]
                fresh = list(row)
                for j in group[-1:] if attempt < TRIES // 2 else group:
                    fresh[j] = self._redraw(table, cols[j], gens, rng)
                row = tuple(fresh)
            else:
                dropped.add(i)
        if dropped:
            self.capped[table] = (
                f"{len(rows)} rows drawn, {len(dropped)} dropped as repeats of {groups}"
            )
            return [r for i, r in enumerate(rows) if i not in dropped]
        return rows

    # ---- the world -----------------------------------------------------------------------
    def run(self, targets: dict[str, int]) -> None:
        for table in self.order:
            if targets.get(table, 0) <= 0:
                cols, rows = list(self.spec.entities[table].columns), []
            else:
                cols, rows, gens = self.table_rows(table, targets[table])

                def redraw(c: str, rng: random.Random, t: str = table, g: dict = gens) -> Any:
                    return self._redraw(t, c, g, rng)

                self.inserter.insert(table, cols, rows, redraw)
            for t, c in self.referenced:
                if t == table:
                    i = cols.index(c)
                    self.keys[(t, c)] = [r[i] for r in rows]
            rows = []  # not alive while the next table is drawn (peak memory at 1M rows)
        self._deferred_fks()

    def _deferred_fks(self) -> None:
        """FKs that closed a cycle were inserted NULL: point them at parents now."""
        for table, cname in self.deferred:
            entity = self.spec.entities[table]
            key = entity.primary_key[0] if len(entity.primary_key) == 1 else "rowid"
            ids = [r[0] for r in self.conn.execute(f'SELECT "{key}" FROM "{table}" ORDER BY rowid')]
            rng = sub_rng(self.seed, table, cname, "deferred")
            values = [self._redraw(table, cname, {}, rng) for _ in ids]
            self.conn.executemany(
                f'UPDATE "{table}" SET "{cname}" = ? WHERE "{key}" = ?',
                list(zip(values, ids, strict=True)),
            )


def seed_database(
    spec: DomainSpec,
    conn: sqlite3.Connection,
    seed: int,
    rows: int | None = None,
    scale: float | None = None,
) -> SeedCounts:
    """Fill every table of ``conn``'s empty schema; returns the rows per table (a dict).

    ``rows`` is the total target for the world, spread in proportion to ``Entity.rows``;
    ``scale`` multiplies ``Entity.rows``; neither keeps them. Tables asked for more rows than
    their uniques allow are capped (``result.capped`` says why). Raises ``SeedError``.
    Repaired tables get dense rowids and the schema cookie is left as found, so an import
    of the exported rows rebuilds the same bytes (``synth.seed.settle``).
    """
    t0 = time.perf_counter()
    cookie = schema_cookie(conn)
    targets = plan_counts(spec, rows, scale)
    seeder = _Seeder(spec, conn, seed)
    plan = fill_plan(spec)
    fk_on = conn.execute("PRAGMA foreign_keys").fetchone()[0]
    if fk_on and not conn.in_transaction:  # checked once at the end instead of per row
        conn.execute("PRAGMA foreign_keys = OFF")
    try:
        if not conn.in_transaction:
            conn.execute("BEGIN")
        seeder.run(targets)
        run_fills(conn, spec, plan)  # also verifies the CHECKs that waited for a fill
        repaired = repair_invariants(conn, spec, plan)
        bad = conn.execute("PRAGMA foreign_key_check").fetchone()
        if bad:
            raise SeedError(f"{bad[0]}: row {bad[1]} references a missing {bad[2]} row")
        close_rowid_gaps(conn, spec)  # importing the exported rows gives the same bytes
        set_schema_cookie(conn, cookie)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        if fk_on and not conn.in_transaction:
            conn.execute("PRAGMA foreign_keys = ON")
    counts = {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in spec.entities}
    result = SeedCounts(counts, seeder.capped, repaired)
    result.seconds = time.perf_counter() - t0
    return result
