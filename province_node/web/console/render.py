"""Rendering a console page: the template, the console's shared context, the page's headers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from province_node.web.appkeys import SETTINGS
from province_node.web.console.access import current_session


def render_page(
    request: web.Request,
    template: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """A page: the template with the shared context and `context`.

    Shared: `province` (code) and `province_name`; `session` (sessions.Session or None: the
    header shows the role and the sign-out button, forms take `session.csrf`, pages offer
    actions only when `session.can_write`); `nav` (which menu entry is current, None).
    """
    settings = request.app[SETTINGS]
    shared: dict[str, Any] = {
        "province": settings.province,
        "province_name": settings.province_name,
        "session": current_session(request),
        "nav": None,
    }
    response = aiohttp_jinja2.render_template(
        template, request, {**shared, **context}, status=status
    )
    # A page shows the registry as of now, and an operator's page holds ID numbers: no cache,
    # shared or private, may keep it.
    response.headers["Cache-Control"] = "no-store"
    # Same-origin, not no-referrer: under no-referrer a browser sends `Origin: null` with every
    # form POST, and the sign-in's origin check (access.same_origin) could not tell our own
    # form from another site's. Addresses still never leave the node.
    response.headers["Referrer-Policy"] = "same-origin"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def render_fragment(
    request: web.Request, template: str, context: Mapping[str, Any]
) -> web.Response:
    """A section of a page alone (what a page's script fetches to refresh it): the template
    with `context` only. It says how things are now, so no cache may keep an older copy."""
    response = aiohttp_jinja2.render_template(template, request, dict(context))
    response.headers["Cache-Control"] = "no-store"
    return response
