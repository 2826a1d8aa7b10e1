"""GET /registrations/{cert_no}/visibility: the national visibility section, from the node's
outbox and the hub's explanation (a stand-in hub answering CONTRACT §5's shapes)."""

from __future__ import annotations

import sqlite3
from contextlib import closing

from consolekit import FakeHub, explanation, sign_in
from nodekit import FedEnv, Node, cert_no, eventually, registration


async def _registered_and_sent(node: Node) -> int:
    """Register one physician and wait until Kafka has it; the change's seq."""
    code, body, _ = await node.register(registration(1))
    assert code == 201, body
    seq = int(body["sync_token"].split(":")[1])

    async def sent() -> bool:
        return (await node.status())["published_seq"] >= seq

    await eventually(sent)
    return seq


async def _section(node: Node) -> tuple[int, str]:
    resp = await node.client.get(f"/registrations/{cert_no(1)}/visibility")
    return resp.status, await resp.text()


async def test_a_change_the_hub_applied_reads_applied(hub_node: Node, hub: FakeHub) -> None:
    await sign_in(hub_node, "viewer")
    seq = await _registered_and_sent(hub_node)
    hub.explanation = explanation("applied", seq)
    status, html = await _section(hub_node)
    assert (status, "全国平台已是最新版本" in html) == (200, True)


async def test_the_hub_is_asked_about_exactly_the_latest_change(
    hub_node: Node, hub: FakeHub
) -> None:
    await sign_in(hub_node, "viewer")
    seq = await _registered_and_sent(hub_node)
    hub.explanation = explanation("applied", seq)
    await _section(hub_node)
    assert hub.asked == [f"/v1/sync/explain?token=50:{seq}"]


async def test_a_sent_change_not_yet_applied_reads_in_transit_with_its_eta(
    hub_node: Node, hub: FakeHub
) -> None:
    await sign_in(hub_node, "viewer")
    seq = await _registered_and_sent(hub_node)
    hub.explanation = explanation("in_transit", seq, eta_seconds=2.2, hub_applied_seq=seq - 1)
    _, html = await _section(hub_node)
    assert "已发送，预计约 3 秒后全国可查" in html


async def test_a_hub_that_does_not_answer_reads_unreachable(hub_node: Node, hub: FakeHub) -> None:
    await sign_in(hub_node, "viewer")
    await _registered_and_sent(hub_node)
    hub.explanation = None
    _, html = await _section(hub_node)
    assert "全国平台暂时无法连接" in html


async def test_the_section_refreshes_until_applied(hub_node: Node, hub: FakeHub) -> None:
    await sign_in(hub_node, "viewer")
    seq = await _registered_and_sent(hub_node)
    hub.explanation = explanation("in_transit", seq)
    _, html = await _section(hub_node)
    assert 'data-settled="false"' in html


async def test_english_from_the_hub_appears_only_under_technical_details(
    hub_node: Node, hub: FakeHub
) -> None:
    await sign_in(hub_node, "viewer")
    seq = await _registered_and_sent(hub_node)
    hub.explanation = explanation("applied", seq)
    _, html = await _section(hub_node)
    assert html.index("<summary>技术信息</summary>") < html.index(f"Change {seq} is applied")


async def test_the_section_never_shows_the_id_number(hub_node: Node, hub: FakeHub) -> None:
    await sign_in(hub_node, "viewer")
    seq = await _registered_and_sent(hub_node)
    hub.explanation = explanation("applied", seq)
    _, html = await _section(hub_node)
    assert registration(1)["id_number"] not in html


async def test_an_unknown_certificate_is_a_chinese_404(hub_node: Node) -> None:
    await sign_in(hub_node, "viewer")
    resp = await hub_node.client.get("/registrations/NOPE/visibility")
    assert (resp.status, "找不到此页面" in await resp.text()) == (404, True)


async def test_the_section_asks_for_a_session(hub_node: Node) -> None:
    resp = await hub_node.client.get(
        f"/registrations/{cert_no(1)}/visibility", allow_redirects=False
    )
    assert (resp.status, resp.headers["Location"].startswith("/login?next=")) == (303, True)


async def test_a_change_without_an_outbox_row_reads_cannot_tell(
    hub_node: Node, hub: FakeHub, fed: FedEnv
) -> None:
    await sign_in(hub_node, "viewer")
    seq = await _registered_and_sent(hub_node)
    # As after a restore from a backup older than the outbox's trim: the record, no outbox row.
    with closing(sqlite3.connect(fed.db)) as conn, conn:
        conn.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
    resp = await hub_node.client.get(f"/registrations/{cert_no(1)}")
    assert (resp.status, "本节点找不到这次变更" in await resp.text()) == (200, True)
