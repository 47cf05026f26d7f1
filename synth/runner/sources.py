"""Where the runner's domains come from: a pluggable *source* of work items and specs.

A source turns ``(seed, n)`` into ``n`` work items and one item into a ``DomainSpec``. The
runner ships items to workers by value and rebuilds the source there from its import
reference (``"module:attr"``), so a source is any importable class with a no-argument
constructor -- which also works on a Ray cluster, where no object of the driver exists.
"""

from __future__ import annotations

import hashlib
import importlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from engine import DomainSpec, ScaleEnvError, load_spec
from synth import generate
from synth.generate import openapi


@dataclass(frozen=True)
class WorkItem:
    """One world to build: its stable id, the domain name, the build seed, source params."""

    index: int
    id: str  # "00042-dental_clinic": sorts by index, names the world directory
    name: str
    seed: int
    rows: int | None = None  # the source's suggestion; the runner's --rows overrides it
    params: dict[str, Any] = field(default_factory=dict)  # JSON-able, e.g. {"spec_seed": 7}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorkItem:
        return cls(**data)


@runtime_checkable
class Source(Protocol):
    """What the runner needs from a source of domains."""

    def items(self, seed: int, n: int) -> list[WorkItem]: ...

    def spec(self, item: WorkItem) -> DomainSpec: ...

    def describe(self, item: WorkItem, spec: DomainSpec) -> dict[str, Any]:
        """Catalog columns the spec does not carry: ``sector`` and ``mechanisms``."""
        ...


def derive_seed(seed: int, *parts: object) -> int:
    """A 31-bit seed from a run seed and labels (stable across processes and machines)."""
    blob = ":".join(str(p) for p in (seed, *parts)).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:4], "big") & 0x7FFFFFFF


def item_id(index: int, name: str) -> str:
    safe = "".join(c if c.isalnum() or c in "_-" else "_" for c in name)[:60]
    return f"{index:05d}-{safe}"


# ---- curated fixtures ---------------------------------------------------------------
CURATED_SECTORS = {
    "airline": "travel",
    "bank": "finance",
    "car_rental": "automotive",
    "retail": "retail",
    "tiny_shop": "retail",
    "vet_clinic": "pets",
}


def curated_dir() -> Path:
    """The repository's fixtures/domains (next to the installed ``synth`` package)."""
    return Path(__file__).resolve().parents[2] / "fixtures" / "domains"


class CuratedSource:
    """The hand-written fixtures, cycled with varied seeds and sizes.

    Not distinct domains: a source to build and test the runner on real specs, and the
    "out of distribution" reference set of the diversity report.
    """

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory else curated_dir()

    def names(self) -> list[str]:
        names = sorted(p.stem for p in self.directory.glob("*.yaml"))
        if not names:
            raise ScaleEnvError(f"{self.directory}: no curated domain specs (*.yaml)")
        return names

    def items(self, seed: int, n: int) -> list[WorkItem]:
        names = self.names()
        out = []
        for i in range(n):
            name = names[i % len(names)]
            s = derive_seed(seed, "curated", i, name)
            out.append(WorkItem(i, item_id(i, name), name, s, rows=150 + s % 251))
        return out

    def spec(self, item: WorkItem) -> DomainSpec:
        return load_spec(self.directory / f"{item.name}.yaml")

    def describe(self, item: WorkItem, spec: DomainSpec) -> dict[str, Any]:
        return {"sector": CURATED_SECTORS.get(item.name, "other"), "mechanisms": []}


# ---- the generated catalog (synth.generate) -----------------------------------------
class CatalogSource:
    """Domains composed from the sketch catalog: ``domain_for_index`` picks (sketch, seed)."""

    def items(self, seed: int, n: int) -> list[WorkItem]:
        out = []
        for i in range(n):
            name, spec_seed = generate.domain_for_index(seed, i)
            w_seed = derive_seed(seed, "world", i, name)
            out.append(WorkItem(i, item_id(i, name), name, w_seed, params={"spec_seed": spec_seed}))
        return out

    def spec(self, item: WorkItem) -> DomainSpec:
        sketch = generate.load_sketch(item.name)
        return generate.generate_spec(sketch, int(item.params["spec_seed"]))

    def describe(self, item: WorkItem, spec: DomainSpec) -> dict[str, Any]:
        sketch = generate.load_sketch(item.name)
        mechanisms = generate.choose_mechanisms(sketch, int(item.params["spec_seed"]))
        return {"sector": sketch.sector, "mechanisms": sorted(mechanisms)}


# ---- Google API discovery documents (synth.generate.openapi) ------------------------
class GoogleSource:
    """One world per Google API discovery document of the installed client wheel."""

    def items(self, seed: int, n: int) -> list[WorkItem]:
        names = sorted(openapi.google_api_names())
        if not names:
            raise ScaleEnvError("source google: no discovery documents installed")
        return [
            WorkItem(i, item_id(i, name), name, derive_seed(seed, "google", i, name))
            for i, name in enumerate(names[:n])
        ]

    def spec(self, item: WorkItem) -> DomainSpec:
        return openapi.spec_from_google(item.name, item.seed)

    def describe(self, item: WorkItem, spec: DomainSpec) -> dict[str, Any]:
        return {"sector": "google-api", "mechanisms": []}


SOURCES: dict[str, str] = {
    "curated": "synth.runner.sources:CuratedSource",
    "catalog": "synth.runner.sources:CatalogSource",
    "google": "synth.runner.sources:GoogleSource",
}


def register_source(name: str, ref: str) -> None:
    """Make ``--source NAME`` build from the class at ``ref`` ("package.module:Class")."""
    SOURCES[name] = ref


def source_ref(name_or_ref: str) -> str:
    """The import reference of a source given by name or directly as ``module:attr``."""
    if name_or_ref in SOURCES:
        return SOURCES[name_or_ref]
    if ":" in name_or_ref:
        return name_or_ref
    known = ", ".join(sorted(SOURCES))
    raise ScaleEnvError(f"--source {name_or_ref}: unknown source (known: {known})")


def load_source(ref: str, **kwargs: Any) -> Source:
    """Instantiate the source class at ``ref`` ("module:attr")."""
    mod_name, _, attr = source_ref(ref).partition(":")
    try:
        cls = getattr(importlib.import_module(mod_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ScaleEnvError(f"source {ref}: cannot import ({exc})") from exc
    return cls(**kwargs)
