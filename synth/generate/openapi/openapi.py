"""OpenAPI 3.0/3.1 documents (YAML or JSON) -> ApiModel.

Paths group into resources by their shape: ``/pets`` is a collection, ``/pets/{petId}`` its
item, ``/owners/{ownerId}/pets`` a collection under ``owners``, and a literal after an item
(``/pets/{petId}/approve``, ``/pets/{petId}:cancel``) a custom verb. Local ``$ref``s are
resolved lazily (recursive schemas stay finite); anything the compiler cannot take (an
external reference, Swagger 2.0) stops it with the JSON path in the message.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from synth.generate.openapi.model import ApiModel, OpenAPIError, Operation, Resource, Skip
from synth.generate.openapi.schemas import deref, kind_of, object_fields, to_field

METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")
_PARAM = re.compile(r"^\{[^}]+\}$")


def pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _load(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise OpenAPIError(f"{path}: not YAML or JSON: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise OpenAPIError(f"{path}: #: an OpenAPI document must be a mapping")
    if "swagger" in data:
        raise OpenAPIError(
            f"{path}: #/swagger: Swagger {data['swagger']} is not supported; convert it to OpenAPI 3"
        )
    version = str(data.get("openapi", ""))
    if not re.match(r"^3\.[01](\.\d+)?$", version):
        raise OpenAPIError(
            f"{path}: #/openapi: only OpenAPI 3.0 and 3.1 are supported, got {version!r}"
        )
    if not isinstance(data.get("paths"), dict) or not data["paths"]:
        raise OpenAPIError(f"{path}: #/paths: the document has no paths")
    _check_refs(data, "#", path)
    return data


def _check_refs(node: Any, where: str, path: Path) -> None:
    """Every ``$ref`` must be local: fail before compiling anything, naming the first."""
    if isinstance(node, dict):
        for k, v in node.items():
            at = f"{where}/{str(k).replace('~', '~0').replace('/', '~1')}"
            if k == "$ref" and isinstance(v, str) and not v.startswith("#/"):
                raise OpenAPIError(
                    f"{path}: {at}: external reference '{v}' is not supported (only local '#/...' references)"
                )
            _check_refs(v, at, path)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _check_refs(v, f"{where}/{i}", path)


def _resolver(doc: dict[str, Any], path: Path):
    def resolve(ref: str, where: str) -> tuple[dict[str, Any], str]:
        node: Any = doc
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise OpenAPIError(f"{path}: {where}: '{ref}' does not resolve")
            node = node[part]
        if not isinstance(node, dict):
            raise OpenAPIError(f"{path}: {where}: '{ref}' is not an object")
        return node, ref

    return resolve


def read_openapi(path: str | Path) -> ApiModel:
    """An OpenAPI document as resources, fields and operations."""
    p = Path(path)
    doc = _load(p)
    resolve = _resolver(doc, p)
    info = doc.get("info") or {}
    model = ApiModel(
        name=str(info.get("title") or p.stem),
        title=str(info.get("title") or p.stem),
        description=" ".join(str(info.get("description") or "").split()),
        source=str(p),
    )
    paths: dict[str, Any] = doc["paths"]
    groups = _group(paths)
    for coll in sorted(groups, key=lambda c: (c.count("/"), c)):
        item, members = groups[coll]
        _resource(model, coll, item, members, paths, resolve)
    return model


def _group(paths: dict[str, Any]) -> dict[str, tuple[str | None, list[tuple[str, str, str]]]]:
    """collection path -> (item path, [(path, role, verb)]) with role collection/item/verb."""
    out: dict[str, tuple[str | None, list[tuple[str, str, str]]]] = {}
    keys = set(paths)
    for p in sorted(paths):
        segs = [s for s in p.strip("/").split("/") if s]
        if not segs:
            continue
        last = segs[-1]
        if ":" in last and not _PARAM.match(last):
            base, verb = last.split(":", 1)
            coll = "/" + "/".join(segs[:-1]) if _PARAM.match(base) and len(segs) > 1 else None
            if coll:
                item = "/" + "/".join(segs[:-1] + [base])
                out.setdefault(coll, (item, []))[1].append((p, "verb", verb))
                continue
        if _PARAM.match(last) and len(segs) > 1:
            coll = "/" + "/".join(segs[:-1])
            entry = out.setdefault(coll, (p, []))
            out[coll] = (p, entry[1])
            entry[1].append((p, "item", ""))
            continue
        is_verb = (
            len(segs) > 1
            and _PARAM.match(segs[-2])
            and not any(k.startswith(p + "/") for k in keys)
            and "get" not in (paths[p] or {})
        )
        if is_verb:
            coll = "/" + "/".join(segs[:-2])
            item = "/" + "/".join(segs[:-1])
            out.setdefault(coll, (item, []))[1].append((p, "verb", last))
            continue
        out.setdefault(p, (None, []))[1].append((p, "collection", ""))
    return out


def _resource(model, coll: str, item: str | None, members, paths, resolve) -> None:
    segs = [s for s in coll.strip("/").split("/") if s]
    name = segs[-1] if segs and not _PARAM.match(segs[-1]) else "items"
    parent_coll = None
    for i in range(len(segs) - 1, 0, -1):
        if _PARAM.match(segs[i]):
            parent_coll = "/" + "/".join(segs[:i])
            break
    parent = parent_coll if parent_coll in model.resources else None
    r = Resource(key=coll, name=name, where=pointer("paths", coll), parent=parent)
    schema = _item_schema(coll, item, paths, resolve)
    if schema is not None:
        s, at = schema
        r.description = " ".join(str(s.get("description") or "").split())
        r.fields = object_fields(s, at, resolve)
    for p, role, verb in members:
        ops = paths[p] or {}
        shared = list(ops.get("parameters") or [])
        for method in METHODS:
            if method not in ops:
                continue
            op = ops[method] or {}
            where = pointer("paths", p, method)
            op_id = str(op.get("operationId") or f"{method.upper()} {p}")
            kind = _kind(role, method)
            if kind is None:
                model.skipped.append(
                    Skip(
                        op_id,
                        where,
                        f"{method.upper()} on a {role} path has no CRUD meaning",
                        "other",
                    )
                )
                continue
            if schema is None:
                model.skipped.append(
                    Skip(
                        op_id,
                        where,
                        "no item schema: no JSON response or request object for this resource",
                        kind,
                    )
                )
                continue
            params = shared + list(op.get("parameters") or [])
            r.operations.append(
                Operation(
                    op_id=op_id,
                    kind=kind,  # type: ignore[arg-type]
                    verb=verb or method,
                    http=method.upper(),
                    path=p,
                    where=where,
                    description=" ".join(
                        str(op.get("summary") or op.get("description") or "").split()
                    ),
                    query=_query(params, where, resolve),
                    body=_body(op, where, resolve) if kind == "custom" else [],
                )
            )
    if r.operations or schema is not None:
        model.resources[coll] = r


def _kind(role: str, method: str) -> str | None:
    table = {
        ("collection", "get"): "list",
        ("collection", "post"): "create",
        ("item", "get"): "get",
        ("item", "put"): "update",
        ("item", "patch"): "patch",
        ("item", "delete"): "delete",
        ("verb", "post"): "custom",
        ("verb", "put"): "custom",
        ("verb", "patch"): "custom",
    }
    return table.get((role, method))


def _json_schema(container: Any, where: str, resolve) -> tuple[dict[str, Any], str] | None:
    """The JSON schema of a response or request body (``content/application/json/schema``)."""
    if not isinstance(container, dict):
        return None
    if "$ref" in container:
        container, where = resolve(container["$ref"], where + "/$ref")
    content = container.get("content") or {}
    for mime in sorted(content, key=lambda m: (m != "application/json", m)):
        if "json" in mime and isinstance(content[mime], dict) and "schema" in content[mime]:
            at = f"{where}/content/{mime.replace('/', '~1')}/schema"
            return deref(content[mime]["schema"], at, resolve)
    return None


def _item_schema(coll: str, item: str | None, paths, resolve) -> tuple[dict[str, Any], str] | None:
    cands: list[tuple[Any, str]] = []
    if item and item in paths:
        get = (paths[item] or {}).get("get") or {}
        for code in ("200", "201", 200, 201):
            if code in (get.get("responses") or {}):
                cands.append(
                    (get["responses"][code], pointer("paths", item, "get", "responses", str(code)))
                )
    post = (paths.get(coll) or {}).get("post") or {}
    if "requestBody" in post:
        cands.append((post["requestBody"], pointer("paths", coll, "post", "requestBody")))
    for container, where in cands:
        found = _json_schema(container, where, resolve)
        if found and kind_of(found[0]) == "object" and found[0].get("properties"):
            return found
    get = (paths.get(coll) or {}).get("get") or {}
    for code in ("200", 200):
        resp = (get.get("responses") or {}).get(code)
        found = _json_schema(resp, pointer("paths", coll, "get", "responses", str(code)), resolve)
        if not found:
            continue
        s, at = found
        if kind_of(s) == "array" and isinstance(s.get("items"), dict):
            return deref(s["items"], at + "/items", resolve)
        for pname, prop in (s.get("properties") or {}).items():
            ps, pat = deref(prop, f"{at}/properties/{pname}", resolve)
            if kind_of(ps) == "array" and isinstance(ps.get("items"), dict):
                return deref(ps["items"], pat + "/items", resolve)
    return None


def _query(params: list[Any], where: str, resolve) -> list:
    out = []
    for i, p in enumerate(params):
        p, at = deref(p, f"{where}/parameters/{i}", resolve)
        if p.get("in") != "query" or "name" not in p:
            continue
        schema = p.get("schema") or {}
        f = to_field(str(p["name"]), schema, at + "/schema", resolve)
        if f.kind in ("string", "integer", "number", "boolean"):
            out.append(f)
    return out


def _body(op: dict[str, Any], where: str, resolve) -> list:
    found = _json_schema(op.get("requestBody"), where + "/requestBody", resolve)
    if not found or kind_of(found[0]) != "object":
        return []
    return object_fields(found[0], found[1], resolve, depth=1)
