"""Pieces shared by the retail and airline inverses of the tau2 mappings (a world's database
back as tau2's ``db.json`` nesting): the rows of the mapped tables, a user's identity fields
and the payment methods keyed by user and id, as tau2's models dump them."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from typing import Any

from engine.db import bytes_to_connection

ADDRESS = ("address1", "address2", "city", "country", "state", "zip")


def table_rows(db_bytes: bytes, tables: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Every row of ``tables`` as dicts, in rowid order (the order they were imported in)."""
    conn = bytes_to_connection(db_bytes)
    conn.row_factory = sqlite3.Row
    try:
        return {
            t: [dict(r) for r in conn.execute(f'SELECT * FROM "{t}" ORDER BY rowid')]
            for t in tables
        }
    finally:
        conn.close()


def user_identity(u: dict[str, Any]) -> dict[str, Any]:
    """A user's id, name, address and email in tau2's nesting."""
    return {
        "user_id": u["user_id"],
        "name": {"first_name": u["first_name"], "last_name": u["last_name"]},
        "address": {f: u[f] for f in ADDRESS},
        "email": u["email"],
    }


def payment_methods(
    rows: list[dict[str, Any]], fields: Callable[[str], tuple[str, ...]]
) -> dict[str, dict[str, dict[str, Any]]]:
    """user_id -> payment id -> method: source, id and ``fields(source)`` of each row."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for p in rows:
        pm = {"source": p["source"], "id": p["id"], **{f: p[f] for f in fields(p["source"])}}
        out.setdefault(p["user_id"], {})[p["id"]] = pm
    return out
