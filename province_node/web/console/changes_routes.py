"""GET /changes: the approval queue: every 变更中 registration in one list, what each change
would change, and (for a registrar) approve or reject with a reason right from the list. The
forms post to the record's action (action_routes) with `back=changes`, so the queue is where a
decision returns to."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from province_node import registration_reads
from province_node.cursor import encode_cursor
from province_node.web.appkeys import REGISTRY
from province_node.web.console import claims, labels
from province_node.web.console.access import signed_in
from province_node.web.console.find_query import read_query
from province_node.web.console.operations import SIGN_IN, UNAVAILABLE, console_operation, page
from province_node.web.console.record_routes import done_notice
from province_node.web.console.render import render_page
from schemas.openapi import Param
from schemas.page_route import Route, html_response
from schemas.vocab import Status

PAGE_SIZE = 50


async def changes_page(request: web.Request) -> web.StreamResponse:
    """The queue, oldest certificate numbers first, PAGE_SIZE a page."""
    signed_in(request)
    q = read_query({"cursor": request.query.get("cursor", "")})
    if q.errors:
        return render_page(
            request,
            "changes.html",
            {
                "nav": "changes",
                "rows": [],
                "errors": q.errors,
                "notice": None,
                "next_address": None,
                "new_key": claims.new_key,
                "labels": labels,
            },
            status=400,
        )
    rows = await request.app[REGISTRY].read(
        lambda conn: registration_reads.search(
            conn,
            name=None,
            institution=None,
            status=Status.CHANGING.value,
            after=q.after,
            limit=PAGE_SIZE + 1,
        )
    )
    shown = rows[:PAGE_SIZE]
    next_address = None
    if len(rows) > PAGE_SIZE:
        next_address = f"/changes?cursor={encode_cursor(shown[-1].cert_no)}"
    notice = done_notice(request.query.get("done"))
    cert_no = request.query.get("cert_no", "")
    if notice and cert_no.isdigit():
        notice = f"{cert_no}：{notice}"
    context: dict[str, Any] = {
        "nav": "changes",
        "rows": [(row, labels.pending_changes(row.record)) for row in shown],
        "errors": {},
        "notice": notice,
        "next_address": next_address,
        "new_key": claims.new_key,
        "labels": labels,
    }
    return render_page(request, "changes.html", context)


ROUTES = (
    Route(
        console_operation(
            "GET",
            "/changes",
            "console_changes",
            "The approval queue: every pending change, with approve and reject for a registrar",
            [
                page(),
                SIGN_IN,
                html_response(400, "The queue: the cursor is not one it made"),
                UNAVAILABLE,
            ],
            params=[
                Param("cursor", "query", str, "the next-page link's position"),
                Param("done", "query", str, "what was just decided: the page's notice"),
                Param("cert_no", "query", str, "the registration the notice is about"),
            ],
        ),
        changes_page,
    ),
)
