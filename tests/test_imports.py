"""Import hygiene: project modules import each other at the top, where the import graph
(checked by import-linter, `.importlinter`) can see them. A function-level import of a
project module must say why on its line (``# lazy: ...``)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _function_level_project_imports() -> list[str]:
    found = []
    for pkg in ("engine", "synth"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            lines = path.read_text().splitlines()
            tree = ast.parse("\n".join(lines))
            for fn in ast.walk(tree):
                if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                for node in ast.walk(fn):
                    if isinstance(node, ast.ImportFrom) and node.module:
                        mod = node.module
                    elif isinstance(node, ast.Import):
                        mod = node.names[0].name
                    else:
                        continue
                    if mod.split(".")[0] not in ("engine", "synth"):
                        continue
                    span = lines[node.lineno - 1 : (node.end_lineno or node.lineno)]
                    if not any("# lazy:" in line for line in span):
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno} {mod}")
    return found


def test_project_modules_are_imported_at_the_top() -> None:
    scanned = list((ROOT / "engine").rglob("*.py")) + list((ROOT / "synth").rglob("*.py"))
    assert len(scanned) > 50
    assert _function_level_project_imports() == []
