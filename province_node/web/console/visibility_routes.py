"""GET /registrations/{cert_no}/visibility: the national visibility section alone (signed in,
a viewer too), for the script that refreshes it on the record page."""

from __future__ import annotations

from aiohttp import web

from province_node import outbox
from province_node.errors import NotFound
from province_node.web.appkeys import REGISTRY
from province_node.web.console.access import signed_in
from province_node.web.console.operations import (
    CERT_NO,
    SIGN_IN,
    UNAVAILABLE,
    console_operation,
)
from province_node.web.console.render import render_fragment
from province_node.web.console.visibility import national_visibility
from schemas.page_route import Route, html_response


async def visibility_fragment(request: web.Request) -> web.Response:
    """The <section> of _visibility.html for the record's latest change; 404 for a cert_no
    this node has no change of."""
    signed_in(request)
    cert_no = request.match_info["cert_no"]
    latest = await request.app[REGISTRY].read(outbox.latest_for, cert_no)
    if latest is None:
        raise NotFound("本节点没有这个证书编号的登记。")
    visibility = await national_visibility(request.app, cert_no, latest.seq)
    return render_fragment(request, "_visibility.html", {"visibility": visibility})


ROUTES = (
    Route(
        console_operation(
            "GET",
            "/registrations/{cert_no}/visibility",
            "console_visibility",
            "The record page's national visibility section alone (visibility.js refreshes it)",
            [
                html_response(200, "The section (an HTML fragment; Cache-Control: no-store)"),
                SIGN_IN,
                html_response(404, "This node has no change of this cert_no"),
                UNAVAILABLE,
            ],
            params=[CERT_NO],
        ),
        visibility_fragment,
    ),
)
