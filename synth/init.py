"""``scaleenv init NAME``: start a new domain from a small, commented spec that works.

The template (``synth/templates/domain.yaml``, shipped in the wheel) is a library lending desk:
three tables, an invariant, eight tools with preconditions, generated ids and a fill. It is
not a copy of a curated fixture, and a test builds it (0 quarantined tools, >= 5 tasks), so a
new user edits something that already passes procedural testing and yields tasks.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from engine.errors import ScaleEnvError
from engine.spec.source import parse_spec_text
from engine.spec.validate import load_spec

TEMPLATE = Path(__file__).resolve().parent / "templates" / "domain.yaml"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class InitError(ScaleEnvError):
    """``scaleenv init`` cannot write the new spec (bad name, file exists)."""


def domain_text(name: str) -> str:
    """The commented spec text of a new domain called ``name`` (validated before it is shown)."""
    if not _NAME.fullmatch(name):
        raise InitError(f"{name!r}: a domain name is snake_case (a-z, 0-9, _; a letter first)")
    text = TEMPLATE.read_text(encoding="utf-8").replace("__NAME__", name)
    load_spec(parse_spec_text(text, str(TEMPLATE)), source=str(TEMPLATE))  # a template bug
    return text


def init_domain(name: str, out: str | Path | None = None, force: bool = False) -> Path:
    """Write the spec of a new domain to ``out``: a ``.yaml`` file, or a folder that gets
    ``NAME.yaml`` (default: ``./NAME.yaml``). Refuses to replace a file unless ``force``;
    writes atomically (a temporary file renamed into place)."""
    text = domain_text(name)
    path = Path(out) if out is not None else Path(".")
    if path.suffix.lower() not in (".yaml", ".yml"):
        path = path / f"{name}.yaml"
    if path.exists() and not force:
        raise InitError(f"{path}: exists; pass --force to replace it")
    if path.is_dir():
        raise InitError(f"{path}: is a directory")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
