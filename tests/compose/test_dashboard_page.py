"""national_hub/web/static/dashboard.*: the ops page rendered by headless Chromium against fixtures.

A throwaway HTTP server on 127.0.0.1 serves the static files the way the hub does
(`/dashboard`, `/static/...`) plus canned answers for `GET /v1/sync/status` and
`GET /v1/sync/lag-history`; the real-hub test lives with the hub's tests.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.compose.helpers import ROOT
from tests.national_hub.chromium import dump_dom

STATIC = ROOT / "national_hub" / "web" / "static"
SVG_NS = "http://www.w3.org/2000/svg"


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def healthy_status() -> dict[str, Any]:
    now = datetime.now(UTC)
    row = {
        "applied_seq": 120,
        "province_committed_seq": 120,
        "province_published_seq": 120,
        "outbox_backlog": 0,
        "consumer_lag_messages": 0,
        "last_heartbeat_at": _iso(now),
        "dead_letters": 0,
    }
    return {
        "provinces": [
            {**row, "province": "50", "name": "重庆市", "status": "ok", "lag_seconds": 0.7,
             "reason": "全部已同步 all applied"},
            {**row, "province": "11", "name": "北京市", "status": "publishing_blocked",
             "lag_seconds": 95.0, "outbox_backlog": 42,
             "reason": "北京市节点无法发布到 Kafka"},
            {**row, "province": "44", "name": "广东省", "status": "lagging", "lag_seconds": 12.2,
             "dead_letters": 3, "reason": "1534 events in transit"},
        ]
    }  # fmt: skip


def lag_history(codes: tuple[str, ...] = ("50", "11", "44")) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "provinces": {
            code: [
                {"t": _iso(now - timedelta(seconds=15 * i)), "lag_seconds": 1.0 + n + i % 3}
                for i in range(60, -1, -1)
            ]
            for n, code in enumerate(codes)
        }
    }


@dataclass
class Hub:
    """What the fake hub answers; tests change it before loading the page."""

    status: Any = field(default_factory=healthy_status)
    history: Any = field(default_factory=lag_history)
    fail_with: int | None = None
    url: str = ""


class _Handler(BaseHTTPRequestHandler):
    hub: Hub

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, code: int, body: bytes, ctype: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        api = {"/v1/sync/status": "status", "/v1/sync/lag-history": "history"}
        if path in api:
            if self.hub.fail_with:
                err = {"error": {"code": "unavailable", "message": "hub is restarting"}}
                body = json.dumps(err).encode()
                return self._send(self.hub.fail_with, body, "application/json")
            body = json.dumps(getattr(self.hub, api[path]), ensure_ascii=False).encode()
            return self._send(200, body, "application/json; charset=utf-8")
        files = {
            "/dashboard": ("dashboard.html", "text/html; charset=utf-8"),
            "/static/dashboard.js": ("dashboard.js", "text/javascript; charset=utf-8"),
            "/static/dashboard.css": ("dashboard.css", "text/css; charset=utf-8"),
        }
        if path in files:
            name, ctype = files[path]
            return self._send(200, (STATIC / name).read_bytes(), ctype)
        return self._send(404, b"not found", "text/plain")


@pytest.fixture
def hub() -> Iterator[Hub]:
    state = Hub()
    handler = type("Handler", (_Handler,), {"hub": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


# --- a minimal DOM from Chromium's --dump-dom output -------------------------------------------

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr"}  # fmt: skip


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self) -> Iterator[Node]:
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.iter()

    def find_all(self, tag: str, **attrs: str) -> list[Node]:
        return [
            n
            for n in self.iter()
            if n.tag == tag and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]

    def by_id(self, ident: str) -> Node:
        (found,) = [n for n in self.iter() if n.attrs.get("id") == ident]
        return found


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in _VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                break

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def render(hub: Hub) -> Node:
    builder = _Builder()
    builder.feed(dump_dom(f"{hub.url}/dashboard", wait_ms=5000))
    return builder.root


def rows(dom: Node) -> dict[str, Node]:
    tbody = dom.by_id("status-rows")
    return {
        tr.attrs["data-province"]: tr for tr in tbody.find_all("tr") if "data-province" in tr.attrs
    }


# --- tests ------------------------------------------------------------------------------------


def test_page_has_a_row_per_province_with_its_chinese_name(hub: Hub) -> None:
    found = rows(render(hub))
    names = {code: tr.find_all("th")[0].text() for code, tr in found.items()}
    assert names == {"50": "50重庆市", "11": "11北京市", "44": "44广东省"}


def test_status_is_shown_as_colour_and_text(hub: Hub) -> None:
    found = rows(render(hub))
    blocked = found["11"]
    assert blocked.attrs["data-status"] == "publishing_blocked"
    (badge,) = [n for n in blocked.iter() if "badge" in n.attrs.get("class", "").split()]
    assert "status-publishing_blocked" in badge.attrs["class"]
    assert "发布受阻" in badge.text() and "publishing blocked" in badge.text()


def test_row_shows_reason_lag_backlog_and_dead_letters(hub: Hub) -> None:
    found = rows(render(hub))
    beijing = " ".join(found["11"].text().split())
    assert "北京市节点无法发布到 Kafka" in beijing
    assert "95 s" in beijing and "42" in beijing
    guangdong = [td.text() for td in found["44"].find_all("td")]
    assert guangdong[2] == "12 s" and guangdong[6] == "3"


def test_last_updated_shows_a_time(hub: Hub) -> None:
    text = render(hub).by_id("last-updated").text()
    assert re.fullmatch(r"\d\d:\d\d:\d\d", text), text


def test_lag_chart_draws_a_line_per_province(hub: Hub) -> None:
    chart = render(hub).by_id("lag-chart")
    lines = {p.attrs["data-province"]: p.attrs["d"] for p in chart.find_all("path")}
    assert set(lines) == {"50", "11", "44"}
    assert all(d.count("L") >= 50 for d in lines.values()), lines


def test_lag_chart_legend_names_provinces_in_chinese(hub: Hub) -> None:
    legend = render(hub).by_id("lag-legend")
    assert {"重庆市", "北京市", "广东省"} <= {
        span.text() for li in legend.find_all("li") for span in li.find_all("span")
    }


def test_error_banner_is_hidden_while_the_hub_answers(hub: Hub) -> None:
    assert "hidden" in render(hub).by_id("error-banner").attrs


def test_error_banner_shows_when_the_hub_fails(hub: Hub) -> None:
    hub.fail_with = 503
    banner = render(hub).by_id("error-banner")
    assert "hidden" not in banner.attrs
    assert "HTTP 503" in banner.text() and "hub is restarting" in banner.text()


def test_null_and_missing_values_render_as_dashes(hub: Hub) -> None:
    keys = ["status", "reason", "lag_seconds", "applied_seq", "province_committed_seq",
            "province_published_seq", "outbox_backlog", "consumer_lag_messages",
            "last_heartbeat_at", "dead_letters", "name"]  # fmt: skip
    hub.status = {"provinces": [{"province": "50", **dict.fromkeys(keys)}, {"province": "44"}]}
    hub.history = {"provinces": {"50": [{"t": None, "lag_seconds": None}], "44": None}}
    dom = render(hub)
    found = rows(dom)
    assert set(found) == {"50", "44"}
    text = found["50"].text() + found["44"].text() + dom.by_id("lag-chart").text()
    assert not re.search(r"NaN|undefined|null|Infinity", text), text
    assert found["50"].attrs["data-status"] == "unknown"
    assert "重庆市" in found["50"].text()  # the name falls back to the built-in table
    assert "hidden" in dom.by_id("error-banner").attrs


def test_page_loads_nothing_from_other_origins() -> None:
    other_origin = re.compile(r"https?://|//[\w-]+\.[\w.-]+/|@import", re.IGNORECASE)
    for name in ("dashboard.html", "dashboard.js", "dashboard.css"):
        text = (STATIC / name).read_text(encoding="utf-8").replace(SVG_NS, "")
        assert not other_origin.search(text), f"{name}: {other_origin.search(text)}"
