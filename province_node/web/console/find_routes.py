"""GET /: find a registration by certificate number, name, ID number or institution, with a
status filter and stable next-page links (the API's search and cursor). A certificate or ID
number that matches exactly one registration goes straight to its page.

The search form is posted (POST /, with the session's CSRF token): a search by ID number is
answered from the POST, its results drawn (at most MAX_BY_ID_NUMBER, one page, no next-page
link) or the one match's page redirected to, so the number is in no address; any other search
is redirected to its GET address (bookmarkable, with next-page links)."""

from __future__ import annotations

from typing import Literal

from aiohttp import web

from province_node import console_queries, registration_reads
from province_node import registry as reg
from province_node.cursor import encode_cursor
from province_node.web.appkeys import REGISTRY
from province_node.web.console import labels
from province_node.web.console.access import posted_form, signed_in
from province_node.web.console.find_query import (
    ID_NUMBER_BY_FORM,
    KINDS,
    FindQuery,
    address_allowed,
    address_of,
    read_query,
)
from province_node.web.console.operations import (
    FORM_FIELDS,
    FORM_REFUSED,
    SIGNED_OUT,
    TOO_LARGE,
    UNAVAILABLE,
    console_operation,
    page,
)
from province_node.web.console.render import render_page
from schemas.openapi import Param
from schemas.page_route import Route, form_body, html_response, see_other

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
        found = await registry.read(registration_reads.get_record, q.text)
        rows = [found] if found is not None else []
    elif q.kind == "id_number" and q.text:
        rows = await registry.read(console_queries.by_id_number, q.text)
    else:
        return await registry.read(
            lambda conn: registration_reads.search(
                conn,
                name=q.text if q.kind == "name" and q.text else None,
                institution=q.text if q.kind == "institution" and q.text else None,
                status=q.status or None,
                after=q.after,
                limit=PAGE_SIZE + 1,
            )
        )
    return [r for r in rows if not q.status or r.record.get("status") == q.status]


async def find_page(request: web.Request) -> web.StreamResponse:
    """GET /: the search form, and the results when something was asked."""
    q = read_query(request.query)
    # Signed out, an address that carries an ID number comes back without it.
    signed_in(request, "/?kind=id_number" if q.kind == "id_number" and q.text else None)
    if q.kind == "id_number" and q.text:
        # An address that carries an ID number (an older page's link): not searched, not shown.
        q = FindQuery(kind="id_number", errors={"q": ID_NUMBER_BY_FORM})
    return await _answer(request, q)


async def find_posted(request: web.Request) -> web.StreamResponse:
    """POST /: the search form sent; an ID number's search answered here, others redirected."""
    session = signed_in(request)
    form = await posted_form(request, session)
    q = read_query({k: v for k in ("q", "kind", "status") if isinstance(v := form.get(k), str)})
    if address_allowed(q):
        raise web.HTTPSeeOther(address_of(q))
    return await _answer(request, q)


async def _answer(request: web.Request, q: FindQuery) -> web.StreamResponse:
    """The find page for the search q: its results, or the one match's page."""
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
    if q.kind == "id_number":
        # All of them on one page: a next-page link would put the number in its address.
        context["results"] = rows
        return render_page(request, "find.html", context)
    shown = rows[:PAGE_SIZE]
    if len(rows) > PAGE_SIZE:
        context["next_address"] = address_of(q, encode_cursor(shown[-1].cert_no))
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
                html_response(
                    422,
                    "The form with the refused field's message (a search by ID number in the "
                    "address is refused, never run: it is posted)",
                ),
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
    Route(
        console_operation(
            "POST",
            "/",
            "console_find_posted",
            "The search form sent: a search by ID number answered here (the number in no "
            "address), any other redirected to its GET address",
            [
                page("A search by ID number: its results (all on one page)"),
                see_other(
                    "Any other search: to /?q=…&kind=…&status=…; an ID number's one "
                    "registration: to its page"
                ),
                SIGNED_OUT,
                FORM_REFUSED,
                TOO_LARGE,
                html_response(422, "The form with the refused field's message"),
                UNAVAILABLE,
            ],
            body=form_body(
                {
                    "csrf": FORM_FIELDS["csrf"],
                    "q": "what to look for",
                    "kind": "what q is: " + ", ".join(KIND_VALUES),
                    "status": "only registrations in this status",
                },
                ["csrf"],
            ),
        ),
        find_posted,
    ),
)
