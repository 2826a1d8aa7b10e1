"""GET /partials/freshness?province=50,44: the freshness block of a page, re-rendered, so the
page's script refreshes it live with the same words the server wrote (freshness_text)."""

from __future__ import annotations

from aiohttp import web

from national_hub.web.pages.freshness_text import freshness_lines
from national_hub.web.pages.render import render_page
from national_hub.web.query_routes import freshness_for
from schemas.openapi import HTML, Operation, Param, Response
from schemas.vocab import PROVINCES

# A page shows the provinces of its results: at most all of them.
MAX_PROVINCES = len(PROVINCES)


async def freshness_fragment(request: web.Request) -> web.Response:
    """The block for the listed provinces (unknown codes are left out)."""
    raw = request.query.get("province", "")
    codes = [c for c in raw.split(",") if c in PROVINCES][:MAX_PROVINCES]
    lines = freshness_lines(freshness_for(request.app), codes)
    return render_page(request, "_freshness.html", {"lines": lines})


# Answered whatever the load (files, or memory): national_hub.web.middleware.
EXEMPT_ROUTES = frozenset({"page_freshness"})


def add_routes(app: web.Application) -> None:
    """Add the fragment route."""
    app.router.add_get("/partials/freshness", freshness_fragment, name="page_freshness")


OPERATIONS = (
    Operation(
        "GET",
        "/partials/freshness",
        "page_freshness",
        "The search and physician pages' freshness block (an HTML fragment, for their script)",
        [Response(200, "The fragment", {"type": "string"}, HTML)],
        params=[Param("province", "query", str, "province codes, comma-separated")],
        tags=("pages",),
    ),
)
