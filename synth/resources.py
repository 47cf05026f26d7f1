"""Where the files a build needs live: the Alembic environment and the curated domains.

In a checkout they are the top-level ``migrations/`` and ``fixtures/domains/`` folders; in an
installed wheel they are package data under ``synth/_data/`` (mapped there at build time by
``pyproject.toml``), so ``pip install scaleenv`` can build worlds and run the demo anywhere.
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import ScaleEnvError

_PKG = Path(__file__).resolve().parent
_REPO = _PKG.parent


def _first(*candidates: Path) -> Path:
    for c in candidates:
        if c.is_dir():
            return c
    return candidates[0]


def migrations_dir() -> Path:
    """The Alembic environment (``env.py`` + ``script.py.mako``)."""
    return _first(_PKG / "_data" / "migrations", _REPO / "migrations")


def domains_dir() -> Path:
    """The curated domain specs shipped with scaleenv."""
    return _first(_PKG / "_data" / "domains", _REPO / "fixtures" / "domains")


def list_domains() -> list[str]:
    """Names of the curated domains (``retail``, ``airline``, ...), sorted."""
    d = domains_dir()
    return sorted(p.stem for p in d.glob("*.yaml")) if d.is_dir() else []


class UnknownDomainError(ScaleEnvError):
    """A spec argument is neither a file nor the name of a curated domain."""


def resolve_spec(spec: str | Path) -> Path:
    """``spec`` as a path: an existing file, or a curated domain's name (``retail``)."""
    path = Path(spec)
    if path.exists() or path.suffix in (".yaml", ".yml", ".json") or "/" in str(spec):
        return path
    named = domains_dir() / f"{spec}.yaml"
    if named.is_file():
        return named
    names = ", ".join(list_domains())
    raise UnknownDomainError(f"{spec}: no such file, nor a curated domain (one of: {names})")
