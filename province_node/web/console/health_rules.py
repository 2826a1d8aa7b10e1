"""The node's health as the console's /health page says it (pure): is every change getting to
the national hub, and if not, where it is held and whether anyone must act.

Facts come from health_routes: the API's sync position (web.sync_facts), the relay's state,
the outbox's recent commit counts and the hub's view of this province (GET /v1/sync/status),
or why the hub could not be asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from province_node.hub_client import HubProvinceSync
from province_node.openapi import NodeSyncStatus
from province_node.outbox_reads import CommitRate
from province_node.publisher import RelayState
from province_node.web.console.visibility_rules import seconds_text
from schemas.timestamps import beijing_time
from schemas.vocab import SYNC_STATE_LABELS, SyncState

# The hub's statuses as badge tones; the words (SYNC_STATE_LABELS) carry the meaning.
_HUB_TONES: dict[SyncState, str] = {
    SyncState.OK: "ok",
    SyncState.LAGGING: "wait",
    SyncState.STALLED: "bad",
    SyncState.PUBLISHING_BLOCKED: "warn",
    SyncState.OFFLINE: "bad",
    SyncState.UNKNOWN: "muted",
}


@dataclass(frozen=True, slots=True)
class HealthFacts:
    """Everything health() looks at."""

    sync: NodeSyncStatus
    relay: RelayState
    rates: tuple[CommitRate, ...]
    # The hub's view of this province, or why the hub could not be asked.
    hub: HubProvinceSync | str
    now: datetime


@dataclass(frozen=True, slots=True)
class Item:
    """One fact on the page: a label, a badge in words (tone: its class suffix), a sentence."""

    label: str
    badge: str
    tone: str
    text: str


@dataclass(frozen=True, slots=True)
class RateRow:
    """Commits in one window."""

    window: str
    count: int
    per_minute: str


@dataclass(frozen=True, slots=True)
class Health:
    """The page's content: all text, Chinese, ready to show."""

    headline: str
    tone: str
    node: tuple[Item, ...]
    rates: tuple[RateRow, ...]
    hub: tuple[Item, ...]
    # English texts from Kafka or the hub, shown only under 技术信息.
    technical: tuple[str, ...]
    as_of: str


def _headline(f: HealthFacts) -> tuple[str, str]:
    """The one sentence at the top, and its tone."""
    backlog = f.sync.outbox_backlog
    if not f.relay.running:
        return "发送进程已停止：新的变更不会发送到全国平台，请重启本节点并联系运维人员。", "bad"
    if not f.sync.kafka.connected:
        if backlog:
            return (
                f"消息队列（Kafka）无法连接：{backlog} 条变更在本节点发件箱中等待，"
                f"连接恢复后自动发送，无需重新办理。",
                "warn",
            )
        return "消息队列（Kafka）暂时无法连接；目前没有待发送的变更。", "warn"
    if not f.relay.topic_checked:
        return "恢复备份后的安全核对进行中：核对完成前暂不发送变更。", "wait"
    if backlog:
        return f"正在发送：{backlog} 条变更待发送到消息队列。", "wait"
    return "本节点运行正常：所有已办理的变更均已发送到消息队列。", "ok"


def _kafka(f: HealthFacts) -> Item:
    k = f.sync.kafka
    last = (
        f"最近一次成功通信：{beijing_time(k.last_success_at)}"
        if k.last_success_at
        else "本节点启动后尚未与消息队列成功通信"
    )
    if k.connected:
        return Item("消息队列（Kafka）", "已连接", "ok", f"{last}。")
    return Item("消息队列（Kafka）", "无法连接", "bad", f"{last}；本节点会自动重试。")


def _backlog(f: HealthFacts) -> Item:
    s = f.sync
    if not s.outbox_backlog:
        return Item("发件箱积压", "无积压", "ok", "0 条：所有变更均已发送。")
    oldest = s.oldest_unpublished_at
    waited = ""
    if oldest is not None:
        age = seconds_text((f.now - oldest).total_seconds())
        waited = f"最早一条提交于 {beijing_time(oldest)}，已等待{age}。"
    return Item("发件箱积压", "有积压", "warn", f"{s.outbox_backlog} 条待发送。{waited}")


def _positions(f: HealthFacts) -> Item:
    s = f.sync
    same = s.committed_seq == s.published_seq
    return Item(
        "变更序号",
        "一致" if same else "未发送完",
        "ok" if same else "wait",
        f"已提交至第 {s.committed_seq} 号，已发送至第 {s.published_seq} 号。",
    )


def _relay(f: HealthFacts) -> Item:
    r = f.relay
    if not r.running:
        return Item("发送进程", "已停止", "bad", "发送进程没有运行，请重启本节点。")
    if not r.topic_checked:
        return Item(
            "发送进程", "核对中", "wait", "正在核对登记库与消息队列中的记录，完成后开始发送。"
        )
    if not f.sync.kafka.connected:
        # It holds a producer or not, it cannot send now: say what it does about it.
        return Item("发送进程", "重试中", "wait", "发送进程在运行，消息队列恢复后自动继续发送。")
    if r.connected:
        return Item("发送进程", "运行中", "ok", "已连接消息队列，有新变更时立即发送。")
    return Item("发送进程", "运行中", "ok", "有待发送的变更时连接消息队列。")


def _hub(f: HealthFacts) -> tuple[tuple[Item, ...], tuple[str, ...]]:
    h = f.hub
    if isinstance(h, str):
        return (
            (
                Item(
                    "全国平台",
                    "暂无法连接",
                    "muted",
                    "暂时无法向全国平台查询它对本省的同步情况；这不影响本节点办理业务和发送变更。",
                ),
            ),
            (f"hub: {h}",),
        )
    try:
        state = SyncState(h.status)
    except ValueError:
        state = SyncState.UNKNOWN
    lag = (
        f"全国平台的数据比本省晚{seconds_text(h.lag_seconds)}"
        if h.lag_seconds is not None
        else "全国平台尚未算出本省的同步延迟"
    )
    applied = f"，已接收到第 {h.applied_seq} 号变更" if h.applied_seq is not None else ""
    items = [
        Item("全国平台看本省", SYNC_STATE_LABELS[state], _HUB_TONES[state], f"{lag}{applied}。")
    ]
    if h.dead_letters:
        items.append(
            Item(
                "被拒收的消息",
                f"{h.dead_letters} 条",
                "bad",
                "全国平台拒收了本省的部分消息，请联系运维人员核查（登记页面会说明每条被拒收的原因）。",
            )
        )
    return tuple(items), ((f"hub ({h.status}): {h.reason}",) if h.reason else ())


def _rate(r: CommitRate) -> RateRow:
    label = "最近 1 小时" if r.minutes == 60 else f"最近 {r.minutes} 分钟"
    return RateRow(label, r.count, f"{r.per_minute:.1f}")


def health(f: HealthFacts) -> Health:
    """What the health page says about the facts."""
    headline, tone = _headline(f)
    hub_items, hub_technical = _hub(f)
    kafka_error = f.sync.kafka.last_error
    technical = (f"Kafka: {kafka_error}",) if kafka_error and not f.sync.kafka.connected else ()
    return Health(
        headline=headline,
        tone=tone,
        node=(_kafka(f), _backlog(f), _positions(f), _relay(f)),
        rates=tuple(_rate(r) for r in f.rates),
        hub=hub_items,
        technical=technical + hub_technical,
        as_of=beijing_time(f.now),
    )
