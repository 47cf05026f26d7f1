"""Running one tool call: validate, generate ids, let, preconditions, effects, invariants, result.

Everything a call needs that does not depend on the state is prepared once per tool
(``PreparedTool``): the argument validator, the SQL texts (each prefixed with a comment
naming tool and role, so the statement cache never hands one role's statement to another:
see ``engine.runtime.guard``), the permissions and the invariants the tool's writes can break.

A read-only tool runs under an authorizer that refuses every write, so it needs no
savepoint. A writing tool runs its effects, the invariant checks and the result query
inside ``SAVEPOINT``; any failure rolls back to a byte-identical database. Agent input
never raises: every failure becomes a ``ToolResult`` with ``ok=False``.

Invariant checks cost O(changed rows): only invariants the call touched run, on the keys
it touched, in one statement (``engine.runtime.invariants``). Generated ids start their candidate
sequence at the target table's row count, so a call rarely probes more than one candidate.
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from engine.budget import StepBudget
from engine.runtime.argcheck import ArgError, compile_params
from engine.runtime.guard import Guard, Permissions, tool_permissions
from engine.runtime.ids import MAX_ID_CANDIDATES, id_candidate, id_sql, new_id  # noqa: F401
from engine.runtime.invariants import Check, cascade_closure, first_violated, plan_checks
from engine.runtime.keylog import LogLayout, take_log
from engine.spec.models import DomainSpec, IdGenerator, Invariant, Tool
from engine.spec.textcheck import fill_template


class ErrorType(StrEnum):
    """Why a call failed: a closed set adapters and rewards can switch on (equal to its text)."""

    UNKNOWN_TOOL = "unknown_tool"  # no such tool, quarantined, or not offered to the agent
    INVALID_ARGUMENTS = "invalid_arguments"  # the arguments break the tool's declared params
    PRECONDITION_FAILED = "precondition_failed"  # a business rule of the tool refused the call
    INVARIANT_VIOLATED = "invariant_violated"  # the effects would break an invariant: rolled back
    TIMEOUT = "timeout"  # the call ran past its SQL step budget: rolled back
    INTERNAL = "internal"  # a bug in the spec or the engine: rolled back


ERROR_TYPES = tuple(e.value for e in ErrorType)
_SAVEPOINT, _RELEASE, _ROLLBACK_TO, _ROLLBACK = (
    "/*scaleenv*/ SAVEPOINT scaleenv_call",
    "/*scaleenv*/ RELEASE scaleenv_call",
    "/*scaleenv*/ ROLLBACK TO scaleenv_call",
    "/*scaleenv*/ ROLLBACK",
)


@dataclass(slots=True)
class ToolResult:
    """The outcome of one call. ``result`` is JSON-serialisable; ``message`` explains a failure."""

    ok: bool
    result: Any = None
    error_type: ErrorType | None = None
    message: str = ""
    tool: str = ""

    def __post_init__(self) -> None:
        if self.error_type is not None and type(self.error_type) is not ErrorType:
            self.error_type = ErrorType(self.error_type)  # closed: a stray string is a bug

    @property
    def text(self) -> str:
        """What an agent is shown: the result as JSON, or ``error_type: message``."""
        if self.ok:
            return (
                self.result
                if isinstance(self.result, str)
                else json.dumps(self.result, ensure_ascii=False)
            )
        return f"{self.error_type}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "result": self.result,
            "error_type": None if self.error_type is None else self.error_type.value,
            "message": self.message,
            "tool": self.tool,
        }


def failure(tool: str, error_type: ErrorType, message: str) -> ToolResult:
    return ToolResult(False, None, error_type, message, tool)


class _Violation(Exception):
    pass


def fill(template: str, values: dict[str, Any]) -> str:
    """``template`` with each plain ``{name}`` replaced; anything else stays as written (no
    format specs: ``{x:>100000000}`` must not make 100 MB)."""
    return fill_template(template, values)


def truthy(value: Any) -> bool:
    """SQLite's idea of true: non-zero number (text is read as a number), never NULL."""
    if value is None:
        return False
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        try:
            return float(value.strip()) != 0
        except ValueError:
            return False
    return bool(value)


def clean(value: Any) -> Any:
    """A JSON-safe value: bytes as hex text, non-finite floats as None."""
    t = type(value)
    if t is float:
        return value if math.isfinite(value) else None
    if t is bytes:
        return value.hex()
    return value


class PreparedTool:
    """Everything about one tool that does not depend on the database state."""

    __slots__ = (
        "name", "tool", "validate", "perm_read", "perm_write", "lets", "gens", "pre",
        "effects", "result", "result_names", "invariants", "inv_sql", "logs", "read_only",
        "id_probes",
    )  # fmt: skip

    def __init__(
        self,
        spec: DomainSpec,
        name: str,
        tool: Tool,
        checks: list[Check],
        layout: LogLayout | None = None,
    ):
        self.name, self.tool = name, tool
        self.validate = compile_params(tool.params)
        perm = tool_permissions(spec, name, tool.reads, tool.writes)
        self.perm_write: Permissions = perm
        self.perm_read: Permissions = perm.read_only()
        tag = f"/*{name}:%s*/ "
        self.lets = [(n, tag % f"let:{n}" + sql) for n, sql in tool.let.items()]
        self.gens: list[tuple[str, IdGenerator, tuple[str, str], dict[int, str]]] = [
            (gname, g, id_sql(g), {}) for gname, g in tool.generate.items()
        ]
        self.id_probes = 0  # candidates tried so far (a test's measure of id generation cost)
        self.pre = [(tag % f"pre{i}" + p.check, p.error) for i, p in enumerate(tool.preconditions)]
        self.effects = [
            (tag % f"fx{i}" + e.sql, None if e.when is None else tag % f"when{i}" + e.when)
            for i, e in enumerate(tool.effects)
        ]
        r = tool.returns
        self.result = (
            None if r is None else (tag % "ret" + r.query, r.shape, frozenset(r.json_columns))
        )
        self.result_names: tuple[str, ...] | None = None
        touched = cascade_closure(spec, set(tool.writes))
        self.invariants = [c for c in checks if c.tables is None or c.tables & touched]
        self.inv_sql: dict[tuple, str] = {}  # combined checks by shape (engine.runtime.invariants)
        self.logs = layout is not None and bool(touched & layout.tables)  # writes the call log
        self.read_only = not tool.effects


def invariant_plan(spec: DomainSpec) -> list[tuple[Invariant, str, set[str] | None]]:
    """Each invariant with its tagged SQL and the tables it reads (None: unknown, always run).

    The full-check view (kept for callers outside the runtime); sessions use
    ``engine.invariants.plan_checks``, which adds the scopes."""
    return [
        (c.inv, c.sql, None if c.tables is None else set(c.tables)) for c in plan_checks(spec)[1]
    ]


def _fetch_result(conn: sqlite3.Connection, pt: PreparedTool, binds: dict[str, Any]) -> Any:
    if pt.result is None:
        return None
    sql, shape, json_cols = pt.result
    cur = conn.execute(sql, binds)
    names = pt.result_names
    if names is None:
        names = pt.result_names = tuple(d[0] for d in cur.description or ())
    if shape == "scalar":
        row = cur.fetchone()
        if row is None:
            return None
        value = clean(row[0])
        return _parse_json(value) if names[0] in json_cols else value
    rows = cur.fetchall() if shape == "list" else [cur.fetchone()]
    if shape != "list" and rows[0] is None:
        return None
    out = []
    for row in rows:
        for v in row:
            t = type(v)
            if t is bytes or (t is float and not math.isfinite(v)):
                row = tuple(map(clean, row))
                break
        item = dict(zip(names, row, strict=False))
        for c in json_cols:
            if c in item:
                item[c] = _parse_json(item[c])
        out.append(item)
    return out if shape == "list" else out[0]


def _parse_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _check_invariants(conn: sqlite3.Connection, guard: Guard, pt: PreparedTool, now: str) -> None:
    """Raise ``_Violation`` for the first invariant the call broke. The call log (emptied
    here) says which invariants the call touched and on which keys (engine.runtime.invariants)."""
    guard.internal()
    logged = take_log(conn) if pt.logs else None
    guard.invariant()
    chk = first_violated(conn, pt.invariants, logged, now, pt.inv_sql)
    if chk is None:
        return
    found = chk.violations(conn, logged, now)
    if found is None:  # pragma: no cover - the combined check just saw a row
        raise _Violation(f"invariant {chk.inv.name!r} would be violated")
    names, rows = found
    inv = chk.inv
    dicts = [dict(zip(names, map(clean, r), strict=False)) for r in rows[:3]]
    text = fill(inv.message, dicts[0]) if inv.message else (inv.description or "it must hold")
    more = f" (and more; first {len(dicts)} shown)" if len(rows) > 3 else ""
    rows_text = "; ".join(json.dumps(d, ensure_ascii=False, default=str) for d in dicts)
    raise _Violation(
        f"invariant {inv.name!r} would be violated: {text} Violating rows: {rows_text}{more}"
    )


def prepare_call(
    conn: sqlite3.Connection,
    pt: PreparedTool,
    binds: dict[str, Any],
    now: str,
    domain: str,
    taken: set[str] | None = None,
    preconditions: bool = True,
    guard: Guard | None = None,
) -> tuple[dict[str, Any], tuple[int, str] | None]:
    """The steps of a call before its effects, on the current state: ``:now``, generated
    ids, lets, then the preconditions in order. Returns the bind dict and, if one fails,
    (its index, its message filled from the binds and the row). ``binds`` are validated
    params (``pt.validate``). Sessions, procedural-testing oracles and the task sampler all
    predict a call through this one function, so they cannot drift apart. With ``guard``,
    ids are drawn by the engine and the tool's own SQL runs under its read permissions."""
    binds["now"] = now
    if pt.gens:
        taken = set() if taken is None else taken
        for gname, g, sql, cache in pt.gens:
            binds[gname], probes = new_id(conn, domain, pt.name, gname, g, taken, sql, cache)
            pt.id_probes += probes
    if guard is not None:
        guard.tool(pt.perm_read)
    for n, let_sql in pt.lets:
        row = conn.execute(let_sql, binds).fetchone()
        binds[n] = None if row is None else row[0]
    if preconditions:
        for i, (pre_sql, template) in enumerate(pt.pre):
            cur = conn.execute(pre_sql, binds)
            row = cur.fetchone()
            if row is None or not truthy(row[0]):
                values = dict(binds)
                if row is not None:
                    values.update(zip([d[0] for d in cur.description][1:], row[1:], strict=False))
                return binds, (i, fill(template, values))
    return binds, None


def run_tool(
    conn: sqlite3.Connection,
    guard: Guard,
    pt: PreparedTool,
    args: dict[str, Any],
    now: str,
    domain: str,
    budget: StepBudget | None = None,
) -> ToolResult:
    """Run one call of ``pt`` with already-parsed ``args``; never raises. With ``budget``,
    the call's SQL is capped at its steps and a runaway call fails as ``timeout``."""
    name = pt.name
    try:
        binds = pt.validate(args)
    except ArgError as exc:
        return failure(name, ErrorType.INVALID_ARGUMENTS, str(exc))
    opened = nested = False
    if budget is not None:
        budget.start()
    try:
        binds, failed = prepare_call(conn, pt, binds, now, domain, guard=guard)
        if failed is not None:
            return failure(name, ErrorType.PRECONDITION_FAILED, failed[1])
        if pt.read_only:
            return ToolResult(True, _fetch_result(conn, pt, binds), None, "", name)
        guard.internal()
        nested = conn.in_transaction
        conn.execute(_SAVEPOINT)
        opened = True
        guard.tool(pt.perm_write)
        before = conn.total_changes
        for sql, when in pt.effects:
            if when is not None:
                row = conn.execute(when, binds).fetchone()
                if row is None or not truthy(row[0]):
                    continue
            conn.execute(sql, binds)
        if (pt.invariants or pt.logs) and conn.total_changes != before:
            _check_invariants(conn, guard, pt, now)  # also empties the call log
        guard.tool(pt.perm_read)
        result = _fetch_result(conn, pt, binds)
        guard.internal()
        conn.execute(_RELEASE)
        return ToolResult(True, result, None, "", name)
    except _Violation as exc:
        out = failure(name, ErrorType.INVARIANT_VIOLATED, str(exc))
    except sqlite3.Error as exc:
        if budget is not None and budget.exceeded:
            out = failure(
                name,
                ErrorType.TIMEOUT,
                f"the call ran past its budget of {budget.steps:,} SQLite steps: rolled back",
            )
        elif guard.denied:
            out = failure(name, ErrorType.INTERNAL, f"permission denied: {guard.denied}")
        else:
            kind = (
                "constraint failed" if isinstance(exc, sqlite3.IntegrityError) else "database error"
            )
            out = failure(name, ErrorType.INTERNAL, f"{kind}: {exc}")
    except Exception as exc:  # a bad bind value, an id space exhausted, ...
        out = failure(name, ErrorType.INTERNAL, f"{type(exc).__name__}: {exc}")
    finally:
        guard.internal()
        if budget is not None:
            budget.stop()
    if opened:
        rollback(conn, nested)
    return out


def invariant_checks(spec: DomainSpec) -> tuple[LogLayout, list[Check]]:
    """The runtime's invariant checks and the key-log layout that scopes them (public for
    procedural testing, which checks invariants on the keys a change carries)."""
    return plan_checks(spec)


def rollback(conn: sqlite3.Connection, nested: bool = False) -> None:
    """Undo the call's savepoint. Outermost, a full ROLLBACK: ``ROLLBACK TO`` + ``RELEASE``
    would commit an empty transaction and bump the file change counter (bytes differ)."""
    if not conn.in_transaction:
        return
    if nested:
        conn.execute(_ROLLBACK_TO)
        conn.execute(_RELEASE)
    else:
        conn.execute(_ROLLBACK)
