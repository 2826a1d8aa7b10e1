"""Each of the seven explanation states in plain Chinese, with what a person can do."""

from __future__ import annotations

from typing import Any

from national_hub.web.pages.explain_text import explain_text
from schemas.vocab import ExplanationState

CERT = "500000000000001"
NEW_CERT = "440000000000009"


def explanation(state: str, **members: Any) -> dict[str, Any]:
    return {
        "visible": state == "applied",
        "state": state,
        "reason": "for operators",
        "province": "50",
        "eta_seconds": None,
        "evidence": {"outbox_backlog": 0, "last_heartbeat_at": None},
        **members,
    }


def words(state: str, **members: Any) -> str:
    text = explain_text(explanation(state, **members), CERT, committed_ago=3.2)
    return " ".join([text.title, *text.sentences, *text.actions])


def test_applied_links_to_the_physician_page() -> None:
    text = explain_text(explanation("applied"), CERT)
    assert text.link is not None and text.link.href == f"/physicians/{CERT}"


def test_in_transit_says_when_registered_and_when_expected() -> None:
    assert "已在重庆市登记 3.2 秒前，预计约 2 秒后可在全国查询到" in words(
        "in_transit", eta_seconds=1.8
    )


def test_in_transit_waits_for_the_record() -> None:
    assert explain_text(explanation("in_transit", eta_seconds=1.8), CERT).waiting


def test_not_published_names_the_provinces_outbox() -> None:
    got = words("not_published", eta_seconds=4.0, evidence={"outbox_backlog": 12})
    assert "仍在重庆市平台的待发送队列中（前面还有 12 条待发送）" in got


def test_not_published_without_an_eta_says_it_cannot_tell() -> None:
    assert "暂时无法估计何时可在全国查询到" in words("not_published")


def test_province_unreachable_says_since_when_and_that_it_may_exist() -> None:
    got = words(
        "province_unreachable",
        unreachable=["50"],
        evidence={"last_heartbeat_at": "2026-12-05T04:10:00.000Z"},
    )
    assert "重庆市平台自 2026-12-05 12:10:00（北京时间） 起没有响应" in got
    assert "该注册可能已在该省存在" in got


def test_unknown_to_province_lists_the_checks_and_whom_to_ask() -> None:
    text = explain_text(explanation("unknown_to_province", province=None), CERT)
    actions = " ".join(text.actions)
    for check in ("共 15 位数字", "生僻字", "机构全称", "发证机关"):
        assert check in actions, check


def test_rejected_says_what_happened_and_who_fixes_it() -> None:
    got = words("rejected", rejection={"reason": "cert_conflict", "topic": "t"})
    assert "未通过校验" in got and "技术原因：cert_conflict" in got and "更正后重新发送" in got


def test_transferred_links_to_the_new_record() -> None:
    text = explain_text(
        explanation("transferred", transferred_to={"province": "44", "cert_no": NEW_CERT}), CERT
    )
    assert (text.title, text.link and text.link.href) == (
        "该注册已转至广东省",
        f"/physicians/{NEW_CERT}",
    )


def test_transferred_before_the_new_province_registers_offers_its_search() -> None:
    text = explain_text(
        explanation("transferred", transferred_to={"province": "44", "cert_no": None}), CERT
    )
    assert text.link is not None and text.link.href == "/?province=44"


def test_every_state_has_a_title_and_something_to_do() -> None:
    for state in ExplanationState:
        text = explain_text(explanation(state.value), CERT)
        assert text.title and text.actions, state
