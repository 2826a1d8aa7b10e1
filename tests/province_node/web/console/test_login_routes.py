"""Signing in to the console and out again: cookie, roles, lockout, CSRF, origin."""

from __future__ import annotations

import pytest
from consolekit import csrf_of, field_errors, sign_in
from nodekit import FedEnv, Node, start_node

from province_node.web.appkeys import SESSIONS


async def test_the_sign_in_form_is_a_chinese_page_with_a_token_field(node: Node) -> None:
    resp = await node.client.get("/login")
    html = await resp.text()
    assert (resp.status, 'lang="zh-CN"' in html, 'name="token"' in html) == (200, True, True)


async def test_the_console_sends_a_csp_without_unsafe_inline(node: Node) -> None:
    resp = await node.client.get("/login")
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


async def test_a_registrar_token_opens_a_session_in_an_httponly_lax_cookie(node: Node) -> None:
    resp = await node.client.post(
        "/login", data={"token": node.tokens["registrar"]}, allow_redirects=False
    )
    cookie = resp.cookies["regsync_console"]
    assert (resp.status, resp.headers["Location"], cookie["httponly"], cookie["samesite"]) == (
        303,
        "/",
        True,
        "Lax",
    )


async def test_the_cookie_is_not_marked_secure_without_tls(node: Node) -> None:
    resp = await node.client.post(
        "/login", data={"token": node.tokens["viewer"]}, allow_redirects=False
    )
    assert resp.cookies["regsync_console"]["secure"] == ""


async def test_sign_in_goes_back_to_the_page_asked_for(node: Node) -> None:
    resp = await node.client.post(
        "/login",
        data={"token": node.tokens["viewer"], "next": "/health?x=1"},
        allow_redirects=False,
    )
    assert resp.headers["Location"] == "/health?x=1"


@pytest.mark.parametrize(
    "target",
    ["//evil.example/", "https://evil.example/", "/\\evil", "", "/\t/evil.example", "/\n/evil"],
)
async def test_sign_in_never_goes_to_another_site(node: Node, target: str) -> None:
    resp = await node.client.post(
        "/login", data={"token": node.tokens["viewer"], "next": target}, allow_redirects=False
    )
    assert resp.headers["Location"] == "/"


async def test_a_wrong_token_is_named_next_to_the_field(node: Node) -> None:
    resp = await node.client.post("/login", data={"token": "not-a-token"})
    assert (resp.status, field_errors(await resp.text())) == (
        401,
        {"token": "令牌不正确，请检查后重新输入。"},
    )


async def test_an_empty_token_is_asked_for(node: Node) -> None:
    resp = await node.client.post("/login", data={"token": "  "})
    assert (resp.status, field_errors(await resp.text())) == (422, {"token": "请输入令牌。"})


async def test_the_hub_token_cannot_sign_in(node: Node) -> None:
    resp = await node.client.post("/login", data={"token": node.tokens["hub"]})
    assert resp.status == 403


async def test_repeated_wrong_tokens_lock_the_address_out(
    fed: FedEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGSYNC_AUTH_THROTTLE", "3/60/60")
    node = await start_node(fed.settings(), fed.tokens)
    try:
        for _ in range(3):
            await node.client.post("/login", data={"token": "wrong"})
        resp = await node.client.post("/login", data={"token": node.tokens["registrar"]})
        assert (resp.status, "Retry-After" in resp.headers) == (429, True)
    finally:
        await node.client.close()


async def test_a_sign_in_posted_from_another_site_is_refused(node: Node) -> None:
    resp = await node.client.post(
        "/login",
        data={"token": node.tokens["registrar"]},
        headers={"Origin": "http://evil.example"},
        allow_redirects=False,
    )
    assert resp.status == 403


async def test_sign_out_without_the_csrf_token_is_refused(node: Node) -> None:
    await sign_in(node)
    resp = await node.client.post("/logout", data={}, allow_redirects=False)
    assert (resp.status, len(node.app[SESSIONS])) == (403, 1)


async def test_sign_out_ends_the_session(node: Node) -> None:
    csrf = await sign_in(node)
    resp = await node.client.post("/logout", data={"csrf": csrf}, allow_redirects=False)
    assert (resp.status, resp.headers["Location"], len(node.app[SESSIONS])) == (
        303,
        "/login?signed_out=1",
        0,
    )


async def test_a_signed_in_page_carries_the_sessions_csrf_token(node: Node) -> None:
    await sign_in(node)
    resp = await node.client.get("/no-such-page")
    (session,) = node.app[SESSIONS]._sessions.values()
    assert csrf_of(await resp.text()) == session.csrf


async def test_an_unknown_console_path_is_a_chinese_404_page(node: Node) -> None:
    resp = await node.client.get("/no-such-page")
    assert (resp.status, resp.content_type, "找不到此页面" in await resp.text()) == (
        404,
        "text/html",
        True,
    )


async def test_the_apis_errors_stay_json(node: Node) -> None:
    resp = await node.client.get("/v1/no-such-endpoint")
    assert (resp.status, resp.content_type) == (404, "application/json")


async def test_a_sign_in_the_browser_calls_same_origin_is_accepted(node: Node) -> None:
    # What chromium sends from the node's own form.
    resp = await node.client.post(
        "/login",
        data={"token": node.tokens["viewer"]},
        headers={"Sec-Fetch-Site": "same-origin", "Origin": "null"},
        allow_redirects=False,
    )
    assert resp.status == 303


async def test_a_sign_in_the_browser_calls_cross_site_is_refused(node: Node) -> None:
    resp = await node.client.post(
        "/login",
        data={"token": node.tokens["viewer"]},
        headers={"Sec-Fetch-Site": "cross-site"},
        allow_redirects=False,
    )
    assert resp.status == 403


async def test_console_pages_send_their_origin_with_forms(node: Node) -> None:
    resp = await node.client.get("/login")
    assert resp.headers["Referrer-Policy"] == "same-origin"
