"""A session: one episode's in-memory database, the tools that act on it, and its bookkeeping.

The world's tables live in a schema attached as ``world`` on an otherwise empty in-memory
connection; unqualified names resolve there, so ``s.conn.execute("SELECT * FROM orders")``
works. Why not ``main``: SQLite 3.40 keeps table-valued functions (``json_each``) bound to
the ``main`` schema object, and ``deserialize`` into ``main`` frees it - the next statement
using ``json_each`` can crash the process. ``main`` is never replaced here, so a full reset is a
plain ``deserialize`` of shared bytes into ``world``.

Most resets are cheaper: when the session still descends from the state it is asked to go
back to (the world base, the task's start state, the snapshot last restored) and few rows
changed since, the changelog's before-images are written back in place
(``engine.runtime.undo``): O(changes), not O(world). The content, hash and every later result
are those of a fresh deserialize; the ``snapshot()`` bytes may differ (page layout).

A task's start state is never a copy: ``reset(task)`` undoes the episode in place, then
switches from the previous task's start state to this one's in one transaction
(``engine.runtime.start``: the old patch's rows reverted, the new one's written, as exact
row operations kept per world once a patch was first applied from its statements), in
O(changes + patch rows). The memory a world holds does not grow with the number of tasks
(only the patches' statements and operations, for a bounded number of them). When no row
was written since the last reset (``conn.total_changes`` unchanged), the undo is skipped.

Sessions are independent (each holds its own copy of the bytes) and cheap. The connection
is created with ``check_same_thread=False`` so a session may move between threads, but use
one session from one thread at a time.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from typing import TYPE_CHECKING, Any

from engine.budget import StepBudget
from engine.db import add_functions
from engine.errors import ScaleEnvError
from engine.reward.diff import diff_states
from engine.reward.evaluate import Score, evaluate_changes
from engine.runtime.argcheck import ArgError, parse_args, show
from engine.runtime.builtins import BUILTIN_TOOLS, ENDS_EPISODE, run_builtin
from engine.runtime.call import ErrorType, PreparedTool, ToolResult, failure, rollback, run_tool
from engine.runtime.changelog import instrument_bytes, strip_bytes
from engine.runtime.guard import Guard
from engine.runtime.patch import apply_patch, patch_statements, run_patch  # noqa: F401
from engine.runtime.shared import Base, Shared, shared_state  # noqa: F401
from engine.runtime.start import Compiled
from engine.spec.task import Action, RowChange, Task
from engine.toolschema.tools import mcp_tools, openai_tools

if TYPE_CHECKING:
    from engine.spec.models import DomainSpec
    from engine.world import World

SCHEMA = "world"
UNDO_LIMIT = 256  # logged rows up to which a reset undoes in place instead of deserializing


_BUSY = (
    "this session is in use by another thread: use one session per thread "
    "(world.session() or session.fork())"
)


class SessionBusyError(ScaleEnvError):
    """A session was entered by a second thread while the first was inside it."""


class Session:
    """One episode on one world.

    ``call(name, args) -> ToolResult``; ``reset(task=None)``, ``snapshot()``/``restore(b)``,
    ``fork()``; ``changes()`` since the last reset/restore, ``diff(other)``, ``state_hash()``,
    ``evaluate(task, messages)``; ``tool_names``/``openai_tools``/``mcp_tools(toolset)``;
    ``history`` and ``done``. ``conn`` is for reading (``SELECT ... FROM orders`` works); its
    ``serialize()`` is not the state: use ``snapshot()``.
    """

    def __init__(self, world: World, _data: bytes | None = None) -> None:
        self.world = world
        self._shared: Shared = shared_state(world, SCHEMA)
        self.spec: DomainSpec = self._shared.spec
        self.guard = Guard()
        conn = sqlite3.connect(
            ":memory:", isolation_level=None, check_same_thread=False, cached_statements=512
        )
        add_functions(conn)  # casefold()
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA recursive_triggers = ON")  # REPLACE's deletes reach the changelog
        conn.execute(f"ATTACH DATABASE ':memory:' AS {SCHEMA}")
        conn.execute("SELECT * FROM json_each('[]')").fetchall()  # create table functions now,
        conn.execute("SELECT * FROM json_tree('[]')").fetchall()  # not inside a tool's prepare
        self._busy = threading.Lock()  # one thread at a time: a second one gets an error
        self.guard.install(conn)
        self.budget = StepBudget(conn, self._shared.call_steps)  # armed during each call
        self.conn = conn
        self.task: Task | None = None
        self._origin: Base | None = None  # the state the changelog counts from, if known
        self._clean = -1  # ``conn.total_changes`` when the changelog was last empty
        # a task's start state, applied in place on ``_origin``: (patch digest, the patch's
        # row operations, with which a reset goes on from the start state back to ``_origin``)
        self._start: tuple[str, Compiled] | None = None
        self.done = False
        self._calls: list[tuple[str, dict[str, Any], ToolResult]] = []
        self._history: list[tuple[Action, ToolResult]] = []
        self._load(self._shared.base if _data is None else _data)
        self._origin = self._shared.base if _data is None else None

    # ---- state -----------------------------------------------------------------------
    def _load(self, data: Base) -> None:
        self.guard.internal()
        rollback(self.conn)
        self._start = None
        if data is self._shared.base or not isinstance(data, bytes):  # (a file: the base)
            self._shared.load_base(self.conn)  # (a lean world's base gets its changelog here)
            self._clean = self.conn.total_changes
        else:
            self.conn.deserialize(data, name=SCHEMA)
            self._clean = -1

    def _undo_log(self) -> bool:
        """Undo the changelog in place (back to the state it counts from) when it is short.
        Nothing to do when no row was written since the log was last empty: SQLite's count
        of written rows (``total_changes``, triggers' and failed calls' included) is the same."""
        self.guard.internal()
        rollback(self.conn)
        undo = self._shared.undo
        if not undo.prepare(self.conn, SCHEMA):
            return False
        if self._clean != self.conn.total_changes:
            if not undo.run(self.conn, UNDO_LIMIT):
                return False
            self._clean = self.conn.total_changes
        return True

    def _undo(self, target: Base) -> bool:
        """Go back to ``target`` in place, when the changelog counts from it (through a task's
        start patch, if one was applied) and is short: O(changes + patch rows)."""
        if self._origin is not target:
            return False
        return self._undo_log() if self._start is None else self._switch(None)

    def _switch(self, to: tuple[str, Compiled] | None) -> bool:
        """From the base (through the current start state and the episode since) to ``to``'s
        start state (None: the base), in place, in one transaction: the episode undone, the
        old patch's rows reverted, the new one's written. False: the caller loads the base."""
        base, conn, undo = self._shared.base, self.conn, self._shared.undo
        if self._origin is not base:
            return False
        self.guard.internal()
        rollback(conn)
        if not undo.prepare(conn, SCHEMA):
            return False
        old, episode = self._start, self._clean != conn.total_changes
        try:
            done = self._shared.start_ops.switch(
                conn,
                old and old[1],
                to and to[1],
                (lambda: undo.run(conn, UNDO_LIMIT, txn=False)) if episode else None,
            )
        except BaseException as exc:  # the state is unknown: start again from the base's bytes
            self._load(base)
            if not isinstance(exc, sqlite3.Error):
                raise  # (an interrupt: the session is at the base)
            if not episode:  # (with an episode, its undo may be what failed)
                for key in (old and old[0], to and to[0]):
                    if key is not None:
                        self._shared.remember(key, None)
            return False
        if not done:  # a long episode: not undone in place
            self._load(base)
            return False
        self._start, self._clean = to, conn.total_changes
        return True

    def _replay(self, key: str) -> bool:
        """Switch to the start state of patch ``key`` from its row operations, if known."""
        compiled = self._shared.compiled.get(key)
        return compiled is not None and self._switch((key, compiled))

    def _enter_start(self, task: Task) -> None:
        """Apply ``task``'s start patch in place on the base state from its statements
        (O(patch rows)), keep it as row operations for the next time, and make the result
        the state ``changes()`` counts from."""
        key, stmts = self._shared.start_patch(task)
        self.guard.internal()
        shared, got = self._shared, []

        def keep() -> None:  # in the patch's transaction: its operations, then a clean log
            got.append(shared.start_ops.compile(self.conn))
            shared.log.clear(self.conn)

        run_patch(self.conn, stmts, task.start_patch, f"task {task.id}", keep)
        shared.remember(key, got[0])
        self._start, self._clean = (key, got[0]), self.conn.total_changes

    def reset(self, task: Task | None = None) -> None:
        """Back to the world's initial state, or to ``task``'s start state (base + patch)."""
        if not self._busy.acquire(blocking=False):
            raise SessionBusyError(_BUSY)
        try:
            self._reset(task)
        finally:
            self._busy.release()

    def _reset(self, task: Task | None) -> None:
        base, start = self._shared.base, self._start
        if task is not None and task.start_patch:
            key = self._shared.digest(task)
            same = start is not None and start[0] == key and self._origin is base
            if not (same and self._undo_log()) and not self._replay(key):
                if not self._undo(base):
                    self._load(base)
                    self._origin = base
                if not self._replay(key):
                    self._enter_start(task)
        elif not self._undo(base):
            self._load(base)
            self._origin = base
        self.task = task
        self.done = False
        self._calls.clear()
        self._history.clear()

    def snapshot(self) -> bytes:
        """The current state as opaque bytes (for ``restore``, ``diff`` or a new world)."""
        return self.conn.serialize(name=SCHEMA)

    def base_snapshot(self) -> bytes:
        """``snapshot()`` of the world's base state: the instrumented bytes every session of
        the world starts from when the world keeps them (no copy: a copy of a 1M-row world
        is 100+ MB), else a snapshot taken after a reset to the base."""
        base = self._shared.base
        if isinstance(base, bytes) and not self._shared.lean:
            return base
        self.reset()
        return self.snapshot()

    def export_bytes(self) -> bytes:
        """The current state as a plain SQLite database (no changelog), e.g. for a new world."""
        return strip_bytes(self.snapshot())

    def restore(self, snap: bytes) -> None:
        """Return to a snapshot; ``changes()`` starts again from it."""
        data = snap if isinstance(snap, bytes) else bytes(snap)
        if self._undo(data):
            return
        self._load(data)
        self._origin = None
        try:
            self._shared.log.clear(self.conn)
            self._origin, self._clean = data, self.conn.total_changes
        except sqlite3.Error:  # bytes from outside a session: add the changelog
            self._load(instrument_bytes(self.spec, data))

    def fork(self) -> Session:
        """An independent session holding the current state, task and history."""
        other = Session(self.world, _data=self.snapshot())
        other.task, other.done = self.task, self.done
        other._origin = self._origin  # the copied changelog counts from the same state
        other._start = self._start  # read-only: shared
        other._calls = list(self._calls)
        return other

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def state_hash(self) -> str:
        """SHA-256 of the logical content: every spec table in name order, rows by primary key."""
        h = hashlib.sha256()
        for table, sql in self._shared.hash_sql:
            h.update(b"\x1e" + table.encode() + b"\x1f")
            for row in self.conn.execute(sql):
                h.update(repr(row).encode("utf-8", "surrogatepass"))
                h.update(b"\n")
        return h.hexdigest()

    def changes(self) -> list[RowChange]:
        """Row changes since the last reset/restore (before None: insert; after None: delete)."""
        return self._shared.log.changes(self.conn)

    def diff(self, other: Session | bytes) -> list[RowChange]:
        """Row changes that turn this session's state into ``other``'s (a session or snapshot)."""
        if isinstance(other, Session):
            return diff_states(self.spec, self.conn, other.conn)
        scratch = sqlite3.connect(":memory:")
        try:
            scratch.deserialize(bytes(other))
            return diff_states(self.spec, self.conn, scratch)
        finally:
            scratch.close()

    def evaluate(self, task: Task, messages: list[str] | None = None) -> Score:
        """Score this episode against ``task`` (reads the changelog; changes nothing)."""
        return evaluate_changes(self.spec, task, self.changes(), messages)

    # ---- tools -----------------------------------------------------------------------
    def prepared(self, name: str) -> PreparedTool | None:
        """The runtime's prepared form of tool ``name`` (None: no such spec tool); with
        ``engine.runtime.call.prepare_call`` it predicts a call exactly as ``call`` runs it."""
        return self._shared.tool(name)

    def tool_names(self, toolset: list[str] | None = None) -> list[str]:
        """Callable tools (not quarantined) in ``toolset`` order or spec order, then builtins."""
        active = self.spec.active_tools()
        names = list(active) if toolset is None else [n for n in toolset if n in active]
        return names + [
            b for b in self.spec.builtins if b not in names and b not in self.spec.tools
        ]

    def openai_tools(self, toolset: list[str] | None = None) -> list[dict[str, Any]]:
        return openai_tools(self.spec, self.tool_names(toolset))

    def mcp_tools(self, toolset: list[str] | None = None) -> list[dict[str, Any]]:
        return mcp_tools(self.spec, self.tool_names(toolset))

    @property
    def history(self) -> list[tuple[Action, ToolResult]]:
        """(Action, ToolResult) of every call since the last reset, failed calls included."""
        hist = self._history
        for name, args, result in self._calls[len(hist) :]:
            hist.append((Action.model_construct(tool=name, args=args), result))
        return hist

    def call(self, name: str, args: dict[str, Any] | str | None = None) -> ToolResult:
        """Run tool ``name``; ``args`` is a dict or a JSON object text. Never raises on agent
        input; raises ``SessionBusyError`` when another thread is inside this session."""
        if not self._busy.acquire(blocking=False):
            raise SessionBusyError(_BUSY)
        try:
            return self._call(name, args)
        finally:
            self._busy.release()

    def _call(self, name: str, args: dict[str, Any] | str | None) -> ToolResult:
        parsed: dict[str, Any] = {}
        try:
            parsed = parse_args(args)
            result = self._dispatch(name, parsed)
        except ArgError as exc:
            result = failure(str(name), ErrorType.INVALID_ARGUMENTS, str(exc))
        except RecursionError:  # only arguments nest without bound (the spec is flat)
            rollback(self.conn)
            msg = "the arguments are nested too deeply"
            result = failure(str(name)[:100], ErrorType.INVALID_ARGUMENTS, msg)
        except Exception as exc:  # a bug must not kill a rollout; report it as a result
            rollback(self.conn)
            result = failure(str(name), ErrorType.INTERNAL, f"{type(exc).__name__}: {exc}")
        self._calls.append((name if isinstance(name, str) else repr(name), parsed, result))
        return result

    def _dispatch(self, name: str, args: dict[str, Any]) -> ToolResult:
        if not isinstance(name, str):
            return failure(
                show(name), ErrorType.UNKNOWN_TOOL, f"a tool name must be text, got {show(name)}"
            )
        pt = self._shared.tool(name)
        if pt is not None:
            if pt.tool.quarantined is not None:
                return failure(
                    name,
                    ErrorType.UNKNOWN_TOOL,
                    f"tool {name!r} is quarantined: {pt.tool.quarantined}",
                )
            return run_tool(
                self.conn, self.guard, pt, args, self.spec.now, self.spec.name, self.budget
            )
        if name in self.spec.builtins and name in BUILTIN_TOOLS:
            result = run_builtin(name, args)
            if result.ok and name in ENDS_EPISODE:
                self.done = True
            return result
        listing = ", ".join(self.tool_names()[:30])
        return failure(
            str(name)[:100],
            ErrorType.UNKNOWN_TOOL,
            f"unknown tool {show(name)}; available tools: {listing}",
        )
