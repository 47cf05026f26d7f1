"""The offline catalog of real service domains: one YAML file of sketches per sector.

A file has ``sector``, optional ``defaults`` (merged under every sketch of the file: a
sector's usual user and roles) and ``sketches``. ``mechanisms`` lists what every world of a
sketch runs, ``optional`` what the composer may leave out for some seeds; an entry is a
name or a mapping ``{kind: ..., params: ...}``.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from engine import ScaleEnvError
from synth.generate.sketch import DomainSketch


def _mechanism(entry: Any) -> dict[str, Any]:
    if isinstance(entry, str):
        return {"kind": entry.rstrip("?"), "optional": entry.endswith("?")}
    if isinstance(entry, dict) and "kind" in entry:
        kind = str(entry["kind"])
        return {
            **entry,
            "kind": kind.rstrip("?"),
            "optional": entry.get("optional", kind.endswith("?")),
        }
    raise ValueError(f"a mechanism is a name or a mapping with 'kind', got {entry!r}")


def _merge(defaults: dict[str, Any], sketch: dict[str, Any], sector: str) -> dict[str, Any]:
    out = {**defaults, **sketch, "sector": sector}
    out["roles"] = {**defaults.get("roles", {}), **sketch.get("roles", {})}
    if "user" in defaults and "user" in sketch:
        out["user"] = {**defaults["user"], **sketch["user"]}
    optional = [
        {"kind": m, "optional": True} if isinstance(m, str) else {**m, "optional": True}
        for m in out.pop("optional", [])
    ]
    out["mechanisms"] = [_mechanism(m) for m in out.get("mechanisms", [])] + [
        _mechanism(m) for m in optional
    ]
    return out


@lru_cache(maxsize=1)
def _catalog() -> dict[str, dict[str, Any]]:
    """Every sketch's data by name, read once from the package's YAML files (sorted by file)."""
    out: dict[str, dict[str, Any]] = {}
    root = resources.files(__name__)
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".yaml"):
            continue
        data = yaml.safe_load(entry.read_text(encoding="utf-8"))
        sector = data["sector"]
        for raw in data.get("sketches", []):
            name = raw.get("name")
            if name in out:
                raise ScaleEnvError(f"catalog/{entry.name}: sketch {name!r} appears twice")
            out[name] = _merge(data.get("defaults", {}), raw, sector)
    return out


def list_catalog() -> list[str]:
    """The names of every catalog sketch, sorted."""
    return sorted(_catalog())


def load_sketch(name: str) -> DomainSketch:
    """One catalog sketch, validated."""
    data = _catalog().get(name)
    if data is None:
        raise ScaleEnvError(
            f"no catalog sketch named {name!r} ({len(_catalog())} sketches; see list_catalog())"
        )
    try:
        return DomainSketch.model_validate(data)
    except ValueError as exc:
        raise ScaleEnvError(f"catalog sketch {name}: {str(exc).splitlines()[0]}") from exc


def sectors() -> dict[str, list[str]]:
    """Sketch names per sector."""
    out: dict[str, list[str]] = {}
    for name, data in sorted(_catalog().items()):
        out.setdefault(data["sector"], []).append(name)
    return out
