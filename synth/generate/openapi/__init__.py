"""Any API becomes a world: OpenAPI 3.0/3.1 documents and Google discovery documents are
read into one model of resources, fields and operations, then compiled to a domain spec.

``spec_from_openapi(path, seed)`` and ``spec_from_google(name, seed)`` give the spec (the
synthesis runner plugs these in as sources); ``compile_openapi`` / ``compile_google`` also
return the explained report of every operation compiled or skipped.
"""

from __future__ import annotations

from pathlib import Path

from engine import DomainSpec
from synth.generate.openapi.discovery import google_api_names, load_document, read_discovery
from synth.generate.openapi.infer import compile_model
from synth.generate.openapi.model import OpenAPIError
from synth.generate.openapi.openapi import read_openapi
from synth.generate.openapi.report import CompileReport

__all__ = [
    "CompileReport",
    "OpenAPIError",
    "compile_google",
    "compile_openapi",
    "compile_source",
    "google_api_names",
    "spec_from_google",
    "spec_from_openapi",
]


def compile_google(name: str) -> tuple[DomainSpec, CompileReport]:
    """The spec and report of one API of the installed ``google-api-python-client``."""
    doc = load_document(name)
    model = read_discovery(doc, f"google:{name}")
    return compile_model(model, name=f"google_{name}")


def compile_openapi(path: str | Path) -> tuple[DomainSpec, CompileReport]:
    """The spec and report of an OpenAPI 3.0/3.1 document (YAML or JSON)."""
    return compile_model(read_openapi(path))


def compile_source(source: str) -> tuple[DomainSpec, CompileReport]:
    """``google:NAME`` or a file path."""
    if source.startswith("google:"):
        return compile_google(source.split(":", 1)[1])
    return compile_openapi(source)


def spec_from_google(name: str, seed: int = 0) -> DomainSpec:
    """The compiled spec (the seed is for the runner's protocol: compiling is deterministic
    without it; the world seed is given to the build)."""
    del seed
    return compile_google(name)[0]


def spec_from_openapi(path: str | Path, seed: int = 0) -> DomainSpec:
    del seed
    return compile_openapi(path)[0]
