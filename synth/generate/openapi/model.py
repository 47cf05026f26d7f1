"""The intermediate model both readers produce: resources with fields and operations.

OpenAPI paths and Google discovery ``resources`` differ in shape but describe the same
thing: collections of items with a schema and the methods that list, read, create, change,
delete them or move them through states. Inference (``infer``) only sees this model, so both
formats compile the same way and every skipped operation carries the reason and the JSON path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from engine import ScaleEnvError

OpKind = Literal["list", "get", "create", "update", "patch", "delete", "custom"]
CRUD_KINDS = ("list", "get", "create", "update", "patch", "delete")


class OpenAPIError(ScaleEnvError):
    """A document cannot be compiled: the message names the document and the JSON path."""


@dataclass
class Field:
    """One property of a resource schema (or a query parameter of a list operation)."""

    name: str
    where: str  # JSON path in the document, for reports and errors
    kind: str  # string | integer | number | boolean | object | array
    format: str | None = None
    enum: list[str] | None = None
    description: str = ""
    required: bool = False
    read_only: bool = False
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    example: Any = None
    children: list[Field] = field(default_factory=list)  # object properties / array item props
    items_kind: str | None = None  # element kind of an array
    is_map: bool = False  # additionalProperties without properties


@dataclass
class Operation:
    op_id: str  # operationId or the discovery method id
    kind: OpKind
    verb: str  # the method name or custom verb (cancel, approve ...)
    http: str
    path: str
    where: str
    description: str = ""
    query: list[Field] = field(default_factory=list)
    body: list[Field] = field(default_factory=list)  # request fields of a custom verb


@dataclass
class Resource:
    key: str  # unique dotted key: "projects.locations.instances", "pets"
    name: str  # the collection name as the document spells it: "instances", "pets"
    where: str
    parent: str | None = None  # key of the parent resource
    schema_name: str | None = None
    description: str = ""
    fields: list[Field] = field(default_factory=list)
    operations: list[Operation] = field(default_factory=list)


@dataclass
class Skip:
    """An operation (or field) left out of the world, with why."""

    what: str  # operation id or field name
    where: str
    reason: str
    kind: str = "other"  # the operation kind, when known


@dataclass
class ApiModel:
    name: str
    title: str
    description: str
    source: str  # file path or google:NAME
    resources: dict[str, Resource] = field(default_factory=dict)
    skipped: list[Skip] = field(default_factory=list)  # operations the reader could not place

    def operations(self) -> list[Operation]:
        return [op for r in self.resources.values() for op in r.operations]
