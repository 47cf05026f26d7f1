"""Sketch + seed -> DomainSpec: pick mechanisms and their variants, apply them, validate.

The seed picks which optional mechanisms run and, inside each mechanism, the variants
(state-machine shapes, table splits, policy windows and limits, naming), so one sketch
yields many distinct specs. The result goes through the ordinary spec validation, and
``spec_yaml`` writes it as a YAML file a person can read and edit: SQL as literal blocks,
one comment per table and tool saying which mechanism made it.
"""

from __future__ import annotations

import random
import re
from typing import Any

import yaml

from engine import DomainSpec, ScaleEnvError, SpecError, load_spec
from synth.generate import mechanisms
from synth.generate.builder import Builder
from synth.generate.sketch import DomainSketch

NOW = "2024-05-15 15:00:00"


def _draw(sketch: DomainSketch, seed: int) -> list[str]:
    """Accounts, the sketch's fixed mechanisms and a seeded draw of its optional ones; a
    mechanism whose prerequisite is left out is left out too. Dependency order."""
    rng = random.Random(f"{seed}:{sketch.name}:mechanisms")
    wanted = {"accounts"}
    optional = [m.kind for m in sketch.mechanisms if m.optional]
    keep_all = rng.random() < 0.15
    for m in sketch.mechanisms:
        if not m.optional or keep_all or rng.random() < 0.75:
            wanted.add(m.kind)
    if optional and wanted >= set(optional) and not keep_all:
        wanted.discard(rng.choice(sorted(optional)))
    out: list[str] = []
    for name in mechanisms.ORDER:
        if name in wanted and _met(name, out):
            out.append(name)
    return out


MIN_TOOLS = 32  # below this, a seed's draw of optional mechanisms is too thin: take them all


def choose_mechanisms(sketch: DomainSketch, seed: int) -> list[str]:
    """The mechanisms the spec of ``sketch`` at ``seed`` is made of (what ``compose`` runs)."""
    names = _draw(sketch, seed)
    if len(_apply(sketch, seed, names).tools) >= MIN_TOOLS:
        return names
    every = ["accounts"] + [m.kind for m in sketch.mechanisms]
    out: list[str] = []
    for name in mechanisms.ORDER:
        if name in every and _met(name, out):
            out.append(name)
    return out


def compose(sketch: DomainSketch, seed: int) -> Builder:
    """Run the chosen mechanisms on a fresh builder."""
    return _apply(sketch, seed, choose_mechanisms(sketch, seed))


def _met(name: str, chosen: list[str]) -> bool:
    return all(r in chosen for r in mechanisms.get(name).REQUIRES)


def _apply(sketch: DomainSketch, seed: int, names: list[str]) -> Builder:
    b = Builder(sketch=sketch, seed=seed)
    params = {m.kind: m.params for m in sketch.mechanisms}
    for name in names:
        b.current = name
        b.mechanisms.append(name)
        mechanisms.get(name).apply(b, dict(params.get(name, {})))
    b.current = ""
    return b


def policy_text(b: Builder) -> str:
    s = b.sketch
    parts = [f"# {s.title}: {s.agent_role} policy", "", s.description.strip(), ""]
    for heading, lines in b.policy:
        parts.append(f"## {heading}")
        parts.extend(f"- {ln}" for ln in lines)
        parts.append("")
    if s.policy_notes:
        parts.append("## House rules")
        parts.extend(f"- {ln}" for ln in s.policy_notes)
        parts.append("")
    parts.append("Anything you cannot do with your tools: transfer the user to a human agent.")
    return "\n".join(parts).strip() + "\n"


_AN = re.compile(r"\b([Aa]) (?=(?:[aeio]|u(?!ni|s[eu]|r[aio]))\w)")
_PROSE = {"description", "error", "explanation", "message"}


def articles(text: str) -> str:
    """'a appointment' -> 'an appointment' in generated prose (nouns come from the catalog)."""
    return _AN.sub(lambda m: m.group(1) + "n ", text)


def _prose(node: Any, key: str = "") -> Any:
    if isinstance(node, dict):
        return {k: _prose(v, k) for k, v in node.items()}
    if isinstance(node, list):
        return [_prose(v, key) for v in node]
    if isinstance(node, str) and key in _PROSE:
        return articles(node)
    return node


def spec_data(b: Builder) -> dict[str, Any]:
    s = b.sketch
    return {
        "name": s.name,
        "description": " ".join(s.description.split()),
        "now": NOW,
        "policy": articles(policy_text(b)),
        "builtins": ["calculate", "transfer_to_human_agents"],
        "user_entity": s.user.table,
        "entities": _prose(b.entities),
        "invariants": _prose(b.invariants),
        "policy_rules": _prose(b.policy_rules),
        "tools": _prose(b.tools),
    }


def generate_spec(sketch: DomainSketch, seed: int) -> DomainSpec:
    """The validated spec for ``sketch`` at ``seed`` (deterministic)."""
    b = compose(sketch, seed)
    try:
        return load_spec(spec_data(b), source=f"{sketch.name}@{seed}")
    except SpecError as exc:  # a mechanism bug: name the sketch and seed that show it
        raise ScaleEnvError(f"generated spec {sketch.name} seed {seed}: {exc}") from exc


# ---- readable YAML -------------------------------------------------------------------------------
_SQL_START = {"SELECT ", "INSERT ", "UPDATE ", "DELETE "}


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    if "\n" in value or (len(value) > 80 and value.lstrip()[:7].upper() in _SQL_START):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str)


def _dump(data: Any, indent: int = 0) -> str:
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    pad = " " * indent
    return "".join(pad + ln if ln.strip() else ln for ln in text.splitlines(keepends=True))


def spec_yaml(sketch: DomainSketch, seed: int) -> str:
    """The generated spec as commented YAML; loading it gives the same spec as ``generate_spec``."""
    b = compose(sketch, seed)
    data = spec_data(b)
    s = sketch
    head = [
        f"# {s.title} ({s.sector}): generated by scaleenv from catalog sketch {s.name!r}, seed {seed}.",
        f"# The user is the {s.user.noun} (table {s.user.table}, key {b.uid});"
        f" they authenticate by {' or '.join(a.replace('name_dob', 'name and date of birth').replace('_', ' ') for a in s.user.auth)}.",
        f"# Mechanisms: {', '.join(b.mechanisms)}.",
        "# Edit freely: this is an ordinary domain spec (scaleenv world validate / build).",
    ]
    out = ["\n".join(head) + "\n"]
    out.append(
        _dump(
            {
                k: data[k]
                for k in ("name", "description", "now", "policy", "builtins", "user_entity")
            }
        )
    )
    for section, kind in (("entities", "table"), ("tools", "tool")):
        out.append(f"\n{section}:\n")
        for name, body in data[section].items():
            out.append(f"  # {kind} from mechanism: {b.origin.get(f'{kind}:{name}', '?')}\n")
            out.append(_dump({name: body}, indent=2))
    for section in ("invariants", "policy_rules"):
        if data[section]:
            out.append(f"\n{section}:\n")
            out.append(_dump(data[section], indent=2))
    return "".join(out)
