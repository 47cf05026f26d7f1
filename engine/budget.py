"""A deterministic cap on the work one SQL job may do: SQLite VM steps, not seconds.

A recursive CTE or a cartesian join in spec SQL would otherwise hang a call, a build or
procedural testing. SQLite's progress handler counts virtual-machine instructions; past the
budget the running statement is interrupted and the job is rolled back. Steps, unlike wall
time, are the same on every machine and run, so a timeout is reproducible like any result.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from engine.errors import ScaleEnvError

EVERY = 10_000  # VM instructions between two checks (a Python callback each)
CALL_STEPS = 50_000_000  # one tool call: ~0.1-0.5 s of SQLite work, far above any sane tool
CALL_STEPS_PER_ROW = 100  # ... and more for large worlds, whose unscoped checks scan tables
VALIDATE_STEPS = 2_000_000  # one statement on the empty schema at validation
SEED_STEPS = 200_000_000  # seeding (fills, repair, checks) of a world ...
SEED_STEPS_PER_ROW = 20_000  # ... plus this per row asked for


class BudgetExceeded(ScaleEnvError):
    """SQL ran past its step budget and was interrupted (and rolled back)."""


class StepBudget:
    """A progress handler on ``conn`` that interrupts after ``steps`` VM instructions once
    armed with ``start``; unarmed (``stop``) it never interrupts."""

    def __init__(self, conn: sqlite3.Connection, steps: int) -> None:
        self.steps = steps
        self.left = -1
        self.armed = False
        self.exceeded = False
        conn.set_progress_handler(self._tick, EVERY)

    def _tick(self) -> int:
        if not self.armed:
            return 0
        self.left -= 1
        if self.left < 0:
            self.exceeded = True
            return 1
        return 0

    def start(self, steps: int | None = None) -> None:
        self.left = max(1, (self.steps if steps is None else steps) // EVERY)
        self.armed, self.exceeded = True, False

    def stop(self) -> None:
        self.armed = False


@contextmanager
def bounded(conn: sqlite3.Connection, steps: int, what: str) -> Iterator[StepBudget]:
    """Run the block under a budget; an interrupted statement becomes ``BudgetExceeded``
    naming ``what`` (the connection's own handler is removed afterwards)."""
    budget = StepBudget(conn, steps)
    budget.start()
    try:
        yield budget
    except Exception as exc:  # the interrupted statement's error, however it was wrapped
        if budget.exceeded:
            inner = str(exc).removesuffix("interrupted").rstrip(": ")
            where = f"{what} ({inner})" if inner and inner != "interrupted" else what
            raise BudgetExceeded(
                f"{where}: ran past its budget of {steps:,} SQLite steps (an unbounded "
                "recursive CTE or a cartesian join?)"
            ) from exc
        raise
    finally:
        budget.stop()
        conn.set_progress_handler(None, 0)


def seed_steps(rows: int | None) -> int:
    """The step budget of seeding a world of about ``rows`` rows."""
    return SEED_STEPS + SEED_STEPS_PER_ROW * max(0, rows or 0)


def call_steps(rows: int) -> int:
    """The step budget of one tool call on a world of ``rows`` rows."""
    return CALL_STEPS + CALL_STEPS_PER_ROW * max(0, rows)
