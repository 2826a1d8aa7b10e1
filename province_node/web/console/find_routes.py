"""GET /: find a registration by certificate number, name, ID number or institution, with a
status filter and stable next-page links (the API's search and cursor). A certificate or ID
number that matches exactly one registration goes straight to its page."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlencode

from aiohttp import web

from province_node import console_queries
from province_node import registry as reg
from province_node.cursor import encode_cursor
from province_node.web.appkeys import REGISTRY
from province_node.web.console import labels
from province_node.web.console.access import signed_in
from province_node.web.console.find_query import KINDS, FindQuery, read_query
from province_node.web.console.operations import UNAVAILABLE, console_operation, page
from province_node.web.console.render import render_page
from schemas.openapi import Param
from schemas.page_route import Route, html_response, see_other

PAGE_SIZE = 20
KIND_VALUES = tuple(k for k, _ in KINDS)


def record_address(cert_no: str) -> str:
    """The page of one registration."""
    return f"/registrations/{cert_no}"


async def _rows(request: web.Request, q: FindQuery) -> list[reg.StoredRecord]:
    """The registrations matching q, one more than a page (the extra one says a next page
    exists)."""
    registry = request.app[REGISTRY]
    if q.kind == "cert_no" and q.text:
        found = await registry.read(reg.get_record, q.text)
        rows = [found] if found is not None else []
    elif q.kind == "id_number" and q.text:
        rows = await registry.read(console_queries.by_id_number, q.text)
    else:
        return await registry.read(
            lambda conn: reg.search(
                conn,
                name=q.text if q.kind == "name" and q.text else None,
                institution=q.text if q.kind == "institution" and q.text else None,
                status=q.status or None,
                after=q.after,
                limit=PAGE_SIZE + 1,
            )
        )
    return [r for r in rows if not q.status or r.record.get("status") == q.status]


def _next_address(q: FindQuery, last: str) -> str:
    """The next page's address: the same search after the last row shown."""
    query = {"q": q.text, "kind": q.kind, "status": q.status, "cursor": encode_cursor(last)}
    return "/?" + urlencode({k: v for k, v in query.items() if v})


async def find_page(request: web.Request) -> web.StreamResponse:
    """GET /: the search form, and the results when something was asked."""
    signed_in(request)
    q = read_query(request.query)
    context = {
        "nav": "find",
        "q": q,
        "kinds": KINDS,
        "statuses": labels.STATUS_CHOICES,
        "errors": q.errors,
        "results": None,
        "next_address": None,
        "labels": labels,
    }
    if q.errors:
        status = 400 if set(q.errors) == {"cursor"} else 422
        return render_page(request, "find.html", context, status=status)
    if not q.asked:
        return render_page(request, "find.html", context)
    rows = await _rows(request, q)
    exact = q.kind in ("cert_no", "id_number") and q.text and q.after is None
    if exact and len(rows) == 1:
        raise web.HTTPSeeOther(record_address(rows[0].cert_no))
    shown = rows[:PAGE_SIZE]
    if len(rows) > PAGE_SIZE:
        context["next_address"] = _next_address(q, shown[-1].cert_no)
    context["results"] = shown
    return render_page(request, "find.html", context)


ROUTES = (
    Route(
        console_operation(
            "GET",
            "/",
            "console_find",
            "Find a registration (the console's first page); with q, one page of results",
            [
                page("The form, and the results when q was given"),
                see_other(
                    "Not signed in: to /login?next=<this page>; or an exact number's one "
                    "registration: to its page"
                ),
                html_response(400, "The form: the cursor is not one this page made"),
                html_response(422, "The form with the refused field's message"),
                UNAVAILABLE,
            ],
            params=[
                Param("q", "query", str, "what to look for"),
                Param("kind", "query", Literal[KIND_VALUES], "what q is (cert_no by default)"),
                Param("status", "query", str, "only registrations in this status"),
                Param("cursor", "query", str, "the next-page link's position"),
            ],
        ),
        find_page,
    ),
)
