"""Migrations: one deterministic Alembic revision chain per world (``revisions``), applied and
evolved by ``apply`` (``migrate_world``) on SQLite and PostgreSQL.
"""
