"""GET /registrations/{cert_no}/visibility: the national visibility section alone (signed in,
a viewer too), for the script that refreshes it on the record page."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from province_node import outbox
from province_node.errors import NotFound
from province_node.web.appkeys import REGISTRY
from province_node.web.console.access import signed_in
from province_node.web.console.visibility import national_visibility


async def visibility_fragment(request: web.Request) -> web.Response:
    """The <section> of _visibility.html for the record's latest change; 404 for a cert_no
    this node has no change of."""
    signed_in(request)
    cert_no = request.match_info["cert_no"]
    latest = await request.app[REGISTRY].read(outbox.latest_for, cert_no)
    if latest is None:
        raise NotFound("本节点没有这个证书编号的登记。")
    visibility = await national_visibility(request.app, cert_no, latest.seq)
    response = aiohttp_jinja2.render_template(
        "_visibility.html", request, {"visibility": visibility}
    )
    # The section says where the change is now: no cache may keep an older answer.
    response.headers["Cache-Control"] = "no-store"
    return response


def add_routes(app: web.Application) -> None:
    """The visibility fragment."""
    app.router.add_get(
        "/registrations/{cert_no}/visibility", visibility_fragment, name="visibility_fragment"
    )
