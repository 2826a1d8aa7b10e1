"""health_rules.health: the node's health in words, from facts alone."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from province_node.hub_client import HubProvinceSync
from province_node.openapi import KafkaState, NodeSyncStatus
from province_node.outbox_reads import CommitRate
from province_node.publisher import RelayState
from province_node.web.console.health_rules import Health, HealthFacts, health

NOW = datetime(2026, 12, 5, 8, 0, 0, tzinfo=UTC)
UP = KafkaState(connected=True, last_error=None, last_success_at=NOW)
DOWN = KafkaState(
    connected=False,
    last_error="KafkaConnectionError: refused",
    last_success_at=datetime(2026, 12, 5, 7, 59, 0, tzinfo=UTC),
)
CLEAR = NodeSyncStatus(
    province="50",
    committed_seq=9,
    published_seq=9,
    outbox_backlog=0,
    oldest_unpublished_at=None,
    kafka=UP,
)
BACKLOG = CLEAR.model_copy(
    update={
        "published_seq": 5,
        "outbox_backlog": 4,
        "oldest_unpublished_at": datetime(2026, 12, 5, 7, 59, 30, tzinfo=UTC),
        "kafka": DOWN,
    }
)
RUNNING = RelayState(running=True, connected=True, topic_checked=True)
RATES = (CommitRate(1, 2), CommitRate(15, 30), CommitRate(60, 45))
HUB_OK = HubProvinceSync(status="ok", reason="fine", lag_seconds=0.4, applied_seq=9, dead_letters=0)


def facts(
    sync: NodeSyncStatus = CLEAR,
    relay: RelayState = RUNNING,
    hub: HubProvinceSync | str = HUB_OK,
) -> HealthFacts:
    return HealthFacts(sync, relay, RATES, hub, NOW)


def item(h: Health, label: str) -> str:
    """An item's badge and sentence, by its label."""
    return {i.label: f"{i.badge} {i.text}" for i in (*h.node, *h.hub)}[label]


def test_all_sent_reads_normal() -> None:
    assert health(facts()).headline.startswith("本节点运行正常")


def test_kafka_down_with_a_backlog_says_how_many_wait() -> None:
    h = health(facts(sync=BACKLOG))
    assert (h.tone, "4 条变更在本节点发件箱中等待" in h.headline) == ("warn", True)


def test_the_backlog_names_its_oldest_entry_and_its_age() -> None:
    text = item(health(facts(sync=BACKLOG)), "发件箱积压")
    assert "2026-12-05 15:59:30（北京时间），已等待约 30 秒" in text


def test_kafka_down_names_the_last_success() -> None:
    assert "最近一次成功通信：2026-12-05 15:59:00（北京时间）" in item(
        health(facts(sync=BACKLOG)), "消息队列（Kafka）"
    )


def test_kafkas_english_error_is_technical_only() -> None:
    assert "Kafka: KafkaConnectionError: refused" in health(facts(sync=BACKLOG)).technical


def test_positions_show_committed_and_published_seq() -> None:
    assert "已提交至第 9 号，已发送至第 5 号" in item(health(facts(sync=BACKLOG)), "变更序号")


def test_a_stopped_relay_is_the_headline() -> None:
    h = health(facts(relay=replace(RUNNING, running=False)))
    assert (h.tone, h.headline.startswith("发送进程已停止")) == ("bad", True)


def test_the_restore_check_holds_sending() -> None:
    assert "安全核对" in health(facts(relay=replace(RUNNING, topic_checked=False))).headline


def test_rates_per_window() -> None:
    rows = [(r.window, r.count, r.per_minute) for r in health(facts()).rates]
    assert rows == [
        ("最近 1 分钟", 2, "2.0"),
        ("最近 15 分钟", 30, "2.0"),
        ("最近 1 小时", 45, "0.8"),
    ]


def test_the_hubs_view_in_words_with_its_lag() -> None:
    assert (
        item(health(facts()), "全国平台看本省")
        == "同步正常 全国平台的数据比本省晚约 1 秒，已接收到第 9 号变更。"
    )


def test_dead_letters_at_the_hub_are_listed() -> None:
    h = health(facts(hub=replace(HUB_OK, dead_letters=2)))
    assert item(h, "被拒收的消息").startswith("2 条")


def test_an_unreachable_hub_does_not_stop_the_node() -> None:
    text = item(health(facts(hub="timed out")), "全国平台")
    assert "这不影响本节点办理业务和发送变更" in text


def test_the_relay_retries_while_kafka_is_down() -> None:
    assert item(health(facts(sync=BACKLOG)), "发送进程").startswith("重试中")
