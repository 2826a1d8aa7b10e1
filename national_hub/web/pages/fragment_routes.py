"""GET /partials/freshness?province=50,44: the freshness block of a page, re-rendered, so the
page's script refreshes it live with the same words the server wrote (freshness_text)."""

from __future__ import annotations

from aiohttp import web

from national_hub.web.pages.freshness_text import freshness_lines
from national_hub.web.pages.page_route import PageRoute
from national_hub.web.pages.render import render_page
from national_hub.web.query_routes import freshness_for
from schemas.openapi import Operation, Param
from schemas.page_route import html_response
from schemas.vocab import PROVINCES

# A page shows the provinces of its results: at most all of them.
MAX_PROVINCES = len(PROVINCES)


async def freshness_fragment(request: web.Request) -> web.Response:
    """The block for the listed provinces (unknown codes are left out)."""
    raw = request.query.get("province", "")
    codes = [c for c in raw.split(",") if c in PROVINCES][:MAX_PROVINCES]
    lines = freshness_lines(freshness_for(request.app), codes)
    return render_page(request, "_freshness.html", {"lines": lines})


ROUTES = (
    PageRoute(
        Operation(
            "GET",
            "/partials/freshness",
            "page_freshness",
            "The search and physician pages' freshness block (an HTML fragment, for their script)",
            [html_response(200, "The fragment")],
            params=[Param("province", "query", str, "province codes, comma-separated")],
            tags=("pages",),
        ),
        freshness_fragment,
        # Answered from the sync monitor's memory, whatever the load.
        admitted=False,
    ),
)
