"""Synthesis at scale: build many worlds from a source, resumably, on a pool or Ray.

``run_synth(n, out, seed=..., workers=..., backend=...)`` is ``scaleenv synth``; a *source*
(curated fixtures, the generated catalog, Google APIs, or any ``module:Class``) says which
domains; ``synth.runner.diversity`` measures how different the resulting worlds are.
"""

from __future__ import annotations

from synth.runner.run import SynthResult, run_synth
from synth.runner.sources import SOURCES, Source, WorkItem, register_source

__all__ = ["SOURCES", "Source", "SynthResult", "WorkItem", "register_source", "run_synth"]
