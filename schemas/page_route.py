"""A route of a service's pages declared once: its handler and its OpenAPI operation. The method,
path and route name come from the operation, so the router and the document cannot disagree.
The hub's site (national_hub.web.pages) and the node's console (province_node.web.console)
both add their routes here; the responses and form bodies pages document are built here too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from aiohttp import web
from pydantic import Field

from schemas.openapi import HTML, Operation, Response

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"


@dataclass(frozen=True, slots=True)
class Route:
    """One route: what the document says of it, and what answers it."""

    operation: Operation
    handler: Handler

    @property
    def name(self) -> str:
        """The route's name: the operation's id."""
        return self.operation.operation_id


def add_page_routes(app: web.Application, routes: Iterable[Route]) -> None:
    """Add each route under its operation's method, path and id (a GET answers HEAD too)."""
    for route in routes:
        op = route.operation
        if op.method == "GET":
            app.router.add_get(op.path, route.handler, name=route.name)
        else:
            app.router.add_route(op.method, op.path, route.handler, name=route.name)


def html_response(
    status: int, description: str, alternatives: Mapping[str, Any] | None = None
) -> Response:
    """A documented status whose body is a page (or an HTML fragment)."""
    return Response(status, description, {"type": "string"}, HTML, alternatives=alternatives or {})


def see_other(description: str) -> Response:
    """A 303 (Post/Redirect/Get, or a page that sends the browser elsewhere): no body, and
    always a Location."""
    return Response(303, description, headers={"Location": "where the browser goes next"})


# A stylesheet's or script's name, as a pattern rather than the list: which files exist is the
# pages' business, and the document stays the same when a page adds one.
STATIC_NAME = Annotated[str, Field(pattern=r"^[a-z0-9_-]+\.(css|js)$")]
# A stylesheet or script, as its route answers it.
STATIC_FILE = Response(
    200,
    "The file",
    {"type": "string"},
    "text/css",
    alternatives={"text/javascript": {"type": "string"}},
)


def form_body(
    fields: Mapping[str, str], required: Iterable[str] = (), *, more: bool = False
) -> dict[str, Any]:
    """The JSON Schema of a form's fields (name → description), all text; `more` when the form
    has further fields of its own beside the ones named (e.g. one per field of a record)."""
    return {
        "type": "object",
        "properties": {
            name: {"type": "string", "description": text} for name, text in fields.items()
        },
        "required": list(required),
        "additionalProperties": {"type": "string"} if more else False,
    }
