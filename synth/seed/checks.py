"""The CHECK constraints of a spec as the seeder sees them: names, columns and texts.

Inserting, filling and repairing all need to know which columns a CHECK reads (to redraw
the right values, to blame the right column, to defer a CHECK until a fill has run), and
to verify CHECKs in one query each instead of row by row.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Mapping

import sqlglot
from sqlglot import exp

from engine.spec.models import DomainSpec
from synth.seed.values import SeedError


def columns_in(sql: str) -> set[str]:
    """Column names an SQL expression mentions (empty if it does not parse)."""
    try:
        return {c.name for c in sqlglot.parse_one(sql, read="sqlite").find_all(exp.Column)}
    except Exception:  # noqa: BLE001
        return set()


def constraint_columns(spec: DomainSpec) -> dict[str, dict[str, list[str]]]:
    """Per table: CHECK constraint name (and its raw text) -> the columns it reads."""
    out: dict[str, dict[str, list[str]]] = {}
    for table, entity in spec.entities.items():
        m: dict[str, list[str]] = {}
        for cname, col in entity.columns.items():
            if col.check:
                m[f"ck_{table}_{cname}"] = m[col.check] = [cname]
            if col.type == "enum":
                m[f"ck_{table}_{cname}_enum"] = [cname]
        for chk in entity.checks:
            names = columns_in(chk.check)
            m[f"ck_{table}_{chk.name}"] = m[chk.check] = [c for c in entity.columns if c in names]
        out[table] = m
    return out


def culprits(
    spec: DomainSpec,
    table: str,
    message: str,
    checks: dict[str, dict[str, list[str]]] | None = None,
) -> list[str]:
    """The columns an IntegrityError message blames (CHECK / UNIQUE / NOT NULL)."""
    head, _, tail = message.partition(" constraint failed: ")
    if head in ("UNIQUE", "NOT NULL"):
        return [p.split(".", 1)[-1] for p in tail.split(", ") if p.startswith(f"{table}.")]
    if head == "CHECK":
        return list((checks or constraint_columns(spec))[table].get(tail, []))
    return []


def table_checks(spec: DomainSpec, table: str) -> list[tuple[str, str, list[str]]]:
    """(constraint name, SQL text, columns read) of every CHECK of ``table``."""
    entity = spec.entities[table]
    out = []
    for cname, col in entity.columns.items():
        if col.type == "enum":
            members = ", ".join("'" + v.replace("'", "''") + "'" for v in col.values or [])
            out.append((f"ck_{table}_{cname}_enum", f'"{cname}" IN ({members})', [cname]))
        if col.check:
            out.append((f"ck_{table}_{cname}", col.check, [cname]))
    for chk in entity.checks:
        names = columns_in(chk.check)
        cols = [c for c in entity.columns if c in names] or list(entity.columns)
        out.append((f"ck_{table}_{chk.name}", chk.check, cols))
    return out


def filled_columns(spec: DomainSpec, table: str) -> set[str]:
    cols = spec.entities[table].columns.items()
    return {c for c, col in cols if col.faker is not None and col.faker.sql}


def deferred_checks(spec: DomainSpec, table: str) -> list[tuple[str, str, list[str]]]:
    """The CHECKs that read a ``sql``-filled column: only the fills can satisfy them."""
    filled = filled_columns(spec, table)
    return [c for c in table_checks(spec, table) if set(c[2]) & filled]


def verify_checks(
    conn: sqlite3.Connection, spec: DomainSpec, filled: Mapping[str, Collection[str]]
) -> None:
    """After fills run with CHECKs off: every CHECK reading a filled column must hold. One
    scan per table (an UPDATE judging enum CHECKs row by row is several times slower); the
    error names the CHECK and a filled column it reads."""
    for table, cols in filled.items():
        checks = [c for c in table_checks(spec, table) if set(c[2]) & set(cols)]
        if not checks:
            continue
        anyfail = " OR ".join(f"NOT ({text})" for _, text, _ in checks)
        if conn.execute(f'SELECT 1 FROM "{table}" WHERE {anyfail} LIMIT 1').fetchone() is None:
            continue  # one scan of the table when all hold
        for name, text, read in checks:
            bad = conn.execute(f'SELECT COUNT(*) FROM "{table}" WHERE NOT ({text})').fetchone()[0]
            if bad:
                col = next(c for c in read if c in cols)
                raise SeedError(
                    f"{table}.{col}: sql fill leaves CHECK {name} ({text}) false in {bad} rows"
                )
