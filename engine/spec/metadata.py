"""The relational form of a spec: SQLAlchemy ``MetaData`` with every constraint named.

Lives in ``engine`` because validation prepares tool SQL against the empty schema; synth
builds Alembic migrations and seeds from the same metadata. Named constraints are what lets
Alembic batch-migrate SQLite and compare two versions of a spec.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.schema import CreateIndex, CreateTable

from engine.db import qs
from engine.spec.indexterms import IndexTerm, index_name, index_terms
from engine.spec.kinds import column_kind
from engine.spec.models import Column, DomainSpec, Entity

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def sa_type(col: Column) -> sa.types.TypeEngine:
    """The SQLAlchemy type of a spec column (dates are ISO text on SQLite)."""
    return column_kind(col).sql(col)


def _server_default(col: Column) -> sa.TextClause | str | None:
    if col.default is None:
        return None
    if isinstance(col.default, bool):
        return sa.text("1" if col.default else "0")
    if isinstance(col.default, int | float):
        return sa.text(repr(col.default))
    return str(col.default)


def _quote_list(values: Iterable[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def entity_table(metadata: sa.MetaData, name: str, entity: Entity) -> sa.Table:
    """Add one entity as a ``Table`` with named PK, FK, unique and check constraints."""
    cols: list[sa.Column] = []
    constraints: list[sa.Constraint] = []
    for cname, col in entity.columns.items():
        cols.append(
            sa.Column(
                cname,
                sa_type(col),
                nullable=col.nullable,
                server_default=_server_default(col),
                comment=col.description or None,
            )
        )
        if col.references:
            rtable, rcol = col.references.split(".")
            constraints.append(
                sa.ForeignKeyConstraint(
                    [cname],
                    [f"{rtable}.{rcol}"],
                    ondelete=col.on_delete.upper() if col.on_delete else None,
                )
            )
        if col.unique and not col.primary_key:
            constraints.append(sa.UniqueConstraint(cname))
        if col.type == "enum":
            constraints.append(
                sa.CheckConstraint(
                    f"{qs(cname)} IN ({_quote_list(col.values or [])})", name=f"{cname}_enum"
                )
            )
        if col.check:
            constraints.append(sa.CheckConstraint(col.check, name=cname))
    pk = entity.primary_key
    if pk:
        constraints.append(sa.PrimaryKeyConstraint(*pk))
    for group in entity.unique:
        constraints.append(sa.UniqueConstraint(*group))
    for chk in entity.checks:
        constraints.append(sa.CheckConstraint(chk.check, name=chk.name))
    table = sa.Table(name, metadata, *cols, *constraints, comment=entity.description or None)
    for cname, col in entity.columns.items():
        if col.references and not col.unique and not col.primary_key:
            sa.Index(None, table.c[cname])  # FK lookups and ON DELETE stay fast
    for text in entity.indexes:  # declared (the build's index advisor adds what tools need)
        sa.Index(index_name(name, text), *(_index_expr(table, t) for t in index_terms(text)))
    return table


def _index_expr(table: sa.Table, term: IndexTerm) -> sa.ColumnElement:
    col = table.c[term.column]
    if term.function:
        return getattr(sa.func, term.function)(col)
    return col.collate(term.collation) if term.collation else col


def build_metadata(spec: DomainSpec) -> sa.MetaData:
    """The spec's tables as SQLAlchemy metadata (tables in spec order)."""
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    for name, entity in spec.entities.items():
        entity_table(metadata, name, entity)
    return metadata


def sqlite_ddl(spec: DomainSpec) -> list[str]:
    """CREATE TABLE / INDEX statements for SQLite, parents before children."""
    metadata = build_metadata(spec)
    dialect = sqlite_dialect.dialect()
    out: list[str] = []
    for table in metadata.sorted_tables:
        out.append(str(CreateTable(table).compile(dialect=dialect)).strip())
        for index in sorted(table.indexes, key=lambda i: i.name or ""):
            out.append(str(CreateIndex(index).compile(dialect=dialect)).strip())
    return out


def create_sqlite(spec: DomainSpec, conn: sqlite3.Connection) -> None:
    """Create the spec's empty schema on a raw sqlite3 connection."""
    for stmt in sqlite_ddl(spec):
        conn.execute(stmt)
