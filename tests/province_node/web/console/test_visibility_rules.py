"""visibility_rules.decide: every outcome of a change's way to the hub, from facts alone."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from national_hub.ingest.messages import RejectReason
from province_node.hub_client import HubExplanation
from province_node.web.console.visibility_rules import (
    REJECTION_TEXT,
    Facts,
    KafkaFacts,
    OutboxFacts,
    Outcome,
    decide,
    rejection_text,
    seconds_text,
    unknown_change,
)

NOW = datetime(2026, 12, 5, 8, 0, 0, tzinfo=UTC)
SENT = OutboxFacts(
    seq=7,
    record_version=2,
    committed_at="2026-12-05T07:59:50.000Z",
    published=True,
    published_at="2026-12-05T07:59:51.000Z",
    backlog=0,
    oldest_unpublished_at=None,
)
WAITING = replace(
    SENT,
    published=False,
    published_at=None,
    backlog=3,
    oldest_unpublished_at="2026-12-05T07:58:00.000Z",
)
UP = KafkaFacts(connected=True, last_error=None, last_success_at=NOW)
DOWN = KafkaFacts(
    connected=False,
    last_error="KafkaConnectionError: connection refused",
    last_success_at=datetime(2026, 12, 5, 7, 58, 0, tzinfo=UTC),
)


def hub(
    state: str, *, eta: float | None = None, applied_seq: int = 6, rejection: str | None = None
) -> HubExplanation:
    return HubExplanation(
        state=state,
        reason=f"Change 7 is {state}.",
        eta_seconds=eta,
        evidence={"event_seq": 7, "hub_applied_seq": applied_seq},
        rejection_reason=rejection,
    )


def facts(
    outbox: OutboxFacts = SENT,
    kafka: KafkaFacts = UP,
    answer: HubExplanation | str = "timed out",
    applied_at: str | None = None,
) -> Facts:
    return Facts("50C2026000001", outbox, kafka, answer, applied_at, NOW)


def test_applied_says_the_hub_has_the_latest_version() -> None:
    v = decide(facts(answer=hub("applied", applied_seq=7)))
    assert (v.outcome, v.headline) == (Outcome.APPLIED, "全国平台已是最新版本")


def test_applied_names_when_in_beijing_time() -> None:
    v = decide(facts(answer=hub("applied"), applied_at="2026-12-05T07:59:52.000Z"))
    assert "已于 2026-12-05 15:59:52（北京时间）在全国平台生效" in v.detail


def test_applied_is_settled() -> None:
    assert decide(facts(answer=hub("applied"))).settled


def test_sent_and_not_applied_is_in_transit_with_the_eta_rounded_up() -> None:
    v = decide(facts(answer=hub("in_transit", eta=1.2)))
    assert (v.outcome, v.headline) == (Outcome.IN_TRANSIT, "已发送，预计约 2 秒后全国可查")


def test_in_transit_without_an_eta_says_soon() -> None:
    assert decide(facts(answer=hub("in_transit"))).headline == "已发送，预计很快全国可查"


def test_a_hub_view_older_than_the_send_still_reads_in_transit() -> None:
    # The hub's last heartbeat predates the send: it says not_published, the node knows better.
    assert decide(facts(answer=hub("not_published"))).outcome is Outcome.IN_TRANSIT


def test_in_transit_keeps_refreshing() -> None:
    assert not decide(facts(answer=hub("in_transit"))).settled


def test_unsent_with_kafka_down_waits_in_the_outbox() -> None:
    v = decide(facts(outbox=WAITING, kafka=DOWN, answer=hub("not_published")))
    assert (v.outcome, v.headline) == (Outcome.WAITING, "本节点发件箱中等待发送")


def test_waiting_says_since_when_kafka_is_unreachable() -> None:
    v = decide(facts(outbox=WAITING, kafka=DOWN))
    assert "自 2026-12-05 15:58:00（北京时间）起无法连接消息队列" in v.detail


def test_waiting_keeps_kafkas_english_error_under_technical() -> None:
    v = decide(facts(outbox=WAITING, kafka=DOWN))
    assert v.technical == ("Kafka: KafkaConnectionError: connection refused",)


def test_waiting_says_how_long_the_oldest_change_waits() -> None:
    assert "最早的一条已等待约 2 分钟" in decide(facts(outbox=WAITING, kafka=DOWN)).detail


def test_waiting_with_kafka_up_counts_the_changes_ahead() -> None:
    assert "发件箱中共有 3 条待发送" in decide(facts(outbox=WAITING, kafka=UP)).detail


def test_waiting_needs_no_hub() -> None:
    assert decide(facts(outbox=WAITING, answer="timed out")).outcome is Outcome.WAITING


def test_rejected_says_why_in_chinese() -> None:
    v = decide(facts(answer=hub("rejected", rejection="cert_conflict: claimed by 11")))
    assert (v.outcome, "该证书编号已由其他省份登记" in v.detail) == (Outcome.REJECTED, True)


def test_sent_with_the_hub_silent_reads_unreachable() -> None:
    v = decide(facts(answer="http://hub/v1/sync/explain did not answer within 1.5 s"))
    assert (v.outcome, v.headline) == (Outcome.HUB_UNREACHABLE, "全国平台暂时无法连接")


def test_unreachable_keeps_the_cause_under_technical() -> None:
    v = decide(facts(answer="no hub address configured (hub_url)"))
    assert v.technical == ("hub: no hub address configured (hub_url)",)


def test_every_outcome_has_a_badge_in_words() -> None:
    outcomes = {
        decide(f).outcome
        for f in (
            facts(answer=hub("applied")),
            facts(answer=hub("in_transit")),
            facts(outbox=WAITING),
            facts(answer=hub("rejected", rejection="schema: bad")),
            facts(),
        )
    }
    assert outcomes | {unknown_change("50C2026000001", 7).outcome} == set(Outcome)


def test_a_change_the_outbox_has_no_row_of_says_it_cannot_tell_and_stops_refreshing() -> None:
    v = unknown_change("50C2026000001", 7)
    assert (v.badge, v.settled, "第 7 号" in v.detail) == ("暂无法确认", True, True)


def test_every_reason_the_hub_dead_letters_for_has_chinese_words() -> None:
    assert set(REJECTION_TEXT) == {r.value for r in RejectReason}


def test_an_unknown_reason_code_is_named() -> None:
    assert rejection_text("brand_new: something") == "原因代码 brand_new"


def test_a_long_wait_is_said_in_minutes() -> None:
    assert seconds_text(150) == "约 3 分钟"
