"""What every session of one world shares: built once per world, read-only after (apart from
bounded caches of prepared tools and start patches, filled on first use).

A task's start patch is kept three ways, each O(patch rows), never a copy of the database:
its digest (so equal patches share the rest), its statements (to apply it the first time,
``engine.runtime.patch``) and, once applied, its exact row operations (``Compiled``, to switch
between start states in place, ``engine.runtime.start``).

The patch caches are least-recently-used memos of a fixed size (``engine.runtime.lru``),
large enough that sessions cycling through a task set switch between start states from
their row operations. Task generation enters thousands of throwaway sampling states, each
a few times in a row and then never again: it runs inside ``Shared.scratch``, which keeps
far fewer, so its memory does not grow with the number of tasks (issue 21). A patch
dropped from them is rebuilt from its task when needed.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from engine.budget import call_steps
from engine.db import q
from engine.runtime.call import PreparedTool
from engine.runtime.changelog import ChangeLog, instrument, instrument_bytes, schema_sql
from engine.runtime.filebase import FileBase
from engine.runtime.invariants import plan_checks
from engine.runtime.lru import Lru
from engine.runtime.patch import patch_statements
from engine.runtime.start import Compiled, StartOps
from engine.runtime.undo import Undo
from engine.spec.task import Task

if TYPE_CHECKING:
    from engine.spec.models import DomainSpec
    from engine.world import World

_LOCK = threading.Lock()
PATCHES = 1024  # start patches kept per world (statements and compiled operations)
DIGESTS = 4096  # tasks whose start patch digest is kept (the tasks themselves included)
SCRATCH_PATCHES, SCRATCH_DIGESTS = 128, 256  # the same, inside ``Shared.scratch``

Base = bytes | FileBase  # a world's base: its bytes, or a file each session copies from


class Shared:
    """Per-world state every session of the world shares (built once, read-only after)."""

    def __init__(self, world: World, schema: str) -> None:
        self.spec: DomainSpec = world.spec
        # the state sessions start from: an instrumented copy of the world's bytes, or in a
        # lean world its own plain bytes or file, to which each session adds the changelog
        self.lean = getattr(world, "lean", False)
        self.base: Base
        file = getattr(world, "base_file", None)
        if file is not None:  # (always lean)
            self.base = file
        elif self.lean:
            self.base = world.base_bytes
        else:
            self.base = instrument_bytes(self.spec, world.base_bytes)
        self.schema = schema
        self.ddl: list[str] | None = None  # a lean world's changelog DDL, made on first use
        self.log = ChangeLog(self.spec)
        self.undo = Undo(self.spec, self.log)
        self.start_ops = StartOps(self.spec, self.log, self.undo, schema)
        self.layout, self.checks = plan_checks(self.spec)
        self.call_steps = call_steps(sum(world.row_counts.values()))
        self.tools: dict[str, PreparedTool] = {}
        self.patches: Lru[str, list[tuple[str, list[Any], int]]] = Lru(PATCHES)  # digest -> stmts
        self.compiled: Lru[str, Compiled | None] = Lru(PATCHES)  # None: its replay failed
        self.digests: Lru[int, tuple[Task, str]] = Lru(DIGESTS)  # id(task) -> (task, digest)
        self.hash_sql = []
        for table in sorted(self.spec.entities):
            entity = self.spec.entities[table]
            cols = ", ".join(q(c) for c in entity.columns)
            order = ", ".join(q(c) for c in entity.primary_key or list(entity.columns))
            self.hash_sql.append(
                (table, f"/*scaleenv:hash*/ SELECT {cols} FROM {q(table)} ORDER BY {order}")
            )

    def load_base(self, conn: sqlite3.Connection) -> None:
        """Deserialize the world's base into ``conn`` (as ``schema``), with the changelog; a
        base in a file is copied from it page by page (``engine.runtime.filebase``)."""
        if isinstance(self.base, FileBase):
            self.base.load(conn, self.schema)
        else:
            conn.deserialize(self.base, name=self.schema)
        if not self.lean:
            return
        ddl = self.ddl
        if ddl is None:
            ddl = self.ddl = schema_sql(self.spec, conn, self.schema)
        instrument(conn, ddl)

    def tool(self, name: str) -> PreparedTool | None:
        tool = self.spec.tools.get(name)
        if tool is None:
            return None
        pt = self.tools.get(name)
        if pt is None or pt.tool is not tool:
            pt = PreparedTool(self.spec, name, tool, self.checks, self.layout)
            self.tools[name] = pt
        return pt

    def digest(self, task: Task) -> str:
        """The digest of ``task``'s start patch (memoized per task object)."""
        memo = self.digests.get(id(task))
        if memo is None or memo[0] is not task:
            blob = json.dumps(
                [c.model_dump(mode="json") for c in task.start_patch], sort_keys=True, default=str
            )
            memo = (task, hashlib.sha256(blob.encode()).hexdigest())
            self.digests[id(task)] = memo
        return memo[1]

    def start_patch(self, task: Task) -> tuple[str, list[tuple[str, list[Any], int]]]:
        """``task``'s start patch as (digest, statements): built once per patch while it is
        among the ``PATCHES`` most recently used (O(patch rows) each; never a copy of the
        database)."""
        key = self.digest(task)
        stmts = self.patches.get(key)
        if stmts is None:
            stmts = patch_statements(self.spec, task.start_patch, f"task {task.id}")
            self.patches[key] = stmts
        return key, stmts

    @contextmanager
    def scratch(self) -> Iterator[Shared]:
        """The patch caches cut to ``SCRATCH_PATCHES`` / ``SCRATCH_DIGESTS`` entries while a
        caller enters many start states once each (task generation), their limits restored
        after. Entries are only dropped, so results are the same."""
        caches: list[tuple[Lru[Any, Any], int]] = [
            (self.patches, SCRATCH_PATCHES),
            (self.compiled, SCRATCH_PATCHES),
            (self.digests, SCRATCH_DIGESTS),
        ]
        saved = [cache.limit for cache, _ in caches]
        for cache, limit in caches:
            cache.resize(min(limit, cache.limit))
        try:
            yield self
        finally:
            for (cache, _), limit in zip(caches, saved, strict=True):
                cache.resize(limit)

    def remember(self, key: str, compiled: Compiled | None) -> None:
        """Keep a patch's compiled operations; None marks a patch whose replay failed (it is
        applied from its statements from then on)."""
        if compiled is not None and key in self.compiled:
            return  # a failed replay stays marked (while it is kept)
        self.compiled[key] = compiled


def shared_state(world: World, schema: str = "world") -> Shared:
    """The world's shared session state, (re)built when the world's spec object changed."""
    shared = getattr(world, "_scaleenv_shared", None)
    if shared is None or shared.spec is not world.spec:
        with _LOCK:
            shared = getattr(world, "_scaleenv_shared", None)
            if shared is None or shared.spec is not world.spec:
                shared = Shared(world, schema)
                world._scaleenv_shared = shared  # type: ignore[attr-defined]
    return shared
