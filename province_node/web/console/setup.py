"""Installing the console on the node's app: its templates and the routes of every module."""

from __future__ import annotations

from types import ModuleType

from aiohttp import web

from province_node.web.console import (
    action_routes,
    changes_routes,
    find_routes,
    health_routes,
    import_routes,
    login_routes,
    record_routes,
    register_routes,
    static_routes,
    visibility_routes,
)
from schemas.openapi import Operation
from schemas.page_route import Route, add_page_routes
from schemas.page_templates import setup_templates

# The route modules of the console, in the order their routes are added; each declares its
# routes in ROUTES (schemas.page_route.Route: the handler and its operation in the document).
ROUTE_MODULES: tuple[ModuleType, ...] = (
    static_routes,
    login_routes,
    register_routes,
    import_routes,
    visibility_routes,
    health_routes,
    find_routes,
    record_routes,
    action_routes,
    changes_routes,
)

# The paths of the node's JSON API and probes: errors there stay JSON (CONTRACT §4); every
# other path is the console's, whose errors are pages.
API_PREFIXES = ("/v1/", "/metrics", "/healthz", "/openapi.json")


def is_console_path(path: str) -> bool:
    """Whether a path belongs to the console (its errors are pages)."""
    return not path.startswith(API_PREFIXES)


def setup_console(app: web.Application) -> None:
    """The console's template environment and routes (after the API's, in visible order)."""
    setup_templates(app, "province_node.web.console", "templates")
    import_routes.install_jobs(app)
    add_page_routes(app, console_routes())


def console_routes() -> list[Route]:
    """Every route of the console, in ROUTE_MODULES order."""
    return [route for module in ROUTE_MODULES for route in module.ROUTES]


def console_operations() -> list[Operation]:
    """The console's routes as the node's OpenAPI document lists them."""
    return [route.operation for route in console_routes()]
