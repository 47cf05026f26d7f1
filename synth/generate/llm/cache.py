"""Every model request and its answer on disk, and what each stage of a run spent.

A request is keyed by the SHA-256 of its canonical JSON -- the model, the messages, the
response schema (``response_format`` / tools), the seed and the sampling settings -- so a
rerun that asks the same things reads the same bytes back and makes no call. Entries are
written atomically (temp file, then rename): an interrupted run leaves no torn entry. The
ledger counts calls, cache hits and tokens per stage; tokens read back from the cache are
counted apart, since they cost nothing the second time.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import ScaleEnvError

# request fields that decide the answer; transport settings (timeout, headers) do not
KEY_FIELDS = (
    "model",
    "messages",
    "response_format",
    "tools",
    "tool_choice",
    "seed",
    "temperature",
    "max_tokens",
    "top_p",
)


def request_key(request: dict[str, Any]) -> str:
    """The cache key of a chat-completions request (canonical JSON, SHA-256)."""
    part = {k: request[k] for k in KEY_FIELDS if request.get(k) is not None}
    text = json.dumps(part, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ResponseCache:
    """A directory of ``<key[:2]>/<key>.json`` files, each ``{"request", "response"}``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise ScaleEnvError(f"{path}: unreadable LLM cache entry ({exc}); delete it") from None
        if not isinstance(data, dict) or not isinstance(data.get("response"), dict):
            raise ScaleEnvError(f"{path}: LLM cache entry has no response; delete it")
        return data["response"]

    def put(self, key: str, request: dict[str, Any], response: dict[str, Any]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps(
            {"request": request, "response": response},
            sort_keys=True,
            ensure_ascii=False,
            indent=1,
            default=str,
        )
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(body + "\n")
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def __len__(self) -> int:
        return sum(1 for _ in self.root.glob("*/*.json")) if self.root.is_dir() else 0


@dataclass
class StageUsage:
    """One stage's spend: calls made, answers replayed, tokens (live and replayed)."""

    calls: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # tokens of replayed answers (not spent again)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class Ledger:
    """Usage per stage (sketch, tools, tasktext ...), safe to update from worker threads."""

    stages: dict[str, StageUsage] = field(default_factory=dict)
    price_in: float = 0.0  # per 1k prompt tokens
    price_out: float = 0.0  # per 1k completion tokens
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, stage: str, usage: dict[str, Any] | None, cached: bool) -> None:
        p = int((usage or {}).get("prompt_tokens") or 0)
        c = int((usage or {}).get("completion_tokens") or 0)
        with self._lock:
            s = self.stages.setdefault(stage, StageUsage())
            if cached:
                s.cached += 1
                s.cached_tokens += p + c
            else:
                s.calls += 1
                s.prompt_tokens += p
                s.completion_tokens += c

    def total(self) -> StageUsage:
        t = StageUsage()
        for s in self.stages.values():
            t.calls += s.calls
            t.cached += s.cached
            t.prompt_tokens += s.prompt_tokens
            t.completion_tokens += s.completion_tokens
            t.cached_tokens += s.cached_tokens
        return t

    def cost(self, s: StageUsage) -> float:
        return (s.prompt_tokens * self.price_in + s.completion_tokens * self.price_out) / 1000

    def lines(self) -> list[str]:
        """One line per stage and a total: calls, cache hits, tokens, cost."""
        out = []
        rows = sorted(self.stages.items()) + [("total", self.total())]
        for name, s in rows:
            line = (
                f"{name}: {s.calls} calls, {s.cached} cached, {s.tokens} tokens "
                f"({s.prompt_tokens} in, {s.completion_tokens} out)"
            )
            if s.cached_tokens:
                line += f", {s.cached_tokens} replayed from cache"
            if self.price_in or self.price_out:
                line += f", cost {self.cost(s):.4f}"
            out.append(line)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            name: {
                "calls": s.calls,
                "cached": s.cached,
                "prompt_tokens": s.prompt_tokens,
                "completion_tokens": s.completion_tokens,
                "cached_tokens": s.cached_tokens,
            }
            for name, s in sorted(self.stages.items())
        }
