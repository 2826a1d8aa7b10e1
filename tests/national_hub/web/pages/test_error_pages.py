"""The site's errors are Chinese pages with the right status: the wait of a 429 (Retry-After
kept), a 500's error id, a 404; the API's paths keep the JSON error body."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from browser import DESKTOP, PHONE, axe, horizontal_overflow, launched, new_page, screenshot
from hubkit import write_federation

from national_hub.errors import ServiceUnavailable
from national_hub.web.app import create_app
from national_hub.web.appkeys import RATE_LIMITER
from national_hub.web.pages import search_routes
from national_hub.web.pages.error_pages import error_text
from national_hub.web.ratelimit import RateLimiter

HTML = {"Accept": "text/html"}


pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module")
async def strict_client(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[TestClient]:
    """The hub allowing one public request per client, then 429 for a long while."""
    env = write_federation(tmp_path_factory.mktemp("strict"), "127.0.0.1:1", "offline")
    app = create_app(env.settings())
    app[RATE_LIMITER] = RateLimiter(rate=0.01, burst=1)
    async with TestClient(TestServer(app)) as c:
        yield c


async def test_over_the_rate_limit_the_page_says_how_long_to_wait(
    strict_client: TestClient,
) -> None:
    assert (await strict_client.get("/")).status == 200
    resp = await strict_client.get("/")
    wait = resp.headers["Retry-After"]
    assert (resp.status, resp.content_type) == (429, "text/html")
    assert f"请求过于频繁，请 {wait} 秒后再试" in await resp.text()


async def test_an_unexpected_failure_shows_its_error_id(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(search_routes, "run_indexed_search", broken)
    resp = await client.get("/?name=张伟")
    text = await resp.text()
    assert resp.status == 500
    assert re.search(r'错误编号：<span class="error-id">[0-9a-f]{16}</span>', text)


async def test_an_unexpected_failure_shows_no_traceback(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any) -> Any:
        raise RuntimeError("a secret detail")

    monkeypatch.setattr(search_routes, "run_indexed_search", broken)
    text = await (await client.get("/?name=张伟")).text()
    assert "a secret detail" not in text and "Traceback" not in text


async def test_an_unknown_address_in_a_browser_is_a_page(client: TestClient) -> None:
    resp = await client.get("/no-such-page", headers=HTML)
    assert (resp.status, resp.content_type) == (404, "text/html")
    assert "找不到此页面" in await resp.text()


async def test_the_api_keeps_its_json_errors_for_a_browser(client: TestClient) -> None:
    resp = await client.get("/v1/no-such-route", headers=HTML)
    assert (resp.status, resp.content_type) == (404, "application/json")


async def test_a_malformed_certificate_number_is_named_in_chinese(client: TestClient) -> None:
    resp = await client.get("/physicians/12345")
    assert resp.status == 400
    assert "执业证书编码应为 15 位数字" in await resp.text()


async def test_overloaded_says_when_to_come_back() -> None:
    exc = ServiceUnavailable("busy", code="overloaded", headers={"Retry-After": "3"})
    assert "请 3 秒后再试" in " ".join(error_text(exc).sentences)


async def test_the_rate_limit_page_in_a_browser(strict_client: TestClient) -> None:
    async with launched() as browser:
        for viewport in (DESKTOP, PHONE):
            page = await new_page(browser, viewport)
            await page.goto(str(strict_client.make_url("/")))
            response = await page.goto(str(strict_client.make_url("/?name=张伟")))
            assert response is not None and response.status == 429
            await screenshot(page, "pages", "rate-limited")
            assert (await axe(page), await horizontal_overflow(page)) == ([], 0)
            await page.context.close()
