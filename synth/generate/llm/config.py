"""Where the language model lives and how hard to try: endpoint, model, key, limits.

Nothing calls out unless configured: ``load_config`` reads ``SCALEENV_LLM_BASE_URL``,
``SCALEENV_LLM_MODEL`` and ``SCALEENV_LLM_API_KEY`` (or a YAML/JSON file named by
``--llm-config`` or ``SCALEENV_LLM_CONFIG``) and refuses in one line when the endpoint or the
model is missing. Environment variables win over the file, so a shared file can hold the
limits while each shell picks its endpoint. A key never has to sit in a file: the file may
name the variable that holds it (``api_key_env``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engine import ScaleEnvError

ENV_PREFIX = "SCALEENV_LLM_"
Mode = Literal["json_schema", "json_object", "json", "tools"]


class LLMConfig(BaseModel):
    """One endpoint and the limits every request to it runs under."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str  # an OpenAI-compatible endpoint, ending in /v1
    model: str
    api_key: str = Field(default="none", repr=False)  # local servers take any text
    # json_schema: the schema goes in response_format (OpenAI structured outputs; llama.cpp's
    # llama-server and vLLM turn it into a grammar); json_object: the same schema as
    # {"type": "json_object", "schema": ...}, the form llama-cpp-python's server constrains;
    # json / tools: instructor's prompt-side JSON or tool calling, for APIs without either
    mode: Mode = "json_schema"
    timeout_s: float = Field(default=120.0, gt=0)
    retries: int = Field(default=2, ge=0, le=10)  # transport retries (connection, 5xx, 429)
    max_tries: int = Field(default=3, ge=1, le=10)  # attempts to get output that validates
    concurrency: int = Field(default=2, ge=1, le=64)  # requests in flight at once
    temperature: float = Field(default=0.0, ge=0, le=2)
    max_tokens: int = Field(default=1500, ge=16, le=32000)
    cache_dir: Path | None = None  # None: ~/.cache/scaleenv/llm (or SCALEENV_LLM_CACHE)
    price_per_1k_input: float = Field(default=0.0, ge=0)  # for the cost line; 0 for local
    price_per_1k_output: float = Field(default=0.0, ge=0)

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {v!r}")
        return v.rstrip("/")

    def cache_path(self) -> Path:
        if self.cache_dir is not None:
            return self.cache_dir
        env = os.environ.get(ENV_PREFIX + "CACHE")
        if env:
            return Path(env)
        return Path.home() / ".cache" / "scaleenv" / "llm"


_ENV_FIELDS = {
    "BASE_URL": "base_url",
    "MODEL": "model",
    "API_KEY": "api_key",
    "MODE": "mode",
    "TIMEOUT": "timeout_s",
    "RETRIES": "retries",
    "MAX_TRIES": "max_tries",
    "CONCURRENCY": "concurrency",
    "MAX_TOKENS": "max_tokens",
    "CACHE": "cache_dir",
}


def _read_file(path: Path, env: dict[str, str]) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScaleEnvError(f"{path}: cannot read LLM config: {exc.strerror or exc}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ScaleEnvError(f"{path}: not valid YAML/JSON: {first}") from None
    if not isinstance(data, dict):
        raise ScaleEnvError(f"{path}: an LLM config is a mapping (base_url, model, ...)")
    key_env = data.pop("api_key_env", None)
    if key_env:
        if not isinstance(key_env, str) or key_env not in env:
            raise ScaleEnvError(f"{path}: api_key_env names {key_env!r}, which is not set")
        data["api_key"] = env[key_env]
    return data


def load_config(
    path: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> LLMConfig:
    """The configured endpoint: file (``path`` or $SCALEENV_LLM_CONFIG), then the
    SCALEENV_LLM_* variables, then ``overrides`` (CLI options that were given)."""
    env = dict(os.environ) if env is None else env
    src = path or env.get(ENV_PREFIX + "CONFIG")
    data: dict[str, Any] = _read_file(Path(src), env) if src else {}
    for suffix, field in _ENV_FIELDS.items():
        if env.get(ENV_PREFIX + suffix):
            data[field] = env[ENV_PREFIX + suffix]
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    missing = [f for f in ("base_url", "model") if not data.get(f)]
    if missing:
        names = " and ".join(ENV_PREFIX + m.upper() for m in missing)
        raise ScaleEnvError(
            f"LLM not configured: set {names} (or --llm-config FILE with {', '.join(missing)})"
        )
    try:
        return LLMConfig.model_validate(data)
    except ValidationError as exc:
        e = exc.errors()[0]
        where = ".".join(str(p) for p in e["loc"]) or "config"
        raise ScaleEnvError(f"LLM config {where}: {e['msg']}") from None
