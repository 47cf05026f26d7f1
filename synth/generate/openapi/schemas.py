"""JSON-Schema-like objects (OpenAPI schemas, discovery schemas) -> ``Field`` lists.

Both formats spell properties, formats, enums, ``readOnly`` and ``$ref`` the same way; only
how a ``$ref`` is found and how "required" is said differ, so the reader passes a resolver.
``$ref`` cycles end at ``MAX_DEPTH``: a recursive schema becomes a shallow table, not a loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from synth.generate.openapi.model import Field, OpenAPIError

Resolver = Callable[[str, str], tuple[dict[str, Any], str]]  # (ref, where) -> (schema, where)
MAX_DEPTH = 2
SCALARS = ("string", "integer", "number", "boolean")


def _num(v: Any) -> float | None:
    try:
        return None if v is None else float(v)
    except (TypeError, ValueError):
        return None


def _int(v: Any) -> int | None:
    f = _num(v)
    return None if f is None or f < 0 else int(f)


def deref(schema: Any, where: str, resolve: Resolver) -> tuple[dict[str, Any], str]:
    """Follow ``$ref`` (and a lone ``allOf`` member) to the schema it names."""
    seen: set[str] = set()
    while isinstance(schema, dict):
        if "$ref" in schema:
            ref = schema["$ref"]
            if not isinstance(ref, str):
                raise OpenAPIError(f"{where}/$ref: a $ref must be a string")
            if ref in seen:
                raise OpenAPIError(f"{where}/$ref: '{ref}' refers to itself")
            seen.add(ref)
            extra = {k: v for k, v in schema.items() if k != "$ref"}
            target, where = resolve(ref, where + "/$ref")
            schema = {
                **target,
                **{k: v for k, v in extra.items() if k in ("readOnly", "description")},
            }
            continue
        members = schema.get("allOf")
        if isinstance(members, list) and len(members) == 1:  # allOf: [$ref] + readOnly etc.
            extra = {k: v for k, v in schema.items() if k != "allOf"}
            target, where = deref(members[0], f"{where}/allOf/0", resolve)
            return {**target, **extra}, where
        if isinstance(members, list) and members:
            merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
            for i, m in enumerate(members):
                sub, _ = deref(m, f"{where}/allOf/{i}", resolve)
                merged["properties"].update(sub.get("properties") or {})
                merged["required"] += list(sub.get("required") or [])
            rest = {k: v for k, v in schema.items() if k != "allOf"}
            merged["properties"].update(rest.pop("properties", {}) or {})
            merged["required"] += list(rest.pop("required", []) or [])
            return {**rest, **merged}, where
        return schema, where
    raise OpenAPIError(f"{where}: a schema must be an object, got {type(schema).__name__}")


def kind_of(schema: dict[str, Any]) -> str:
    t = schema.get("type")
    if isinstance(t, list):  # OpenAPI 3.1: ["string", "null"]
        t = next((x for x in t if x != "null"), None)
    if t is None:
        if "properties" in schema or "additionalProperties" in schema:
            return "object"
        if "items" in schema:
            return "array"
        if "enum" in schema:
            return "string"
        for union in ("oneOf", "anyOf"):
            if union in schema:
                return union
        return "any"
    return str(t)


def to_field(
    name: str,
    schema: Any,
    where: str,
    resolve: Resolver,
    *,
    required: bool = False,
    depth: int = 0,
) -> Field:
    """One property as a Field; objects and arrays of objects keep their children."""
    s, at = deref(schema, where, resolve)
    desc = (
        str(schema.get("description") or s.get("description") or "")
        if isinstance(schema, dict)
        else ""
    )
    kind = kind_of(s)
    enum = s.get("enum")
    f = Field(
        name=name,
        where=where,
        kind=kind,
        format=s.get("format"),
        enum=[str(e) for e in enum if e is not None] if isinstance(enum, list) and enum else None,
        description=" ".join(desc.split()),
        required=required or desc.lstrip().lower().startswith("required"),
        read_only=bool(s.get("readOnly") or (isinstance(schema, dict) and schema.get("readOnly")))
        or desc.lower().startswith("output only"),
        minimum=_num(s.get("minimum")),
        maximum=_num(s.get("maximum")),
        min_length=_int(s.get("minLength")),
        max_length=_int(s.get("maxLength")),
        pattern=s.get("pattern") if isinstance(s.get("pattern"), str) else None,
        example=s.get(
            "example",
            (s.get("examples") or [None])[0] if isinstance(s.get("examples"), list) else None,
        ),
    )
    if kind == "object":
        props = s.get("properties") or {}
        if not props and s.get("additionalProperties") not in (None, False):
            f.is_map = True
        if depth < MAX_DEPTH:
            f.children = object_fields(s, at, resolve, depth=depth + 1)
    elif kind == "array":
        items = s.get("items")
        if isinstance(items, dict):
            item, iat = deref(items, at + "/items", resolve)
            f.items_kind = kind_of(item)
            if f.items_kind == "object" and depth < MAX_DEPTH:
                f.children = object_fields(item, iat, resolve, depth=depth + 1)
            elif f.items_kind in SCALARS and f.enum is None and isinstance(item.get("enum"), list):
                f.enum = [str(e) for e in item["enum"] if e is not None]
    return f


def object_fields(
    schema: dict[str, Any], where: str, resolve: Resolver, *, depth: int = 0
) -> list[Field]:
    """The properties of an object schema, in document order."""
    props = schema.get("properties") or {}
    if not isinstance(props, dict):
        raise OpenAPIError(f"{where}/properties: must be a mapping")
    req = schema.get("required") or []
    req = set(req) if isinstance(req, list) else set()
    return [
        to_field(str(n), p, f"{where}/properties/{n}", resolve, required=n in req, depth=depth)
        for n, p in props.items()
    ]
