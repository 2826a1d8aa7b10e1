"""The public site (CONTRACT §5a): server-rendered pages for people, beside the JSON API.

`setup_pages(app)` installs the Jinja2 environment (templates in national_hub/web/templates/,
autoescaped: every value a page shows is text, never markup) and the routes of every module in
ROUTE_MODULES. A route module declares its routes in `ROUTES` (page_route.PageRoute, a
schemas.page_route.Route: the handler, the operation as the OpenAPI document lists it, and
whether it waits its turn in the admission); national_hub.web.openapi collects the
operations through page_operations(), national_hub.web.middleware the admitted and exempt
names. Errors on the site's paths are pages (error_pages.render_error_page, called by the
middleware).

Each page gathers its facts through the same parsing, queries and explainer as the API; the
wording lives in pure modules (explain_text, freshness_text, labels).
"""

from __future__ import annotations

from types import ModuleType

from aiohttp import web

from national_hub.web.pages import (
    fragment_routes,
    physician_routes,
    receipt_routes,
    search_routes,
    site_static,
    suggest_routes,
    verify_routes,
)
from national_hub.web.pages.filters import FILTERS
from national_hub.web.pages.page_route import PageRoute
from schemas.openapi import Operation
from schemas.page_route import add_page_routes
from schemas.page_templates import setup_templates

# The route modules of the site, in the order their routes are added.
ROUTE_MODULES: tuple[ModuleType, ...] = (
    site_static,
    search_routes,
    physician_routes,
    suggest_routes,
    fragment_routes,
    verify_routes,
    receipt_routes,
)


def setup_pages(app: web.Application) -> None:
    """The site's template environment and routes (after the API's, in visible order)."""
    env = setup_templates(app, "national_hub.web", "templates")
    env.filters.update(FILTERS)
    add_page_routes(app, _routes())


def _routes() -> list[PageRoute]:
    return [route for module in ROUTE_MODULES for route in module.ROUTES]


def page_operations() -> list[Operation]:
    """The site's routes as documented, in ROUTE_MODULES order."""
    return [route.operation for route in _routes()]


def page_admitted_routes() -> frozenset[str]:
    """The site's route names that wait their turn in the admission."""
    return frozenset(route.name for route in _routes() if route.admitted)


def page_exempt_routes() -> frozenset[str]:
    """The site's route names answered whatever the load."""
    return frozenset(route.name for route in _routes() if not route.admitted)
