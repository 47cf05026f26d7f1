"""Alembic environment shared by every scaleenv world.

A world keeps only its revision files (``migrations/versions/`` inside the world); scaleenv
runs them with this environment, passing an open connection in
``config.attributes["connection"]`` (``synth.migrate.upgrade``). A URL in
``sqlalchemy.url`` works too, for running by hand. Offline (SQL script) mode is not
supported: worlds are always migrated against a live database.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context
from alembic.operations.batch import ApplyBatchImpl

from engine.spec.metadata import NAMING_CONVENTION

config = context.config
# Unnamed constraints in a revision get the same names engine.spec.metadata gives them.
target_metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def _deterministic_batch() -> None:
    """Make SQLite batch copies byte-reproducible.

    Batch mode collects a table's constraints and indexes from ``Table.constraints`` and
    ``Table.indexes``, which are sets ordered by object id, so the recreated table's DDL
    (and the database file) would differ from run to run. Sorting them by name fixes it.
    """
    if getattr(ApplyBatchImpl, "_scaleenv_sorted", False):
        return
    grab = ApplyBatchImpl._grab_table_elements

    def grab_sorted(self: ApplyBatchImpl) -> None:
        grab(self)
        self.named_constraints = dict(sorted(self.named_constraints.items()))
        self.indexes = dict(sorted(self.indexes.items(), key=lambda kv: str(kv[0])))

    ApplyBatchImpl._grab_table_elements = grab_sorted  # type: ignore[method-assign]
    ApplyBatchImpl._scaleenv_sorted = True  # type: ignore[attr-defined]


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    if connection.dialect.name == "sqlite":
        _deterministic_batch()
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("scaleenv migrations need a connection or sqlalchemy.url")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # table copies must not cascade
        _run(conn)


if context.is_offline_mode():
    raise RuntimeError("scaleenv migrations run online only (no --sql)")
run_migrations_online()
