"""GET /health (节点状态, a viewer too) and GET /health/section (the page's section alone, for
static/health.js, which refreshes it every 5 s): is every change getting to the hub."""

from __future__ import annotations

import asyncio

from aiohttp import web

from province_node import outbox_reads
from province_node.hub_client import HubProvinceSync, HubUnreachable
from province_node.web.appkeys import HUB, REGISTRY, RELAY, SETTINGS
from province_node.web.console.access import signed_in
from province_node.web.console.health_rules import Health, HealthFacts, health
from province_node.web.console.operations import SIGN_IN, UNAVAILABLE, console_operation, page
from province_node.web.console.render import render_fragment, render_page
from province_node.web.sync_facts import node_sync_status
from schemas.page_route import Route, html_response
from schemas.timestamps import utc_now


async def _hub_view(app: web.Application) -> HubProvinceSync | str:
    try:
        return await app[HUB].province_sync(app[SETTINGS].province)
    except HubUnreachable as exc:
        return str(exc)


async def node_health(app: web.Application) -> Health:
    """The facts, gathered at once (the hub's answer within its short timeout), decided."""
    now = utc_now()
    sync, rates, hub = await asyncio.gather(
        node_sync_status(app),
        app[REGISTRY].read(outbox_reads.commit_rates, now),
        _hub_view(app),
    )
    return health(HealthFacts(sync, app[RELAY].state(), rates, hub, now))


async def health_page(request: web.Request) -> web.Response:
    """The node's health page."""
    signed_in(request)
    return render_page(
        request, "health.html", {"nav": "health", "health": await node_health(request.app)}
    )


async def health_section(request: web.Request) -> web.Response:
    """The page's section alone."""
    signed_in(request)
    return render_fragment(request, "_health.html", {"health": await node_health(request.app)})


ROUTES = (
    Route(
        console_operation(
            "GET",
            "/health",
            "console_health",
            "节点状态: is every change getting to the hub",
            [page(), SIGN_IN, UNAVAILABLE],
        ),
        health_page,
    ),
    Route(
        console_operation(
            "GET",
            "/health/section",
            "console_health_section",
            "The health page's section alone (health.js refreshes it)",
            [
                html_response(200, "The section (an HTML fragment; Cache-Control: no-store)"),
                SIGN_IN,
                UNAVAILABLE,
            ],
        ),
        health_section,
    ),
)
