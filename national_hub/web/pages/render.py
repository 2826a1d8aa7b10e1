"""Rendering a page: the template, the site's shared context, the page answer's headers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from national_hub.web.appkeys import SYNC
from national_hub.web.pages.freshness_text import site_summary


def site_freshness(app: web.Application) -> str:
    """The footer's note on the whole federation, from the sync monitor (held for a moment by
    the monitor itself, so every page may ask)."""
    monitor = app.get(SYNC)
    if monitor is None:
        return "同步状态暂不可用。"
    return site_summary(monitor.freshness_summary())


def render_page(
    request: web.Request,
    template: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """A page: the template with the shared context (nav, site_freshness) and `context`."""
    shared: dict[str, Any] = {"nav": None, "site_freshness": site_freshness(request.app)}
    response = aiohttp_jinja2.render_template(
        template, request, {**shared, **context}, status=status
    )
    # A page shows the registry as of now: a cached copy would hide a change or a fresher
    # explanation (and a shared cache must not keep one person's query).
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
