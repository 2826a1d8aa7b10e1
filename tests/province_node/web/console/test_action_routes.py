"""POST /registrations/{cert_no}/actions/{type}: lifecycle actions through the console: done
goes back to the record, a 409 is explained in Chinese, a 422 is named beside its field, a
double submit commits once, a viewer and a form without CSRF are refused."""

from __future__ import annotations

import pytest
from consolekit import field_errors, post_action, sign_in
from nodekit import NEXT_YEAR, SECOND, Node, cert_no, registration

from province_node import outbox
from province_node.web.appkeys import REGISTRY


@pytest.fixture
async def registered(node: Node) -> str:
    code, body, _ = await node.register(registration(1))
    assert code == 201, body
    return cert_no(1)


SUSPEND = {"reason": "违反诊疗规范", "until": NEXT_YEAR}


async def _last_seq(node: Node) -> int:
    return await node.app[REGISTRY].read(outbox.last_seq)


async def test_a_suspension_goes_back_to_the_record_with_a_notice(
    node: Node, registered: str
) -> None:
    csrf = await sign_in(node)
    status, location, _ = await post_action(node, registered, "suspended", SUSPEND, csrf)
    assert (status, location) == (303, f"/registrations/{registered}?done=suspended")


async def test_the_action_form_page_asks_for_its_fields(node: Node, registered: str) -> None:
    await sign_in(node)
    html = await (await node.client.get(f"/registrations/{registered}/actions/suspended")).text()
    assert ('name="reason"' in html, 'name="until"' in html) == (True, True)


async def test_a_double_submit_commits_once(node: Node, registered: str) -> None:
    csrf = await sign_in(node)
    before = await _last_seq(node)
    first = await post_action(node, registered, "suspended", SUSPEND, csrf, key="k-dbl")
    second = await post_action(node, registered, "suspended", SUSPEND, csrf, key="k-dbl")
    assert (first[0], second[0], await _last_seq(node) - before) == (303, 303, 1)


async def test_a_refused_step_is_explained_in_chinese(node: Node, registered: str) -> None:
    await node.step(registered, {"type": "cancelled", "reason": "voluntary"})
    csrf = await sign_in(node)
    status, _, html = await post_action(node, registered, "suspended", SUSPEND, csrf)
    assert (status, "该注册当前为已注销，不能暂停执业；只能重新注册。" in html) == (409, True)


async def test_the_refusal_keeps_the_english_inside_technical_details(
    node: Node, registered: str
) -> None:
    await node.step(registered, {"type": "cancelled", "reason": "voluntary"})
    csrf = await sign_in(node)
    _, _, html = await post_action(node, registered, "suspended", SUSPEND, csrf)
    details = html.split('<details class="technical">')[1].split("</details>")[0]
    assert '<li lang="en">cannot suspend' in details


async def test_a_missing_field_is_named_beside_it_in_chinese(node: Node, registered: str) -> None:
    csrf = await sign_in(node)
    status, _, html = await post_action(node, registered, "suspended", {"until": NEXT_YEAR}, csrf)
    assert (status, field_errors(html)) == (422, {"reason": "请填写理由。"})


async def test_a_past_suspension_end_is_named_beside_it(node: Node, registered: str) -> None:
    csrf = await sign_in(node)
    fields = {"reason": "违反诊疗规范", "until": "2020-01-01"}
    status, _, html = await post_action(node, registered, "suspended", fields, csrf)
    assert (status, list(field_errors(html))) == (422, ["until"])


async def test_entered_values_are_kept_after_a_refusal(node: Node, registered: str) -> None:
    csrf = await sign_in(node)
    _, _, html = await post_action(node, registered, "suspended", {"reason": "违反规范"}, csrf)
    assert 'value="违反规范"' in html


async def test_a_site_filing_sends_the_institution(node: Node, registered: str) -> None:
    csrf = await sign_in(node)
    fields = {f"institution.{k}": v for k, v in SECOND.items()} | {"start_date": "2026-01-01"}
    status, _, _ = await post_action(node, registered, "site_filed", fields, csrf)
    _, body, _ = await node.call("GET", f"/v1/registrations/{registered}")
    assert (status, body["record"]["practice_sites"][0]["org_code"]) == (303, SECOND["org_code"])


async def test_a_change_request_then_its_approval(node: Node, registered: str) -> None:
    csrf = await sign_in(node)
    await post_action(node, registered, "change_requested", {"changes.level": "assistant"}, csrf)
    status, location, _ = await post_action(node, registered, "changed", {"approve": "1"}, csrf)
    _, body, _ = await node.call("GET", f"/v1/registrations/{registered}")
    assert (status, location.endswith("done=approved"), body["record"]["level"]) == (
        303,
        True,
        "assistant",
    )


async def test_an_empty_direct_change_asks_for_a_change(node: Node, registered: str) -> None:
    csrf = await sign_in(node)
    status, _, html = await post_action(node, registered, "changed", {}, csrf)
    assert (status, list(field_errors(html))) == (422, ["changes"])


async def test_cancellation_offers_the_legal_reasons_in_chinese(
    node: Node, registered: str
) -> None:
    await sign_in(node)
    html = await (await node.client.get(f"/registrations/{registered}/actions/cancelled")).text()
    assert '<option value="death">死亡</option>' in html


async def test_an_action_the_status_does_not_allow_shows_no_form(
    node: Node, registered: str
) -> None:
    await sign_in(node)
    resp = await node.client.get(f"/registrations/{registered}/actions/reinstated")
    html = await resp.text()
    assert (resp.status, "action-form" in html) == (409, False)


async def test_a_viewer_cannot_post_an_action(node: Node, registered: str) -> None:
    csrf = await sign_in(node, "viewer")
    status, _, _ = await post_action(node, registered, "suspended", SUSPEND, csrf)
    assert status == 403


async def test_an_action_without_the_csrf_token_is_refused(node: Node, registered: str) -> None:
    await sign_in(node)
    before = await _last_seq(node)
    status, _, _ = await post_action(node, registered, "suspended", SUSPEND, "forged")
    assert (status, await _last_seq(node)) == (403, before)


async def test_an_unknown_action_is_a_404(node: Node, registered: str) -> None:
    await sign_in(node)
    resp = await node.client.get(f"/registrations/{registered}/actions/registered")
    assert resp.status == 404


async def test_a_key_reused_for_other_content_is_said_as_on_the_register_form(
    node: Node, registered: str
) -> None:
    csrf = await sign_in(node)
    await post_action(node, registered, "suspended", SUSPEND, csrf, key="k-reused")
    other = {**SUSPEND, "reason": "另一个理由"}
    status, _, html = await post_action(node, registered, "suspended", other, csrf, key="k-reused")
    assert (status, "这张表单已提交过不同的内容，未执行任何操作。" in html) == (422, True)
