"""GET /health and GET /health/section: the node's health page, for a viewer too."""

from __future__ import annotations

from consolekit import FakeHub, sign_in
from nodekit import Node, registration


def _province(status: str) -> dict[str, object]:
    return {
        "province": "50",
        "status": status,
        "reason": "Province 50 is lagging behind.",
        "lag_seconds": 12.0,
        "applied_seq": 3,
        "dead_letters": 0,
    }


async def test_a_viewer_sees_the_health_page(hub_node: Node) -> None:
    await sign_in(hub_node, "viewer")
    resp = await hub_node.client.get("/health")
    html = await resp.text()
    assert (resp.status, "<h1>节点状态</h1>" in html, 'aria-current="page">节点状态' in html) == (
        200,
        True,
        True,
    )


async def test_the_page_asks_for_a_session(hub_node: Node) -> None:
    resp = await hub_node.client.get("/health", allow_redirects=False)
    assert resp.headers["Location"] == "/login?next=/health"


async def test_the_page_counts_changes_committed_in_the_last_minute(hub_node: Node) -> None:
    await sign_in(hub_node, "viewer")
    for i in (1, 2):
        code, body, _ = await hub_node.register(registration(i))
        assert code == 201, body
    html = await (await hub_node.client.get("/health/section")).text()
    assert '<th scope="row">最近 1 分钟</th><td class="num">2</td>' in html


async def test_the_hubs_view_of_this_province_in_words(hub_node: Node, hub: FakeHub) -> None:
    hub.status = {"provinces": [_province("lagging")]}
    await sign_in(hub_node, "viewer")
    html = await (await hub_node.client.get("/health/section")).text()
    assert "同步延迟</span> 全国平台的数据比本省晚约 12 秒" in html


async def test_an_unreachable_hub_is_said_in_chinese(hub_node: Node, hub: FakeHub) -> None:
    hub.status = None
    await sign_in(hub_node, "viewer")
    html = await (await hub_node.client.get("/health/section")).text()
    assert "暂时无法向全国平台查询它对本省的同步情况" in html


async def test_the_section_is_not_cached(hub_node: Node) -> None:
    await sign_in(hub_node, "viewer")
    resp = await hub_node.client.get("/health/section")
    assert resp.headers["Cache-Control"] == "no-store"


async def test_the_page_loads_its_refresh_script_from_a_file(hub_node: Node) -> None:
    await sign_in(hub_node, "viewer")
    html = await (await hub_node.client.get("/health")).text()
    assert '<script src="/static/console/health.js" defer></script>' in html


async def test_the_refresh_script_is_served(hub_node: Node) -> None:
    resp = await hub_node.client.get("/static/console/health.js")
    assert (resp.status, resp.content_type) == (200, "text/javascript")
