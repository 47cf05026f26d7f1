"""Values linked to a row by foreign-key walks (the candidates a draw starts from), and the
user a row belongs to.

A walk is cheap when it follows a row's own links (an order's items, a user's payment
methods) and costs the world when it passes a parent most rows share: ``reach`` estimates
its rows from the base's counts, and ``related`` skips the walks that expect more than
``MAX_REACH``.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from synth.tasks.domain import SchemaInfo, Step, fetch_row

# Rows a link walk may expect to touch (from the base's row counts). A walk that expects more
# goes through a parent most rows share (every reservation at an airport, then every user who
# flew from those airports): it relates rows by a category, not by a link, returns an arbitrary
# slice of it (RELATED_LIMIT values), and its cost grows with the world while its candidates
# stay as weak. Retail and bank keep every path at any size; airline drops 10 of 707 at 10k.
MAX_REACH = 500


def reach(info: SchemaInfo, src: str, path: tuple[Step, ...]) -> float:
    """Rows a walk of ``path`` from one ``src`` row is expected to touch: each step down
    multiplies by the average children per parent, no step holds more than its table
    (0 without row counts)."""
    if info.counts is None:
        return 0.0
    cur, total, table = 1.0, 0.0, src
    for st in path:
        size = info.counts.get(st.dst, 0)
        if not st.up:
            cur *= size / max(1, info.counts.get(table, 0))
        cur = min(cur, size)
        total += cur
        table = st.dst
    return total


def related(
    conn: sqlite3.Connection, info: SchemaInfo, src: str, key: dict[str, Any], ref: str
) -> list[tuple[Any, int, str]]:
    """Values of ``ref`` (table.column) in rows linked to the row ``src[key]`` by foreign keys:
    (value, length of the shortest link (0: the row itself), the last key column walked)."""
    dst, _, col = ref.partition(".")
    out: dict[Any, tuple[int, str]] = {}
    if dst == src:
        row = fetch_row(conn, info, src, key)
        if row is not None and row.get(col) is not None:
            out[row[col]] = (0, col)
    args = [key[c] for c in info.pk(src)]
    for path in info.paths(src, dst):
        if reach(info, src, path) > MAX_REACH:
            continue
        for (v,) in conn.execute(info.path_sql(src, path, col), args):
            if v not in out:
                out[v] = (len(path), path[-1].fk.column)
    return sorted(((v, n, via) for v, (n, via) in out.items()), key=lambda t: t[1])


def owner(conn: sqlite3.Connection, info: SchemaInfo, table: str, key: dict[str, Any]) -> Any:
    """The user row a row belongs to (following child -> parent keys), or None."""
    user = info.user_table
    pk = info.pk(user)
    if table == user:
        return key.get(pk[0])
    path = info.up_path(table, user)
    if path is None or len(pk) != 1:
        return None
    rows = conn.execute(
        info.path_sql(table, path, pk[0]), [key[c] for c in info.pk(table)]
    ).fetchall()
    return rows[0][0] if rows else None
