"""The search page over HTTP: a refused field named in Chinese next to it (400), values shown
as text, the CSP and the other hardening headers on every page."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from schemas.security_headers import SECURITY_HEADERS

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_the_bare_address_is_the_empty_form(client: TestClient) -> None:
    resp = await client.get("/")
    assert (resp.status, resp.content_type) == (200, "text/html")
    assert '<html lang="zh-CN">' in await resp.text()


async def test_a_one_character_name_is_refused_next_to_the_field(client: TestClient) -> None:
    resp = await client.get("/?name=张&institution=")
    text = await resp.text()
    assert resp.status == 400
    assert '<p class="field-error" id="name-error"><strong>错误：</strong>姓名至少需要' in text


async def test_neither_name_nor_institution_asks_for_one(client: TestClient) -> None:
    resp = await client.get("/?name=&institution=&province=50")
    assert resp.status == 400
    assert "两者至少填一项" in await resp.text()


async def test_an_unknown_category_is_named(client: TestClient) -> None:
    resp = await client.get("/?name=张伟&category=surgery")
    assert resp.status == 400
    assert 'id="category-error"' in await resp.text()


async def test_a_typed_script_is_shown_as_text(client: TestClient) -> None:
    resp = await client.get("/", params={"name": "<script>alert(1)</script>", "institution": ""})
    text = await resp.text()
    assert 'value="&lt;script&gt;alert(1)&lt;/script&gt;"' in text
    assert "<script>alert" not in text


@pytest.mark.parametrize("path", ["/", "/?name=张", "/physicians/500000000000001", "/nope"])
async def test_every_page_carries_the_csp_without_unsafe_inline(
    client: TestClient, path: str
) -> None:
    resp = await client.get(path, headers={"Accept": "text/html"})
    assert {name: resp.headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS
    assert "unsafe-inline" not in resp.headers["Content-Security-Policy"]


async def test_a_page_is_never_cached(client: TestClient) -> None:
    assert (await client.get("/")).headers["Cache-Control"] == "no-store"


async def test_the_freshness_fragment_has_a_line_per_province_asked(client: TestClient) -> None:
    text = await (await client.get("/partials/freshness?province=50,44,zz")).text()
    assert ("重庆市：" in text, "广东省：" in text, "zz" in text) == (True, True, False)
