"""LLM synthesis through ``instructor``: a domain from one sentence, natural task text.

Optional (``pip install 'scaleenv[llm]'``) and off unless configured: ``load_config`` reads
the endpoint from SCALEENV_LLM_* or a file. Model output is data -- a validated sketch, SQL
checked by the spec validator, text checked against the task's facts -- never code that
runs. Every request/response is cached on disk, so reruns are byte-identical and free.
"""

from __future__ import annotations

from synth.generate.llm.cache import Ledger, ResponseCache, request_key
from synth.generate.llm.client import LLM
from synth.generate.llm.config import LLMConfig, load_config
from synth.generate.llm.domain import DomainResult, StageError, synth_domain

__all__ = [
    "LLM",
    "DomainResult",
    "LLMConfig",
    "Ledger",
    "ResponseCache",
    "StageError",
    "load_config",
    "request_key",
    "synth_domain",
]
