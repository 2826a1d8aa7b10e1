"""Browser hardening of every hub answer, and the JSON 404 of the static tree (issue 12, #12)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from html.parser import HTMLParser

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hubkit import HubEnv

from national_hub.web.app import create_app
from national_hub.web.sync_routes import STATIC_DIR


@pytest.fixture
async def client(hub_env: HubEnv) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_app(hub_env.settings()))) as client:
        yield client


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/dashboard", 200),
        ("GET", "/static/dashboard.js", 200),
        ("GET", "/static/dashboard.css", 200),
        ("GET", "/static/nope.js", 404),
        ("GET", "/v1/sync/status", 200),
        ("GET", "/v1/physicians/123", 400),
        ("GET", "/v1/physicians/500000000000001", 404),
        ("POST", "/v1/sync/status", 405),
        ("GET", "/v1/anomalies", 401),
        ("GET", "/openapi.json", 200),
        ("GET", "/metrics", 200),
        ("GET", "/healthz", 200),
        ("GET", "/nope", 404),
    ],
)
async def test_every_answer_carries_the_security_headers(
    client: TestClient, method: str, path: str, status: int
) -> None:
    resp = await client.request(method, path)
    assert resp.status == status
    headers = resp.headers
    csp = {
        d.strip().split(" ", 1)[0]: d.strip()
        for d in headers.get("Content-Security-Policy", "").split(";")
    }
    assert csp.get("default-src") == "default-src 'none'", headers
    assert csp.get("script-src") == "script-src 'self'"
    assert csp.get("style-src") == "style-src 'self'"
    assert csp.get("connect-src") == "connect-src 'self'"
    assert csp.get("frame-ancestors") == "frame-ancestors 'none'"
    assert headers.get("X-Content-Type-Options") == "nosniff"
    assert headers.get("X-Frame-Options") == "DENY"
    assert headers.get("Referrer-Policy") == "no-referrer"


class _Inline(HTMLParser):
    """What a CSP without 'unsafe-inline' would block: inline scripts, styles, handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "style":
            self.found.append("<style>")
        if tag == "script":
            src = a.get("src") or ""
            if not src.startswith("/static/"):
                self.found.append(f"<script src={src!r}>")
            self._in_script = True
        if tag == "link" and a.get("rel") == "stylesheet":
            if not (a.get("href") or "").startswith("/static/"):
                self.found.append(f"<link href={a.get('href')!r}>")
        for name, _ in attrs:
            if name == "style" or name.startswith("on"):
                self.found.append(f"{tag} {name}=")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.found.append("inline script")


def test_the_dashboard_needs_nothing_the_policy_refuses() -> None:
    parser = _Inline()
    parser.feed((STATIC_DIR / "dashboard.html").read_text(encoding="utf-8"))
    assert parser.found == []
    script = (STATIC_DIR / "dashboard.js").read_text(encoding="utf-8")
    for needle in ("eval(", "new Function", "innerHTML", '"style"', ".style.", "javascript:"):
        assert needle not in script, needle


@pytest.mark.parametrize(
    "path",
    [
        "/static/nope",
        "/static/dashboard.js/x",
        "/static/a%2Fb",
        "/static/DASHBOARD.JS",
        "/static/",
        "/static",
        "/static/.",
        "/static/..%2Fapp.py",
    ],
)
async def test_every_static_miss_is_the_json_404(client: TestClient, path: str) -> None:
    resp = await client.get(path)
    assert resp.status == 404
    assert resp.content_type == "application/json"
    body = await resp.json()
    assert body["error"]["code"] == "not_found"
    assert body["error"]["message"]
