"""/verify and /receipt are rate limited per client like POST /v1/verify: over the budget, the
Chinese page with the time to wait, not JSON."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hubkit import HubEnv

from national_hub.web.app import create_app
from national_hub.web.appkeys import RATE_LIMITER
from national_hub.web.ratelimit import RateLimiter


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/verify"), ("GET", "/receipt")],
)
async def test_page_over_budget_is_the_429_page(hub_env: HubEnv, method: str, path: str) -> None:
    app = create_app(hub_env.settings())
    app[RATE_LIMITER] = RateLimiter(rate=0.5, burst=1)
    async with TestClient(TestServer(app)) as client:
        # A refused form (no cert_no) still costs its token, and asks no node.
        await client.request(method, path, data={"cert_no": ""} if method == "POST" else None)
        response = await client.request(method, path)
        text = await response.text()
    assert (response.status, response.content_type, "请求过于频繁" in text) == (
        429,
        "text/html",
        True,
    )
