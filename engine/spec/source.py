"""Reading a spec file into plain data, strictly: what a lax reader would let through silently
(a repeated key, NaN, a Python tag) is an error with its line and column.

YAML is read with a safe loader that refuses duplicate keys (PyYAML keeps the last one);
JSON refuses ``NaN``/``Infinity`` and duplicate keys. Every failure is a ``SpecError`` whose
one line names the file and the place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from engine.errors import SpecError, one_line

MAX_ALIASES = 50  # YAML aliases in one spec: a few are handy, thousands are a bomb


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping, and more than
    ``MAX_ALIASES`` aliases (nested aliases expand exponentially: a "billion laughs")."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases = getattr(self, "_aliases", 0) + 1
            if self._aliases > MAX_ALIASES:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"more than {MAX_ALIASES} aliases (a spec is plain data)",
                    self.peek_event().start_mark,
                )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: the base class reports it
                break
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first at line {first.line + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def _json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number in JSON")


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def parse_spec_text(text: str, source: str, as_json: bool = False) -> dict[str, Any]:
    """Parse spec ``text`` (YAML, or JSON when ``as_json``) into a mapping; ``SpecError`` names
    ``source`` and the line:column of the first problem."""
    try:
        if as_json:
            data = json.loads(text, parse_constant=_json_constant, object_pairs_hook=_json_object)
        else:
            data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except json.JSONDecodeError as exc:
        msg = f"JSON syntax error at line {exc.lineno}:{exc.colno}: {exc.msg}"
        raise SpecError([("(file)", msg)], source) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}:{mark.column + 1}" if mark else ""
        kind = "YAML" if isinstance(exc, yaml.constructor.ConstructorError) else "YAML syntax"
        problem = one_line(exc.problem or exc, 200)
        if "could not determine a constructor" in problem:
            problem = f"unsupported tag{problem.split('tag', 1)[-1]} (a spec is plain data)"
        raise SpecError([("(file)", f"{kind} error{where}: {problem}")], source) from None
    except ValueError as exc:  # JSON NaN/Infinity or a duplicate key
        raise SpecError([("(file)", one_line(f"JSON error: {exc}", 200))], source) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (a control code)
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        msg = f"YAML error at line {line}:{col}: character U+{exc.character:04X} is not allowed"
        raise SpecError([("(file)", msg)], source) from None
    except yaml.YAMLError as exc:
        raise SpecError([("(file)", one_line(f"YAML error: {exc}", 200))], source) from None
    except RecursionError:
        raise SpecError([("(file)", "nested too deeply")], source) from None
    if not isinstance(data, dict):
        got = "nothing" if data is None else type(data).__name__
        raise SpecError(
            [("(file)", f"a spec must be a mapping at the top level, got {got}")], source
        )
    return data


def read_spec_data(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON spec file into plain data (no validation); ``SpecError`` on a file
    that is missing, unreadable or not well-formed."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([("(file)", "no such file")], str(p)) from None
    except IsADirectoryError:
        raise SpecError([("(file)", "is a directory, not a spec file")], str(p)) from None
    except UnicodeDecodeError as exc:
        raise SpecError([("(file)", f"not UTF-8 text (byte {exc.start})")], str(p)) from None
    except OSError as exc:
        raise SpecError([("(file)", f"cannot read: {exc.strerror or exc}")], str(p)) from None
    return parse_spec_text(text, str(p), as_json=p.suffix.lower() == ".json")
