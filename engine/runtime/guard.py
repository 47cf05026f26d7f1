"""Least privilege for tool SQL: one sqlite3 authorizer per connection, its mode swapped per call.

SQLite consults the authorizer while *preparing* a statement, never while stepping it, so a
statement found in the connection's statement cache is not checked again. The runtime keeps
that sound by making every SQL text unique to the tool and role it runs in (a comment
prefix), so a cached statement is only ever reused under the permissions it was prepared
with. Swapping the mode is an attribute store: in steady state the authorizer costs nothing.

Modes:
- ``INTERNAL``: the runtime's own statements (savepoints, deserialize's ATTACH, changelog,
  id checks): everything allowed.
- ``TOOL``: a tool's SQL. Reads only of its declared tables (reads ∪ writes), writes only of
  ``Permissions.writes``; SELECT, functions (not ``load_extension``) and recursive CTEs;
  nothing else: no DDL, ATTACH/DETACH, PRAGMA, transactions or savepoints.
- ``INVARIANT``: domain invariants read any table and write nothing.

Two widenings, both done by SQLite and invisible to the tool's result: the changelog
triggers (named ``_scaleenv_*``) may read the row being changed and write their undo table,
and foreign-key enforcement may read the key columns that link a written table to its
parents and children.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from engine.spec.models import DomainSpec

OK = sqlite3.SQLITE_OK
DENY = sqlite3.SQLITE_DENY
PREFIX = "_scaleenv_"  # runtime-owned objects (changelog tables and triggers)

INTERNAL, TOOL, INVARIANT = 0, 1, 2

_READ = sqlite3.SQLITE_READ
_SELECT = sqlite3.SQLITE_SELECT
_FUNCTION = sqlite3.SQLITE_FUNCTION
_RECURSIVE = getattr(sqlite3, "SQLITE_RECURSIVE", 33)
_WRITES = {
    sqlite3.SQLITE_INSERT: "insert into",
    sqlite3.SQLITE_UPDATE: "update",
    sqlite3.SQLITE_DELETE: "delete from",
}
_SCHEMA_TABLES = frozenset(
    {"sqlite_master", "sqlite_temp_master", "sqlite_schema", "sqlite_temp_schema"}
)
TABLE_FUNCTIONS = frozenset({"json_each", "json_tree"})
BANNED_FUNCTIONS = frozenset({"load_extension"})

_ACTION_NAMES = {
    0: "COPY", 1: "CREATE INDEX", 2: "CREATE TABLE", 3: "CREATE TEMP INDEX",
    4: "CREATE TEMP TABLE", 5: "CREATE TEMP TRIGGER", 6: "CREATE TEMP VIEW",
    7: "CREATE TRIGGER", 8: "CREATE VIEW", 10: "DROP INDEX", 11: "DROP TABLE",
    12: "DROP TEMP INDEX", 13: "DROP TEMP TABLE", 14: "DROP TEMP TRIGGER",
    15: "DROP TEMP VIEW", 16: "DROP TRIGGER", 17: "DROP VIEW", 19: "PRAGMA",
    22: "a transaction statement", 24: "ATTACH", 25: "DETACH", 26: "ALTER TABLE",
    27: "REINDEX", 28: "ANALYZE", 29: "CREATE VIRTUAL TABLE", 30: "DROP VIRTUAL TABLE",
    32: "SAVEPOINT/RELEASE",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Permissions:
    """What one tool role may touch. ``reads`` already includes ``writes``."""

    name: str
    reads: frozenset[str]
    writes: frozenset[str] = frozenset()
    key_reads: frozenset[tuple[str, str]] = frozenset()  # (table, column) read by FK checks

    def read_only(self) -> Permissions:
        return Permissions(f"{self.name} (read-only step)", self.reads, frozenset(), self.key_reads)


def fk_key_columns(spec: DomainSpec, written: set[str]) -> frozenset[tuple[str, str]]:
    """Key columns SQLite reads to enforce foreign keys when ``written`` tables change."""
    out: set[tuple[str, str]] = set()
    for table, entity in spec.entities.items():
        for cname, col in entity.columns.items():
            if not col.references:
                continue
            parent, pcol = col.references.split(".", 1)
            if table in written or parent in written:
                out.add((parent, pcol))
                out.add((table, cname))
    return frozenset(out)


def tool_permissions(
    spec: DomainSpec, name: str, reads: list[str], writes: list[str]
) -> Permissions:
    w = frozenset(writes)
    return Permissions(
        name, frozenset(reads) | w | TABLE_FUNCTIONS, w, fk_key_columns(spec, set(w))
    )


class Guard:
    """The authorizer of one connection. Set ``mode`` and ``perm`` before running SQL.

    ``denied`` keeps the last refusal in words, so a failed call can say what was refused.
    """

    __slots__ = ("mode", "perm", "denied")

    def __init__(self) -> None:
        self.mode = INTERNAL
        self.perm: Permissions | None = None
        self.denied: str | None = None

    def install(self, conn: sqlite3.Connection) -> None:
        conn.set_authorizer(self.authorize)

    def tool(self, perm: Permissions) -> None:
        self.mode, self.perm, self.denied = TOOL, perm, None

    def invariant(self) -> None:
        self.mode, self.denied = INVARIANT, None

    def internal(self) -> None:
        self.mode = INTERNAL

    def authorize(
        self, action: int, a1: str | None, a2: str | None, db: str | None, trig: str | None
    ) -> int:
        mode = self.mode
        if mode == INTERNAL:
            return OK
        if action == _READ:
            if mode == INVARIANT:
                return OK
            perm = self.perm
            if perm is not None and (a1 in perm.reads or (a1, a2) in perm.key_reads):
                return OK
            if trig is not None and trig.startswith(PREFIX):
                return OK
            return self._deny(f"read table {a1!r}")
        if action in (_SELECT, _RECURSIVE):
            return OK
        if action == _FUNCTION:
            if a2 is not None and a2.lower() in BANNED_FUNCTIONS:
                return self._deny(f"call {a2}()")
            return OK
        verb = _WRITES.get(action)
        if verb is not None:
            if mode == TOOL:
                if trig is not None and trig.startswith(PREFIX):
                    return OK
                perm = self.perm
                if perm is not None and a1 in perm.writes:
                    return OK
            if a1 in _SCHEMA_TABLES:
                return self._deny("change the schema (DDL)")
            return self._deny(f"{verb} table {a1!r}")
        return self._deny(f"run {_ACTION_NAMES.get(action, f'action {action}')}")

    def _deny(self, what: str) -> int:
        who = (
            "an invariant"
            if self.mode == INVARIANT
            else f"tool {self.perm.name!r}"
            if self.perm
            else "tool SQL"
        )
        hint = (
            " (not declared in its reads/writes)" if "table" in what and self.mode == TOOL else ""
        )
        self.denied = f"{who} may not {what}{hint}"
        return DENY
