"""OpenAPI 3.1 documents built from declared operations and the pydantic models they name.

Each service lists its operations (`Operation`: method, path, parameters, request body, responses
per status, security); `build_document` turns every model and annotation into JSON Schema with
pydantic (`TypeAdapter.json_schemas`, all in one pass so shared models become one component) and
assembles the document. The services serve it at `GET /openapi.json`; `docs/openapi/` holds the
committed copies, rewritten with `python -m province_node.openapi` and
`python -m national_hub.web.openapi`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, GetPydanticSchema, TypeAdapter
from pydantic.json_schema import JsonSchemaMode

OPENAPI_VERSION = "3.1.0"
REF_TEMPLATE = "#/components/schemas/{model}"
JSON = "application/json"
TEXT = "text/plain"
HTML = "text/html"
DOCS_DIR = Path(__file__).resolve().parent.parent / "docs" / "openapi"

ParamIn = Literal["path", "query", "header"]
Thunk = Callable[[], dict[str, Any]]

# aiohttp's HTTP parser refuses a request line or header over 8190 bytes itself, before any
# handler or middleware runs, and answers in plain text: every operation that takes parameters
# can meet it.
PARSER_400 = {TEXT: {"type": "string"}}
PARSER_400_NOTE = " A request line or header over 8190 bytes is refused as text/plain."


# -- answers and the shared error body -------------------------------------------------------------


class Answer(BaseModel):
    """Base of the models that document response bodies: no member beyond those declared."""

    # additionalProperties: false, so a member a handler adds without documenting it fails
    # the fuzz tests' schema check.
    model_config = ConfigDict(frozen=True, extra="forbid")


# A count or a position in a province's sequence.
Seq = Annotated[int, Field(ge=0)]


def inline_enum(enum: type[StrEnum]) -> GetPydanticSchema:
    """Annotated metadata that documents a StrEnum field in place.

    The schema reads {"enum": [...], "title": <the field's>, "type": "string"}, as a Literal
    field's does, instead of a $ref to a component of the enum's own; the field still
    validates to the member and dumps its value.
    """
    values = tuple(enum)
    return GetPydanticSchema(lambda _type, handler: handler(Literal[values]))


def absent(value: object) -> bool:
    """For `Field(default=None, exclude_if=absent)`: a member left out, not sent as null."""
    return value is None


class ErrorDetail(Answer):
    """One refused field: its dotted path and what is wrong with it."""

    field: str
    message: str


class ErrorInfo(Answer):
    """A stable machine-readable code, a sentence for people, and per-field details."""

    code: str
    message: str
    details: list[ErrorDetail]


class ErrorBody(Answer):
    """Every error of both services: {"error": {"code", "message", "details"}}."""

    error: ErrorInfo


# -- declarations ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """A path, query or header parameter; `schema` is a type pydantic can describe."""

    name: str
    where: ParamIn
    schema: Any
    description: str
    required: bool = False


@dataclass(frozen=True)
class Response:
    """One documented status: its body (a type, or a literal JSON Schema dict) and headers."""

    status: int
    description: str
    body: Any = None
    media_type: str = JSON
    # Header name -> description; every header listed here is always sent with this status.
    headers: Mapping[str, str] = field(default_factory=dict)
    # Further media types this status may come as: media type -> body (type or JSON Schema).
    alternatives: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    """One route of a service as documented: what it takes, what it answers, who may call it."""

    method: str
    path: str
    operation_id: str
    summary: str
    responses: Sequence[Response]
    params: Sequence[Param] = ()
    body: Any = None
    # The request body's media type (a page's form is not JSON).
    body_media_type: str = JSON
    # Names of security schemes that each alone grant access; empty means no token is needed.
    security: Sequence[str] = ()
    tags: Sequence[str] = ()
    description: str = ""


@dataclass(frozen=True)
class Named:
    """An annotation (e.g. a discriminated union) published as a component under a name."""

    name: str
    annotation: Any


# Headers both services always send with these statuses.
ERROR_HEADERS: Mapping[int, Mapping[str, str]] = {
    401: {"WWW-Authenticate": "Bearer challenge"},
    429: {"Retry-After": "seconds to wait before retrying"},
}


def error_responses(
    texts: Mapping[int, str], statuses: Sequence[int], bodies: Mapping[int, Any] | None = None
) -> list[Response]:
    """The documented errors of an operation: the shared error body unless `bodies` says else."""
    return [
        Response(
            s,
            texts[s] + (PARSER_400_NOTE if s == 400 else ""),
            (bodies or {}).get(s, ErrorBody),
            headers=ERROR_HEADERS.get(s, {}),
            alternatives=PARSER_400 if s == 400 else {},
        )
        for s in statuses
    ]


def service_operations(health: Any, tags: Sequence[str]) -> list[Operation]:
    """The routes every service has: Prometheus metrics, liveness and this document."""
    return [
        Operation(
            "GET",
            "/metrics",
            "metrics",
            "Prometheus metrics",
            [Response(200, "Prometheus text exposition", {"type": "string"}, TEXT)],
            tags=tags,
        ),
        Operation(
            "GET",
            "/healthz",
            "healthz",
            "Liveness",
            [Response(200, "The process answers", health)],
            tags=tags,
        ),
        Operation(
            "GET",
            "/openapi.json",
            "openapi",
            "This document (OpenAPI 3.1)",
            [Response(200, "OpenAPI 3.1", {"type": "object"}, JSON)],
            tags=tags,
        ),
    ]


def bearer_scheme(description: str) -> dict[str, Any]:
    """An HTTP bearer security scheme."""
    return {"type": "http", "scheme": "bearer", "description": description}


# -- building --------------------------------------------------------------------------------------


class _Schemas:
    """Collects every annotation an API names, then describes them all in one pydantic pass."""

    def __init__(self) -> None:
        self._inputs: list[tuple[int, JsonSchemaMode, TypeAdapter[Any]]] = []
        self._names: dict[int, str] = {}
        self._out: dict[tuple[int, JsonSchemaMode], dict[str, Any]] = {}
        self._defs: dict[str, Any] = {}

    def add(self, source: Any, mode: JsonSchemaMode) -> Thunk:
        """Register a source; the returned thunk gives its schema once `resolve` has run."""
        if isinstance(source, dict):
            return lambda: source
        key = len(self._inputs)
        annotation = source
        if isinstance(source, Named):
            self._names[key] = source.name
            annotation = source.annotation
        self._inputs.append((key, mode, TypeAdapter(annotation)))
        return lambda: self._out[(key, mode)]

    def resolve(self) -> dict[str, Any]:
        """Run pydantic over every source; return the components' schemas."""
        if self._inputs:
            out, defs = TypeAdapter.json_schemas(self._inputs, ref_template=REF_TEMPLATE)
            self._defs = dict(defs.get("$defs", {}))
            for (key, mode), schema in out.items():
                name = self._names.get(key)
                if name is not None and "$ref" not in schema:
                    # Hoist the inline schema (a union, say) into a component of its own name.
                    self._defs[name] = schema
                    schema = {"$ref": REF_TEMPLATE.format(model=name)}
                self._out[(key, mode)] = schema
        return dict(sorted(self._defs.items()))


def _parameter(p: Param, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": p.name,
        "in": p.where,
        "required": True if p.where == "path" else p.required,
        "description": p.description,
        "schema": schema,
    }


def _response(r: Response, bodies: Mapping[str, Thunk]) -> dict[str, Any]:
    out: dict[str, Any] = {"description": r.description}
    if r.headers:
        out["headers"] = {
            name: {"description": text, "required": True, "schema": {"type": "string"}}
            for name, text in r.headers.items()
        }
    if bodies:
        out["content"] = {media: {"schema": schema()} for media, schema in bodies.items()}
    return out


def _bodies(schemas: _Schemas, r: Response) -> dict[str, Thunk]:
    bodies = {} if r.body is None else {r.media_type: schemas.add(r.body, "serialization")}
    for media, body in r.alternatives.items():
        bodies[media] = schemas.add(body, "serialization")
    return bodies


def build_document(
    *,
    title: str,
    version: str,
    description: str,
    operations: Sequence[Operation],
    security_schemes: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of these operations."""
    schemas = _Schemas()
    # Register every schema first; only one pydantic pass over all of them can name the
    # components, so each operation is finished after it.
    pending = [
        _Pending(
            op,
            [(p, schemas.add(p.schema, "validation")) for p in op.params],
            None if op.body is None else schemas.add(op.body, "validation"),
            [(r, _bodies(schemas, r)) for r in sorted(op.responses, key=lambda r: r.status)],
        )
        for op in operations
    ]
    components = schemas.resolve()
    paths: dict[str, dict[str, Any]] = {}
    for item in pending:
        paths.setdefault(item.op.path, {})[item.op.method.lower()] = item.finish()
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version, "description": description},
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": components, "securitySchemes": dict(security_schemes)},
    }


@dataclass(frozen=True)
class _Pending:
    """An operation whose schemas are registered but not yet resolved."""

    op: Operation
    params: list[tuple[Param, Thunk]]
    body: Thunk | None
    responses: list[tuple[Response, dict[str, Thunk]]]

    def finish(self) -> dict[str, Any]:
        """The operation object, once the schemas are resolved."""
        op = self.op
        doc: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary}
        if op.description:
            doc["description"] = op.description
        if op.tags:
            doc["tags"] = list(op.tags)
        doc["security"] = [{name: []} for name in op.security]
        if self.params:
            doc["parameters"] = [_parameter(p, s()) for p, s in self.params]
        if self.body is not None:
            doc["requestBody"] = {
                "required": True,
                "content": {op.body_media_type: {"schema": self.body()}},
            }
        doc["responses"] = {str(r.status): _response(r, b) for r, b in self.responses}
        return doc


def render(document: Mapping[str, Any]) -> str:
    """The committed text form of a document."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def document_routes(document: Mapping[str, Any]) -> set[tuple[str, str]]:
    """Every (METHOD, path) the document describes."""
    return {
        (method.upper(), path)
        for path, item in document.get("paths", {}).items()
        for method in item
    }


def serve(
    document: Callable[[], dict[str, Any]],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """An aiohttp handler for `GET /openapi.json` (no token); the text is built once."""
    body: list[bytes] = []

    async def openapi_json(request: web.Request) -> web.Response:
        if not body:
            body.append(render(document()).encode("utf-8"))
        return web.Response(body=body[0], content_type=JSON)

    return openapi_json


def regenerate(name: str, document: Callable[[], dict[str, Any]], argv: Sequence[str]) -> int:
    """`python -m <service>.openapi [--check] [--out FILE]`: write or check the committed copy."""
    parser = argparse.ArgumentParser(description=f"Write docs/openapi/{name}.json from the code.")
    parser.add_argument("--out", type=Path, default=DOCS_DIR / f"{name}.json")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the file differs instead of writing it"
    )
    args = parser.parse_args(argv)
    text = render(document())
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date: run python -m {name.replace('-', '_')}.openapi")
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(args.out)
    return 0
