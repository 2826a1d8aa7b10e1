"""refusal_text: why a step was refused, in Chinese, from the record's state and the step."""

from __future__ import annotations

from province_node.lifecycle import ASSESSMENT_FAILED_REASON
from province_node.web.console.refusal_text import refusal_text
from schemas.vocab import EventType


def test_a_cancelled_registration_can_only_be_registered_again() -> None:
    text = refusal_text({"status": "cancelled"}, EventType.SUSPENDED)
    assert text == "该注册当前为已注销，不能暂停执业；只能重新注册。"


def test_a_revoked_registration_allows_nothing() -> None:
    assert "不能再办理任何业务" in refusal_text({"status": "revoked"}, EventType.REINSTATED)


def test_a_transferred_registration_names_where_it_went() -> None:
    record = {"status": "transferred_out", "transfer": {"to_province": "11"}}
    assert "北京市" in refusal_text(record, EventType.SUSPENDED)


def test_a_failed_assessment_suspension_needs_a_reassessment() -> None:
    record = {"status": "suspended", "status_reason": ASSESSMENT_FAILED_REASON}
    assert "再次考核合格" in refusal_text(record, EventType.REINSTATED)


def test_a_pending_change_blocks_a_transfer() -> None:
    text = refusal_text({"status": "changing"}, EventType.TRANSFERRED_OUT)
    assert "请先批准或驳回该变更" in text


def test_approving_without_a_pending_change_says_there_is_none() -> None:
    text = refusal_text({"status": "active"}, EventType.CHANGED, approve=True)
    assert text.startswith("该注册没有待审批的变更")


def test_a_site_filed_twice_is_said_so() -> None:
    message = "cannot file X: it is already filed as a practice site of registration Y"
    assert "不能重复备案" in refusal_text({"status": "active"}, EventType.SITE_FILED, message)


def test_otherwise_the_allowed_statuses_are_named() -> None:
    text = refusal_text({"status": "suspended"}, EventType.TRANSFERRED_OUT)
    assert text == "该注册当前为暂停执业，不能办理转出；只有正常的注册可以办理转出。"
