"""A route of the site declared once: its handler, its OpenAPI operation (the method, path and
route name come from it, so the router and the document cannot disagree), and whether it waits
its turn in the public reads' admission. Also the HTML responses the pages document."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from schemas.openapi import HTML, Operation, Response

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class PageRoute:
    """One route of the site."""

    operation: Operation
    handler: Handler
    # True when it reads the store or asks nodes (it waits its turn in the admission:
    # national_hub.web.middleware); False when answered from memory or files, whatever the load.
    admitted: bool

    @property
    def name(self) -> str:
        """The route's name: the operation's id."""
        return self.operation.operation_id


def add_page_routes(app: web.Application, routes: Iterable[PageRoute]) -> None:
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


# The statuses every admitted page may answer with, as pages (national_hub.web.middleware).
RATE_LIMITED = html_response(429, "Over the rate limit: the time to wait")
OVERLOADED = html_response(503, "Overloaded: retry later")
