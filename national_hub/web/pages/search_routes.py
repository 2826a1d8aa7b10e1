"""GET /: the search page (CONTRACT §5a), with the parameters and meanings of GET /v1/physicians.

Validation, the query and the cursors are the API's own (SearchParams, run_indexed_search);
this module only shows their answer: the fields in the official site's order, each province's
freshness, and a refused field's message next to it (status 400).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from national_hub.errors import BadRequest
from national_hub.query.indexed import run_indexed_search
from national_hub.query.search import SearchParams, public_item
from national_hub.web.appkeys import ALIASES, INDEX
from national_hub.web.pages.freshness_text import freshness_lines
from national_hub.web.pages.labels import (
    CATEGORY_CHOICES,
    PROVINCE_CHOICES,
    SCOPE_GROUPS,
    STATUS_CHOICES,
)
from national_hub.web.pages.page_route import (
    OVERLOADED,
    RATE_LIMITED,
    PageRoute,
)
from national_hub.web.pages.record_view import record_view
from national_hub.web.pages.render import render_page
from national_hub.web.pages.search_form import field_errors, form_values, page_href, submitted
from national_hub.web.query_routes import freshness_for
from schemas.openapi import Operation, Param
from schemas.page_route import html_response

FORM_CHOICES: dict[str, Any] = {
    "provinces": PROVINCE_CHOICES,
    "categories": CATEGORY_CHOICES,
    "scope_groups": SCOPE_GROUPS,
    "statuses": STATUS_CHOICES,
}


async def search_page(request: web.Request) -> web.Response:
    """The form; with a sent form, one page of results (or the refused field, status 400)."""
    query = request.query
    context: dict[str, Any] = {
        **FORM_CHOICES,
        "nav": "search",
        "form": form_values(query),
        "errors": {},
        "results": None,
        "freshness": [],
        "next_href": None,
    }
    if not submitted(query):
        return render_page(request, "search.html", context)
    try:
        params = SearchParams.from_query(query)
    except BadRequest as exc:
        context["errors"] = field_errors(exc.details, query)
        return render_page(request, "search.html", context, status=400)
    rows, next_cursor = await run_indexed_search(request.app[INDEX], params, request.app[ALIASES])
    # The provinces shown: those of the results, or the one asked for when nothing was found
    # (its lag may be why).
    shown = [row["province"] for row in rows] or ([str(params.province)] if params.province else [])
    context["results"] = [record_view(public_item(row)) for row in rows]
    context["freshness"] = freshness_lines(freshness_for(request.app), shown)
    context["next_href"] = page_href(query, next_cursor) if next_cursor else None
    return render_page(request, "search.html", context)


_PARAMS = [
    Param(name, "query", str, f"as in GET /v1/physicians: {name}")
    for name in (
        "name",
        "province",
        "institution",
        "category",
        "scope",
        "status",
        "limit",
        "cursor",
    )
]

ROUTES = (
    PageRoute(
        Operation(
            "GET",
            "/",
            "page_search",
            "The search page (HTML); with name or institution, one page of results",
            [
                html_response(200, "The page"),
                html_response(400, "The form with the refused field's message"),
                RATE_LIMITED,
                OVERLOADED,
            ],
            params=_PARAMS,
            tags=("pages",),
        ),
        search_page,
        admitted=True,
    ),
)
