"""Structured answers from any OpenAI-compatible endpoint, through ``instructor`` and the cache.

``LLM.structured(stage, Model, messages)`` asks for JSON matching ``Model``'s schema (in
``response_format`` under the default json_schema mode, which a grammar-constrained
llama.cpp server turns into a grammar, so even a tiny model answers with valid JSON), and
lets instructor feed validation errors back for ``max_tries`` attempts. Every raw
request goes through ``ResponseCache`` first: a replayed answer costs no call. Live calls
pass a semaphore (the concurrency limit); the ``openai`` client does transport retries and
timeouts. Model output is data: it is validated into pydantic models, never run.
"""

from __future__ import annotations

import threading
from typing import Any, TypeVar

from pydantic import BaseModel

from engine import ScaleEnvError
from synth.generate.llm.cache import Ledger, ResponseCache, request_key
from synth.generate.llm.config import LLMConfig

M = TypeVar("M", bound=BaseModel)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class LLM:
    """One configured endpoint with its cache and usage ledger.

    ``offline`` forbids live calls: a request not in the cache is an error (replays only).
    """

    def __init__(
        self, config: LLMConfig, cache: ResponseCache | None = None, offline: bool = False
    ) -> None:
        self.config = config
        self.cache = cache if cache is not None else ResponseCache(config.cache_path())
        self.offline = offline
        self.ledger = Ledger(
            price_in=config.price_per_1k_input, price_out=config.price_per_1k_output
        )
        self._sem = threading.BoundedSemaphore(config.concurrency)
        self._client: Any = None
        self._lock = threading.Lock()

    # ---- raw requests -------------------------------------------------------------------
    def _openai(self) -> Any:
        with self._lock:
            if self._client is None:
                try:
                    from openai import OpenAI
                except ImportError:  # pragma: no cover - openai is in the llm extra
                    raise ScaleEnvError(
                        "LLM synthesis needs: pip install 'scaleenv[llm]'"
                    ) from None
                self._client = OpenAI(
                    base_url=self.config.base_url,
                    api_key=self.config.api_key,
                    timeout=self.config.timeout_s,
                    max_retries=self.config.retries,
                )
            return self._client

    def _create(self, stage: str, **request: Any) -> Any:
        """One chat completion: from the cache, else live (then cached)."""
        from openai.types.chat import ChatCompletion

        fmt = request.get("response_format")
        if self.config.mode == "json_object" and isinstance(fmt, dict) and "json_schema" in fmt:
            request["response_format"] = {
                "type": "json_object",
                "schema": fmt["json_schema"]["schema"],
            }
        request.setdefault("temperature", self.config.temperature)
        request.setdefault("max_tokens", self.config.max_tokens)
        key = request_key(request)
        hit = self.cache.get(key)
        if hit is not None:
            self.ledger.record(stage, hit.get("usage"), cached=True)
            return ChatCompletion.model_validate(hit)
        if self.offline:
            raise ScaleEnvError(
                f"{stage}: not in the LLM cache and live calls are off ({key[:12]})"
            )
        with self._sem:
            try:
                resp = self._openai().chat.completions.create(**request)
            except Exception as exc:  # the SDK raises many kinds; one line names the endpoint
                raise ScaleEnvError(
                    f"{stage}: LLM endpoint {self.config.base_url}: {_first_line(exc)}"
                ) from None
        data = resp.model_dump(mode="json", exclude_none=True)
        self.cache.put(key, _plain(request), data)
        self.ledger.record(stage, data.get("usage"), cached=False)
        return ChatCompletion.model_validate(data)

    # ---- what the stages use ---------------------------------------------------------
    def structured(
        self,
        stage: str,
        model: type[M],
        messages: list[dict[str, str]],
        seed: int = 0,
        max_tokens: int | None = None,
    ) -> M:
        """``model`` filled by the LLM; ScaleEnvError (one line) when no attempt validates."""
        import instructor
        from instructor.core.exceptions import InstructorRetryException

        mode = {
            "json_schema": instructor.Mode.JSON_SCHEMA,
            "json_object": instructor.Mode.JSON_SCHEMA,  # response_format rewritten in _create
            "json": instructor.Mode.JSON,
            "tools": instructor.Mode.TOOLS,
        }[self.config.mode]

        def create(**kw: Any) -> Any:
            return self._create(stage, **kw)

        patched = instructor.patch(create=create, mode=mode)
        kwargs: dict[str, Any] = {"seed": seed % (2**31)}
        if max_tokens is not None:
            kwargs["max_tokens"] = max_tokens
        try:
            return patched(
                model=self.config.model,
                messages=[dict(m) for m in messages],
                response_model=model,
                max_retries=self.config.max_tries - 1,  # instructor: retries after the first
                **kwargs,
            )
        except InstructorRetryException as exc:
            last = exc.__cause__ or exc
            if isinstance(last, ScaleEnvError):  # the endpoint failed, not the answer
                raise last from None
            raise ScaleEnvError(
                f"{stage}: no valid {model.__name__} after {self.config.max_tries} tries: "
                f"{_validation_line(last)}"
            ) from None
        except ScaleEnvError:
            raise
        except Exception as exc:  # instructor wraps parse failures in several types
            raise ScaleEnvError(f"{stage}: {type(exc).__name__}: {_first_line(exc)}") from None


def _plain(request: dict[str, Any]) -> dict[str, Any]:
    """The request as JSON data (response models and enums become their JSON forms)."""
    import json

    return json.loads(json_dumps(request))


def json_dumps(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _validation_line(exc: BaseException) -> str:
    """The first concrete problem of a pydantic/instructor error, on one line."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            e = errors()[0]
            where = ".".join(str(p) for p in e.get("loc", ())) or "answer"
            return f"{where}: {e.get('msg', '')}"
        except Exception:  # noqa: BLE001 - fall back to the text
            pass
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return " ".join(lines[:3])[:300] if lines else type(exc).__name__
