"""Why a certificate is or is not visible, in plain Chinese (pure).

Input: the hub's explanation as the API serves it (CONTRACT §5: state, province, eta_seconds,
evidence, transferred_to, rejection, unreachable) and, when known, how long ago the province
committed the change. Output: a title, sentences and a list of what the person can do, for
each of the seven states. The explainer's own `reason` is for operators (English, with
sequence numbers); a person reads these words instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from national_hub.web.pages.filters import beijing_time
from national_hub.web.pages.freshness_text import ago, province_name
from schemas.vocab import ExplanationState


@dataclass(frozen=True, slots=True)
class Link:
    """A link the explanation offers (the new record, a search in the new province)."""

    text: str
    href: str


@dataclass(frozen=True, slots=True)
class ExplainText:
    """An explanation as shown.

    `waiting`: the record is on its way, so the page refreshes by itself until it is visible.
    `tone`: "wait", "warn" or "info", the block's style; the title says the same in words.
    """

    state: ExplanationState
    title: str
    sentences: tuple[str, ...]
    actions: tuple[str, ...]
    link: Link | None
    waiting: bool
    tone: str


# Whom to ask: the authority that issued the certificate, at or under the province's health
# commission (DOMAIN.md: 发证机关 is a health commission of county level or above).
def _authority(province: str | None) -> str:
    if province is None:
        return "证书上所列的发证机关（县级以上卫生健康行政部门）"
    return f"证书上所列的发证机关，或{province_name(province)}卫生健康委员会"


def _where(province: str | None) -> str:
    return province_name(province) if province else "所属省份"


def _eta(eta_seconds: float | None) -> str:
    if eta_seconds is None or not math.isfinite(eta_seconds):
        return "暂时无法估计何时可在全国查询到"
    return f"预计约 {max(1, math.ceil(eta_seconds))} 秒后可在全国查询到"


def _registered(province: str | None, committed_ago: float | None) -> str:
    where = _where(province)
    if committed_ago is None:
        return f"已在{where}登记"
    return f"已在{where}登记 {ago(committed_ago)}"


_CHECKS = (
    "核对执业证书编码：共 15 位数字，请逐位对照证书原件，注意 0 与 O、1 与 l 等易混字符。",
    "按姓名查询时，姓名中的生僻字在不同系统里可能显示不同，可改用不带声调的拼音查询"
    "（如 zhangwei）；少数民族姓名中的间隔号“·”可省略。",
    "按执业机构查询时，请使用机构全称（如“重庆医科大学附属第一医院”）或统一社会信用代码。",
)


def explain_text(
    explanation: Mapping[str, Any],
    cert_no: str,
    *,
    committed_ago: float | None = None,
) -> ExplainText:
    """The explanation of cert_no in words; committed_ago: seconds since the province committed
    the change (in_transit and not_published), None if not known."""
    state = ExplanationState(explanation["state"])
    province: str | None = explanation.get("province")
    where = _where(province)
    eta = explanation.get("eta_seconds")
    evidence: Mapping[str, Any] = explanation.get("evidence") or {}

    if state is ExplanationState.APPLIED:
        return ExplainText(
            state,
            "已可在全国查询",
            (f"执业证书编码 {cert_no} 的注册信息已从{where}同步到全国平台。",),
            ("打开医师页面查看完整的注册信息。",),
            Link("查看该医师的注册信息", f"/physicians/{cert_no}"),
            waiting=False,
            tone="info",
        )
    if state is ExplanationState.IN_TRANSIT:
        return ExplainText(
            state,
            "正在同步到全国平台，请稍候",
            (
                f"{_registered(province, committed_ago)}，{_eta(eta)}。",
                f"该注册已由{where}平台发出，正在传送到全国平台。",
            ),
            (
                "无需重复查询：本页会自动刷新，查到后立即显示。",
                f"如长时间仍未显示，可联系{_authority(province)}。",
            ),
            None,
            waiting=True,
            tone="wait",
        )
    if state is ExplanationState.NOT_PUBLISHED:
        backlog = evidence.get("outbox_backlog")
        queue = f"（前面还有 {backlog} 条待发送）" if backlog else ""
        return ExplainText(
            state,
            f"{where}平台尚未发出，请稍候",
            (
                f"{_registered(province, committed_ago)}，{_eta(eta)}。",
                f"该注册仍在{where}平台的待发送队列中{queue}，发出后即可同步到全国。",
            ),
            (
                "无需重复查询：本页会自动刷新，查到后立即显示。",
                f"如长时间仍未显示，可联系{_authority(province)}。",
            ),
            None,
            waiting=True,
            tone="wait",
        )
    if state is ExplanationState.PROVINCE_UNREACHABLE:
        unreachable = explanation.get("unreachable") or ([province] if province else [])
        names = "、".join(province_name(p) for p in unreachable) or "有关省份"
        since = evidence.get("last_heartbeat_at")
        when = f"自 {beijing_time(since)} 起" if since else "目前"
        return ExplainText(
            state,
            f"暂时无法联系{names}平台",
            (
                f"{names}平台{when}没有响应，全国平台无法确认该省是否有执业证书编码 "
                f"{cert_no} 的注册。",
                "该注册可能已在该省存在，只是暂时无法同步到全国。",
            ),
            (
                "请稍后再查询。",
                f"急需确认的，可直接联系{_authority(province)}。",
            ),
            None,
            waiting=False,
            tone="warn",
        )
    if state is ExplanationState.REJECTED:
        rejection = explanation.get("rejection") or {}
        detail = rejection.get("reason")
        return ExplainText(
            state,
            "该注册未通过全国平台的校验",
            (
                f"{where}发出的执业证书编码 {cert_no} 的注册信息已到达全国平台，"
                "但未通过校验，因此暂不显示。",
                *((f"技术原因：{detail}",) if detail else ()),
            ),
            (f"需由{where}卫生健康行政部门更正后重新发送；请联系{_authority(province)}。",),
            None,
            waiting=False,
            tone="warn",
        )
    if state is ExplanationState.TRANSFERRED:
        target: Mapping[str, Any] = explanation.get("transferred_to") or {}
        to_province = target.get("province")
        to_name = province_name(to_province) if to_province else "其他省份"
        to_cert = target.get("cert_no")
        if to_cert:
            return ExplainText(
                state,
                f"该注册已转至{to_name}",
                (
                    f"执业证书编码 {cert_no} 的注册已从{where}转至{to_name}，"
                    f"新的执业证书编码为 {to_cert}。",
                ),
                ("请查看新的注册记录，那里是该医师当前的注册信息。",),
                Link("查看新的注册记录", f"/physicians/{to_cert}"),
                waiting=False,
                tone="info",
            )
        search = f"/?{urlencode({'province': to_province})}" if to_province else "/"
        return ExplainText(
            state,
            f"该注册已转出至{to_name}",
            (
                f"执业证书编码 {cert_no} 的注册已从{where}转出至{to_name}，"
                f"{to_name}尚未在全国平台登记新的注册。",
            ),
            (f"{to_name}登记后，可在该省按姓名查询。",),
            Link(f"在{to_name}按姓名查询", search),
            waiting=False,
            tone="info",
        )
    # unknown_to_province
    asked = f"{province_name(province)}" if province else "各省级平台"
    return ExplainText(
        state,
        "未查到该执业证书编码",
        (
            f"{asked}均没有执业证书编码为 {cert_no} 的注册记录，全国平台也没有收到过。"
            if not province
            else f"{asked}没有执业证书编码为 {cert_no} 的注册记录，全国平台也没有收到过。",
        ),
        (
            *_CHECKS,
            f"仍查不到的，请咨询{_authority(province)}。依法未经注册的人员不得从事医师执业活动。",
        ),
        Link("按姓名或机构查询", "/"),
        waiting=False,
        tone="warn",
    )
