"""DuckDB analysis over many worlds and trajectories (the ``analysis`` extra).

``open_worlds(DIR)`` reads every world below ``DIR`` into one DuckDB connection: each
table of each world (``main.<table>`` with a ``world`` column, and a schema per world),
and catalog tables under ``meta`` (worlds, tables, tools, tasks, proctest, edges,
trajectories). Imports only ``engine``, DuckDB and Arrow; never ``synth``.
"""

from __future__ import annotations

from engine.analysis.connect import Analysis, open_worlds
from engine.analysis.reader import find_worlds, read_world
from engine.analysis.trajectories import load_trajectories

__all__ = ["Analysis", "find_worlds", "load_trajectories", "open_worlds", "read_world"]
