"""Google API discovery documents (from the installed ``google-api-python-client``) -> ApiModel.

The documents are read at run time from the wheel's ``discovery_cache`` (never vendored).
Discovery already names resources and methods: nested ``resources`` are the parent chain,
``list/get/insert|create/update/patch/delete`` are the CRUD kinds and any other method on a
single item (``{+name}:cancel``, ``.../stop``) is a custom verb.
"""

from __future__ import annotations

import json
import re
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from synth.generate.openapi.model import ApiModel, Field, OpenAPIError, Operation, Resource, Skip
from synth.generate.openapi.schemas import deref, kind_of, object_fields, to_field

KINDS = {
    "list": "list",
    "get": "get",
    "insert": "create",
    "create": "create",
    "update": "update",
    "patch": "patch",
    "delete": "delete",
}
NOT_MODELED = {
    "getIamPolicy": "IAM policies are not modeled",
    "setIamPolicy": "IAM policies are not modeled",
    "testIamPermissions": "IAM permissions are not modeled",
    "watch": "push notification channels are not modeled",
    "aggregatedList": "cross-parent listing duplicates list",
}
_STABLE = re.compile(r"^v\d+(\.\d+)*$")


def documents_dir() -> Path:
    """Where the installed client keeps its discovery documents."""
    try:
        import googleapiclient
    except ImportError as exc:
        raise OpenAPIError(
            "google: install the optional extra: pip install 'scaleenv[google]'"
        ) from exc
    return Path(googleapiclient.__file__).parent / "discovery_cache" / "documents"


def _version_key(version: str) -> tuple:
    nums = tuple(int(n) for n in re.findall(r"\d+", version))
    return (bool(_STABLE.match(version)), "alpha" not in version, nums, version)


@lru_cache(maxsize=1)
def _versions() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in sorted(documents_dir().glob("*.json")):
        name, _, version = p.name[: -len(".json")].partition(".")
        if not version:  # index.json: the directory list, not an API
            continue
        out.setdefault(name, []).append(version)
    return out


def google_api_names() -> list[str]:
    """Names of the APIs whose discovery documents the installed client ships, sorted."""
    return sorted(_versions())


def _method_count(node: dict[str, Any]) -> int:
    return sum(
        len(r.get("methods") or {}) + _method_count(r)
        for r in (node.get("resources") or {}).values()
    )


def most_methods(name: str) -> int:
    """The most methods any shipped version of API ``name`` has: a world gets at most one
    tool per method, so this bounds what the API can become (the corpus report's ceiling)."""
    docs = [load_document(f"{name}.{v}") for v in _versions().get(name, [])]
    return max((len(d.get("methods") or {}) + _method_count(d) for d in docs), default=0)


@cache
def preferred_version(name: str) -> str:
    """The newest stable version (else the newest beta) among those with at least half the
    methods of the fullest version: a v5 that only uploads media does not hide a full v4."""
    versions = _versions().get(name)
    if not versions:
        raise OpenAPIError(f"google:{name}: no such API in the installed client")
    counts = {
        v: _method_count(json.loads((documents_dir() / f"{name}.{v}.json").read_text("utf-8")))
        for v in versions
    }
    most = max(counts.values())
    return max(versions, key=lambda v: (counts[v] * 2 >= most, _version_key(v)))


def load_document(name: str) -> dict[str, Any]:
    spec = name if "." in name else f"{name}.{preferred_version(name)}"
    path = documents_dir() / f"{spec}.json"
    if not path.exists():
        raise OpenAPIError(f"google:{name}: no discovery document {path.name}")
    return json.loads(path.read_text(encoding="utf-8"))


def read_discovery(doc: dict[str, Any], source: str) -> ApiModel:
    """A discovery document as resources, fields and operations."""
    schemas = doc.get("schemas") or {}

    def resolve(ref: str, where: str) -> tuple[dict[str, Any], str]:
        if ref not in schemas:
            raise OpenAPIError(f"{source}: {where}: unknown schema '{ref}'")
        return schemas[ref], f"#/schemas/{ref}"

    model = ApiModel(
        name=str(doc.get("name") or source),
        title=str(doc.get("title") or doc.get("name") or ""),
        description=" ".join(str(doc.get("description") or "").split()),
        source=source,
    )
    _walk(doc.get("resources") or {}, "#/resources", None, model, resolve, "")
    _parents_from_paths(doc, model)
    return model


def _path_params(path: str) -> list[str]:
    return re.findall(r"\{\+?([^}]+)\}", path)


def _parents_from_paths(doc: dict[str, Any], model: ApiModel) -> None:
    """Older APIs list sibling resources (``tasklists``, ``tasks``) whose paths nest:
    ``lists/{tasklist}/tasks``. A resource whose collection path carries another
    resource's item parameter hangs under that resource."""
    item_param: dict[str, str] = {}
    for key, r in model.resources.items():
        for op in r.operations:
            if op.kind in ("get", "delete", "update", "patch"):
                params = _path_params(op.path)
                if params and params[-1] not in ("name", "resource"):
                    item_param.setdefault(key, params[-1])
    owner = {p: k for k, p in sorted(item_param.items())}
    for key, r in model.resources.items():
        if r.parent is not None:
            continue
        coll = next((op for op in r.operations if op.kind in ("list", "create")), None)
        if coll is None:
            continue
        for p in reversed(_path_params(coll.path)):
            cand = owner.get(p)
            if cand and cand != key and not _descends(model, cand, key):
                r.parent = cand
                break


def _walk(
    resources: dict, where: str, parent: str | None, model: ApiModel, resolve, prefix: str
) -> None:
    """``prefix`` is the full dotted path (keys stay unique: folders.approvalRequests and
    projects.approvalRequests); ``parent`` the nearest ancestor that is a resource."""
    for rname in sorted(resources):
        res = resources[rname]
        at = f"{where}/{rname}"
        key = f"{prefix}{rname}"
        methods = res.get("methods") or {}
        r = Resource(key=key, name=rname, where=at, parent=parent)
        schema_ref = _resource_schema(methods, resolve)
        searches: set[str] = set()
        if schema_ref is None and parent is None and not res.get("resources"):
            schema_ref, searches = _search_schema(methods, resolve)  # a top-level leaf only
        if schema_ref is not None:
            r.schema_name = schema_ref
            schema, sat = resolve(schema_ref, at)
            s, sat = deref(schema, sat, resolve)
            r.description = " ".join(str(s.get("description") or "").split())
            r.fields = object_fields(s, sat, resolve)
        singles = _singletons(methods, set(res.get("resources") or {}))
        for mname in sorted(methods):
            m = methods[mname]
            mat = f"{at}/methods/{mname}"
            op_id = str(m.get("id") or f"{key}.{mname}")
            if any(mname in g for g in singles.values()):
                continue
            if mname in NOT_MODELED:
                model.skipped.append(Skip(op_id, mat, NOT_MODELED[mname], "custom"))
                continue
            if schema_ref is None:
                model.skipped.append(
                    Skip(
                        op_id,
                        mat,
                        "the resource has no item schema (no get, create or list of objects)",
                        KINDS.get(mname, "custom"),
                    )
                )
                continue
            kind = "list" if mname in searches else KINDS.get(mname) or _alias(mname, rname)
            if kind == "custom" and m.get("httpMethod") == "GET":
                model.skipped.append(
                    Skip(op_id, mat, f"'{mname}' is a read-only computed view, not a state change")
                )
                continue
            if kind == "custom" and mname.startswith("batch"):
                model.skipped.append(
                    Skip(op_id, mat, f"'{mname}' is a batch form of other methods")
                )
                continue
            r.operations.append(
                Operation(
                    op_id=op_id,
                    kind=kind,  # type: ignore[arg-type]
                    verb=mname,
                    http=str(m.get("httpMethod") or ""),
                    path=str(m.get("flatPath") or m.get("path") or ""),
                    where=mat,
                    description=" ".join(str(m.get("description") or "").split()),
                    query=_query_params(m, mat, resolve),
                    body=_body(m, mat, resolve) if kind == "custom" else [],
                )
            )
        if r.operations or schema_ref is not None:
            model.resources[key] = r
        for suffix, group in sorted(singles.items()):
            _add_singleton(
                model,
                key if key in model.resources else parent,
                key,
                at,
                suffix,
                group,
                methods,
                resolve,
            )
        _walk(
            res.get("resources") or {},
            f"{at}/resources",
            key if key in model.resources else parent,
            model,
            resolve,
            key + ".",
        )


def _alias(method: str, resource: str) -> str:
    """``createSpan`` on ``spans`` is create, ``listSpans`` list: a CRUD method named with
    its resource. Anything else is a custom verb."""
    m = re.match(r"^(create|insert|get|update|patch|delete|list)([A-Z]\w*)$", method)
    if not m:
        return "custom"
    verb, noun = m.groups()
    res = resource.lower()
    if noun.lower() in (res, res.rstrip("s"), res[:-3] + "y" if res.endswith("ies") else res):
        return KINDS[verb]
    return "custom"


_SINGLE = re.compile(r"^(get|update|patch|delete|set)([A-Z]\w*)$")


def _singletons(methods: dict[str, Any], children: set[str]) -> dict[str, dict[str, str]]:
    """AIP singletons spelled as methods of their parent (``getSettings``/``updateSettings``):
    suffix -> {method: kind}, for suffixes whose get returns or whose update takes a schema."""
    groups: dict[str, dict[str, str]] = {}
    for mname in sorted(methods):
        m = _SINGLE.match(mname)
        if not m or mname in NOT_MODELED:
            continue
        verb, suffix = m.groups()
        if suffix[:1].lower() + suffix[1:] in children:  # patchTraces next to traces: a batch
            continue
        kind = {"get": "get", "delete": "delete", "set": "update"}.get(verb, verb)
        groups.setdefault(suffix, {})[mname] = kind
    out = {}
    for suffix, group in groups.items():
        if any(_singleton_schema(methods[n], k) for n, k in group.items()):
            out[suffix] = group
    return out


def _singleton_schema(m: dict[str, Any], kind: str) -> str | None:
    ref = ((m.get("response") if kind == "get" else m.get("request")) or {}).get("$ref")
    return None if not ref or _is_envelope(ref) else ref


def _add_singleton(model, parent, owner, at, suffix, group, methods, resolve) -> None:
    key = f"{owner}.{suffix}"
    schema_ref = next(
        (r for n, k in sorted(group.items()) if (r := _singleton_schema(methods[n], k))), None
    )
    r = Resource(key=key, name=suffix, where=at, parent=parent, schema_name=schema_ref)
    schema, sat = resolve(schema_ref, at)
    s, sat = deref(schema, sat, resolve)
    r.description = " ".join(str(s.get("description") or "").split())
    r.fields = object_fields(s, sat, resolve)
    for mname, kind in sorted(group.items()):
        m = methods[mname]
        r.operations.append(
            Operation(
                op_id=str(m.get("id") or f"{owner}.{mname}"),
                kind=kind,  # type: ignore[arg-type]
                verb=mname,
                http=str(m.get("httpMethod") or ""),
                path=str(m.get("flatPath") or m.get("path") or ""),
                where=f"{at}/methods/{mname}",
                description=" ".join(str(m.get("description") or "").split()),
            )
        )
    model.resources[key] = r


def _descends(model: ApiModel, key: str, ancestor: str) -> bool:
    seen = set()
    while key is not None and key not in seen:
        if key == ancestor:
            return True
        seen.add(key)
        key = model.resources[key].parent if key in model.resources else None
    return False


def _resource_schema(methods: dict[str, Any], resolve) -> str | None:
    """The item schema: what get returns, else what create/insert takes, else list elements."""
    for name in ("get", "insert", "create", "update", "patch"):
        m = methods.get(name) or {}
        ref = (m.get("response") if name == "get" else m.get("request")) or {}
        if "$ref" in ref and not _is_envelope(ref["$ref"]):
            return ref["$ref"]
    m = methods.get("list") or {}
    ref = (m.get("response") or {}).get("$ref")
    if ref:
        try:
            schema, at = resolve(ref, "list")
        except OpenAPIError:
            return None
        for p in (schema.get("properties") or {}).values():
            if (
                isinstance(p, dict)
                and p.get("type") == "array"
                and "$ref" in (p.get("items") or {})
            ):
                return p["items"]["$ref"]
    return None


_PAGING = re.compile(r"(?i)page|token|kind|etag|total|count|unreachable|next|warning")


def _search_schema(methods: dict[str, Any], resolve) -> tuple[str | None, set[str]]:
    """A resource with no get, create or list whose GET methods (``search``, ``query``,
    ``listHidden``) answer with one array of objects lists those objects: the element is the
    item schema and those methods are its lists."""
    found: dict[str, set[str]] = {}
    for name in sorted(methods):
        m = methods[name]
        ref = (m.get("response") or {}).get("$ref")
        if m.get("httpMethod") != "GET" or name in KINDS or name in NOT_MODELED or not ref:
            continue
        try:
            schema, _at = resolve(ref, name)
        except OpenAPIError:
            continue
        props = schema.get("properties") or {}
        arrays = [
            p["items"]["$ref"]
            for p in props.values()
            if isinstance(p, dict) and p.get("type") == "array" and "$ref" in (p.get("items") or {})
        ]
        rest = [
            k for k, p in props.items() if not (isinstance(p, dict) and p.get("type") == "array")
        ]
        paging = all(_PAGING.search(k) for k in rest)  # a list page, not one object with parts
        if len(arrays) == 1 and paging and not _is_envelope(arrays[0]):
            found.setdefault(arrays[0], set()).add(name)
    if not found:
        return None, set()
    ref = min(found, key=lambda r: (-len(found[r]), r))
    return ref, found[ref]


def _is_envelope(ref: str) -> bool:
    return ref in ("Operation", "Empty", "GoogleLongrunningOperation") or ref.endswith("Operation")


def _body(m: dict[str, Any], where: str, resolve) -> list:
    ref = (m.get("request") or {}).get("$ref")
    if not ref:
        return []
    schema, at = resolve(ref, where + "/request")
    s, at = deref(schema, at, resolve)
    return object_fields(s, at, resolve, depth=1)


def _query_params(m: dict[str, Any], where: str, resolve) -> list[Field]:
    out = []
    for pname, p in sorted((m.get("parameters") or {}).items()):
        if not isinstance(p, dict) or p.get("location") != "query":
            continue
        f = to_field(pname, p, f"{where}/parameters/{pname}", resolve)
        if kind_of(p) in ("string", "integer", "number", "boolean"):
            out.append(f)
    return out
