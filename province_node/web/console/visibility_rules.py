"""Where a registration's latest change stands on its way to the national hub, as the console
tells an operator: the pure decision (`decide`) from facts gathered by visibility.py.

The node's own outbox is the freshest fact about its side (committed, sent to Kafka or not);
the hub's explanation of the exact change (`?token=<province>:<seq>`, CONTRACT §5) is the only
fact about the hub's side. What the operator needs to know is whether to do anything: nothing
while the change waits or travels (it is sent and applied by itself), something when the hub
refused it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from province_node.hub_client import HubExplanation
from schemas.timestamps import beijing_time, parse_time


class Outcome(StrEnum):
    """The six answers the section gives."""

    APPLIED = "applied"
    IN_TRANSIT = "in_transit"
    WAITING = "waiting"
    REJECTED = "rejected"
    HUB_UNREACHABLE = "hub_unreachable"
    # This node's outbox has no row for the change (restored from a backup, or trimmed).
    UNKNOWN_CHANGE = "unknown_change"


# The badge beside the headline: its words carry the meaning, the colour only repeats it.
BADGES: dict[Outcome, tuple[str, str]] = {
    Outcome.APPLIED: ("ok", "全国可查"),
    Outcome.IN_TRANSIT: ("wait", "传输中"),
    Outcome.WAITING: ("warn", "等待发送"),
    Outcome.REJECTED: ("bad", "被拒收"),
    Outcome.HUB_UNREACHABLE: ("muted", "暂无法确认"),
    Outcome.UNKNOWN_CHANGE: ("muted", "暂无法确认"),
}

# The hub's dead-letter reason codes (national_hub.ingest.messages.RejectReason) in words an
# operator can act on; a test keeps this table complete.
REJECTION_TEXT: dict[str, str] = {
    "malformed": "消息无法解析（不是有效的数据格式）",
    "schema": "内容不符合全国数据规范（字段缺失或取值不合规）",
    "unknown_province": "消息中的省份代码不在联邦配置中",
    "wrong_topic": "消息发到了不属于本省的主题",
    "missing_signature": "消息缺少本省的数字签名",
    "missing_kid": "消息未注明签名密钥编号",
    "kid_mismatch": "签名密钥编号与本省登记的不一致",
    "bad_signature": "数字签名校验失败（消息可能被改动，或签名密钥有误）",
    "cert_conflict": "该证书编号已由其他省份登记",
    "unknown_topic": "消息所在的主题不属于任何省份",
    "wrong_key": "消息使用了不属于本省的签名密钥",
    "unknown_sender": "发送方不在联邦配置中",
    "oversized": "消息超过全国平台允许的大小",
    "key_retired": "签名所用的旧密钥已过轮换期限，全国平台不再信任",
    "stale_heartbeat": "心跳消息时间过旧",
    "future_heartbeat": "心跳消息时间超前于全国平台的时钟",
}


@dataclass(frozen=True, slots=True)
class OutboxFacts:
    """The change in this node's outbox."""

    seq: int
    record_version: int
    committed_at: str
    # Sent: Kafka acknowledged it (marked in the outbox, or acknowledged and not yet marked).
    published: bool
    published_at: str | None
    # Changes committed and not yet sent, and since when the oldest of them waits.
    backlog: int
    oldest_unpublished_at: str | None


@dataclass(frozen=True, slots=True)
class KafkaFacts:
    """What the node last saw of Kafka (publisher.KafkaHealth)."""

    connected: bool
    last_error: str | None
    last_success_at: datetime | None


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything decide() looks at."""

    cert_no: str
    outbox: OutboxFacts
    kafka: KafkaFacts
    # The hub's explanation of this change, or why there is none (the hub did not answer).
    hub: HubExplanation | str
    # When the hub applied the change (its history), if it did and said so.
    applied_at: str | None
    now: datetime


@dataclass(frozen=True, slots=True)
class Visibility:
    """The section's content: all text, Chinese, ready to show."""

    cert_no: str
    seq: int
    outcome: Outcome
    headline: str
    detail: str
    # (label, value) pairs: seqs and Beijing times the headline rests on.
    evidence: tuple[tuple[str, str], ...]
    # English texts from Kafka or the hub, shown only under 技术信息.
    technical: tuple[str, ...]

    @property
    def tone(self) -> str:
        """The badge's class suffix (ok, wait, warn, bad, muted)."""
        return BADGES[self.outcome][0]

    @property
    def badge(self) -> str:
        """The badge's words."""
        return BADGES[self.outcome][1]

    @property
    def settled(self) -> bool:
        """Nothing more will happen by itself: the page stops refreshing the section."""
        return self.outcome in (Outcome.APPLIED, Outcome.UNKNOWN_CHANGE)


def rejection_text(reason: str | None) -> str:
    """The Chinese words for a dead letter's reason ('<code>: <detail>')."""
    code = (reason or "").split(":", 1)[0].strip()
    if code in REJECTION_TEXT:
        return REJECTION_TEXT[code]
    return f"原因代码 {code}" if code else "全国平台未说明原因"


def seconds_text(seconds: float) -> str:
    """'约 3 秒', '约 2 分钟', '约 1.5 小时': a wait as a person says it (rounded up)."""
    if seconds < 90:
        return f"约 {max(1, math.ceil(seconds))} 秒"
    if seconds < 90 * 60:
        return f"约 {math.ceil(seconds / 60)} 分钟"
    return f"约 {seconds / 3600:.1f} 小时"


def _age(since: str | datetime | None, now: datetime) -> str | None:
    if since is None:
        return None
    return seconds_text(max(0.0, (now - parse_time(since)).total_seconds()))


def _evidence(f: Facts, hub_applied_seq: object = None) -> tuple[tuple[str, str], ...]:
    o = f.outbox
    rows = [
        ("变更序号", f"第 {o.seq} 号（记录版本 {o.record_version}）"),
        ("本节点提交时间", beijing_time(o.committed_at)),
        ("发送到消息队列", beijing_time(o.published_at) if o.published else "尚未发送"),
    ]
    if not o.published:
        rows.append(("本节点待发送变更", f"{o.backlog} 条"))
    if isinstance(hub_applied_seq, int):
        rows.append(("全国平台已接收到", f"第 {hub_applied_seq} 号"))
    if f.applied_at is not None:
        rows.append(("全国平台生效时间", beijing_time(f.applied_at)))
    return tuple(rows)


def _waiting(f: Facts) -> Visibility:
    """The change is still in this node's outbox: Kafka down, or changes ahead of it."""
    o, k = f.outbox, f.kafka
    technical: tuple[str, ...] = ()
    if not k.connected:
        since = (
            f"自 {beijing_time(k.last_success_at)}起"
            if k.last_success_at is not None
            else "自本节点启动以来"
        )
        detail = (
            f"本节点{since}无法连接消息队列（Kafka），这次变更已保存在本节点，"
            f"连接恢复后会自动发送到全国平台，无需重新办理。"
        )
        if k.last_error:
            technical = (f"Kafka: {k.last_error}",)
    else:
        detail = (
            f"本节点正在把变更依次发送到消息队列（Kafka），发件箱中共有 {o.backlog} 条待发送；"
            f"稍后会自动发送，无需重新办理。"
        )
    waited = _age(o.oldest_unpublished_at or o.committed_at, f.now)
    if waited is not None:
        detail += f"最早的一条已等待{waited}。"
    return Visibility(
        f.cert_no,
        o.seq,
        Outcome.WAITING,
        "本节点发件箱中等待发送",
        detail,
        _evidence(f),
        technical,
    )


def _hub_unreachable(f: Facts, why: str) -> Visibility:
    """The change is sent, but the hub cannot be asked whether it is applied."""
    return Visibility(
        f.cert_no,
        f.outbox.seq,
        Outcome.HUB_UNREACHABLE,
        "全国平台暂时无法连接",
        "这次变更已由本节点发送到消息队列（Kafka），发送这一步已经完成；"
        "只是现在无法向全国平台确认它是否已经全国可查。全国平台恢复后会自动接收，无需重新办理；"
        "如长时间无法连接，请联系全国平台运维人员。",
        _evidence(f),
        (f"hub: {why}",),
    )


def unknown_change(cert_no: str, seq: int) -> Visibility:
    """The node's outbox holds no row for the record's latest change, so there is nothing to
    follow to the hub: the section says it cannot tell, and why."""
    return Visibility(
        cert_no,
        seq,
        Outcome.UNKNOWN_CHANGE,
        "暂无法确认全国平台同步情况",
        f"本节点找不到这次变更（第 {seq} 号）的发件记录（例如本节点从备份恢复过），"
        "所以无法判断它是否已发送到全国平台。登记本身已保存在本节点；"
        "如需确认全国是否可查，请联系本省运维人员核查。",
        (("变更序号", f"第 {seq} 号"),),
        (f"outbox: no row with seq {seq}",),
    )


def decide(f: Facts) -> Visibility:
    """What the section says about the change in f."""
    hub = f.hub
    if isinstance(hub, HubExplanation):
        applied_seq = hub.evidence.get("hub_applied_seq")
        technical = (f"hub ({hub.state}): {hub.reason}",)
        if hub.state == "applied":
            when = f"已于 {beijing_time(f.applied_at)}" if f.applied_at else "已"
            return Visibility(
                f.cert_no,
                f.outbox.seq,
                Outcome.APPLIED,
                "全国平台已是最新版本",
                f"第 {f.outbox.seq} 号变更（记录版本 {f.outbox.record_version}）"
                f"{when}在全国平台生效，全国可查。",
                _evidence(f, applied_seq),
                technical,
            )
        if hub.state == "rejected":
            return Visibility(
                f.cert_no,
                f.outbox.seq,
                Outcome.REJECTED,
                "全国平台拒收了这次变更",
                f"全国平台收到了这次变更，但没有采用：{rejection_text(hub.rejection_reason)}。"
                f"它不会自动重发；请联系本省运维人员核查原因，纠正后重新发送。",
                _evidence(f, applied_seq),
                technical,
            )
    if not f.outbox.published:
        return _waiting(f)
    if not isinstance(hub, HubExplanation):
        return _hub_unreachable(f, hub)
    # Sent and not applied yet: the hub's other states are a view older than the node's own
    # outbox (it has not seen the send yet), so the change is on its way.
    eta = hub.eta_seconds
    headline = (
        f"已发送，预计{seconds_text(eta)}后全国可查"
        if eta is not None and eta > 0
        else "已发送，预计很快全国可查"
    )
    return Visibility(
        f.cert_no,
        f.outbox.seq,
        Outcome.IN_TRANSIT,
        headline,
        "这次变更已由本节点发送到消息队列（Kafka），全国平台正在接收，完成后即全国可查，"
        "无需任何操作。",
        _evidence(f, hub.evidence.get("hub_applied_seq")),
        (f"hub ({hub.state}): {hub.reason}",),
    )
