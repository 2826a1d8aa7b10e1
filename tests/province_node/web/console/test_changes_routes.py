"""GET /changes: the approval queue: every 变更中 registration with what would change, approve
or reject right from the list (a registrar), the list only for a viewer."""

from __future__ import annotations

import pytest
from consolekit import field_errors, post_action, sign_in
from nodekit import SECOND, Node, cert_no, registration


@pytest.fixture
async def changing(node: Node) -> str:
    code, body, _ = await node.register(registration(1))
    assert code == 201, body
    request = {"type": "change_requested", "changes": {"primary_institution": SECOND}}
    code, body, _ = await node.step(cert_no(1), request)
    assert code == 200, body
    return cert_no(1)


async def test_the_queue_lists_a_changing_record_with_old_and_new(
    node: Node, changing: str
) -> None:
    await sign_in(node, "viewer")
    html = await (await node.client.get("/changes")).text()
    assert (changing in html, SECOND["name"] in html, "主要执业机构" in html) == (True, True, True)


async def test_an_active_record_is_not_in_the_queue(node: Node) -> None:
    await node.register(registration(2))
    await sign_in(node, "viewer")
    html = await (await node.client.get("/changes")).text()
    assert (cert_no(2) in html, "目前没有待审批的变更申请" in html) == (False, True)


async def test_a_viewer_sees_no_approve_or_reject_form(node: Node, changing: str) -> None:
    await sign_in(node, "viewer")
    html = await (await node.client.get("/changes")).text()
    assert "/actions/" not in html


async def test_a_registrar_has_an_approve_and_a_reject_form_per_record(
    node: Node, changing: str
) -> None:
    await sign_in(node)
    html = await (await node.client.get("/changes")).text()
    assert (html.count('name="idempotency_key"'), f'id="reason-{changing}"' in html) == (2, True)


async def test_approving_from_the_queue_returns_to_it(node: Node, changing: str) -> None:
    csrf = await sign_in(node)
    fields = {"approve": "1", "back": "changes"}
    status, location, _ = await post_action(node, changing, "changed", fields, csrf)
    assert (status, location) == (303, f"/changes?done=approved&cert_no={changing}")


async def test_rejecting_from_the_queue_takes_the_record_off_it(
    node: Node, changing: str
) -> None:
    csrf = await sign_in(node)
    fields = {"reason": "材料不全", "back": "changes"}
    await post_action(node, changing, "change_rejected", fields, csrf)
    html = await (await node.client.get("/changes?done=change_rejected")).text()
    assert ("已办理：变更注册未予批准。" in html, f"reason-{changing}" in html) == (True, False)


async def test_a_rejection_without_a_reason_is_named_beside_the_field(
    node: Node, changing: str
) -> None:
    csrf = await sign_in(node)
    fields = {"reason": "", "back": "changes"}
    status, _, html = await post_action(node, changing, "change_rejected", fields, csrf)
    assert (status, field_errors(html)) == (422, {"reason": "请填写理由。"})
