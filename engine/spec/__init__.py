"""The contract: spec models, id patterns, SQL analysis, the scope language, validation and
task models. Both sides (``engine`` at run time, ``synth`` at build time) read it.

The models are re-exported here (``from engine.spec import DomainSpec``); validation lives in
``engine.spec.validate`` and is imported from there, so importing the models stays cheap.
"""

from engine.spec.models import *  # noqa: F403
from engine.spec.models import __all__ as _models_all

__all__ = list(_models_all)
