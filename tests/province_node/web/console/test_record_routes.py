"""GET /registrations/{cert_no}: the registration's page: Chinese fields, the masked ID number
and its reveal, the local history, the actions for a registrar only, a Chinese 404."""

from __future__ import annotations

import logging

import pytest
from consolekit import sign_in
from nodekit import Node, cert_no, id_number, registration


@pytest.fixture
async def registered(node: Node) -> str:
    code, body, _ = await node.register(registration(1))
    assert code == 201, body
    return cert_no(1)


async def _page(node: Node, path: str) -> tuple[int, str]:
    resp = await node.client.get(path)
    return resp.status, await resp.text()


async def test_the_page_shows_the_fields_in_chinese(node: Node, registered: str) -> None:
    await sign_in(node, "viewer")
    _, html = await _page(node, f"/registrations/{registered}")
    assert all(word in html for word in ("王小明", "执业医师", "临床", "内科专业", "正常"))


async def test_the_id_number_is_masked_by_default(node: Node, registered: str) -> None:
    await sign_in(node, "viewer")
    _, html = await _page(node, f"/registrations/{registered}")
    assert (id_number(1) in html, id_number(1)[-4:] in html) == (False, True)


async def test_show_id_reveals_the_id_number_and_logs_the_cert_no(
    node: Node, registered: str, caplog: pytest.LogCaptureFixture
) -> None:
    await sign_in(node, "viewer")
    with caplog.at_level(logging.INFO):
        _, html = await _page(node, f"/registrations/{registered}?show_id=1")
    logged = [r for r in caplog.records if r.getMessage().startswith("id number shown")]
    assert (id_number(1) in html, [registered in r.getMessage() for r in logged]) == (True, [True])


async def test_showing_the_id_number_logs_no_id_number(
    node: Node, registered: str, caplog: pytest.LogCaptureFixture
) -> None:
    await sign_in(node, "viewer")
    with caplog.at_level(logging.DEBUG):
        await _page(node, f"/registrations/{registered}?show_id=1")
    assert id_number(1) not in caplog.text


async def test_the_history_lists_the_registration_in_chinese(node: Node, registered: str) -> None:
    await node.step(registered, {"type": "reinstated"})  # refused: not in the history
    await sign_in(node, "viewer")
    _, html = await _page(node, f"/registrations/{registered}")
    history = html.split('id="history-heading"')[1]
    assert (history.count('<td class="num">1</td>'), "注册" in history) == (1, True)


async def test_a_registrar_is_offered_only_the_allowed_actions(node: Node, registered: str) -> None:
    await sign_in(node, "registrar")
    _, html = await _page(node, f"/registrations/{registered}")
    actions = html.split('id="actions-heading"')[1].split("</section>")[0]
    assert ("暂停执业" in actions, "恢复执业" in actions, "驳回变更" in actions) == (
        True,
        False,
        False,
    )


async def test_a_viewer_has_no_action_buttons(node: Node, registered: str) -> None:
    await sign_in(node, "viewer")
    _, html = await _page(node, f"/registrations/{registered}")
    assert ("办理业务" in html, "/actions/" in html) == (False, False)


async def test_done_says_what_was_done(node: Node, registered: str) -> None:
    await sign_in(node, "viewer")
    _, html = await _page(node, f"/registrations/{registered}?done=suspended")
    assert "已办理：暂停执业。" in html


async def test_an_unknown_certificate_number_is_a_chinese_404(node: Node) -> None:
    await sign_in(node, "viewer")
    status, html = await _page(node, f"/registrations/{cert_no(404)}")
    assert (status, "找不到此页面" in html) == (404, True)
