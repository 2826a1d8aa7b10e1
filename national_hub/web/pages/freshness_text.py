"""How fresh each province's data is, in words (pure): "重庆市：数据同步至 0.4 秒前", and a plain
warning when a province's data may be out of date.

The facts are the API's `freshness` members ({"lag_seconds", "status"} per province code,
national_hub.web.query_routes.freshness_for); the status is always written out, never
shown by colour alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from schemas.vocab import PROVINCES, SYNC_STATE_LABELS, SyncState

# The word shown next to each line: the state is readable without its colour.
STATE_LABELS = SYNC_STATE_LABELS

# What a person should know when a province is not ok; {p} is the province's name.
_WARNINGS: dict[SyncState, str] = {
    SyncState.LAGGING: "{p}的数据同步有延迟：最近几分钟内的注册或变更可能要稍后才能查到。",
    SyncState.STALLED: "{p}的数据同步已停滞：最近的注册或变更暂时查不到，"
    "已显示的记录可能不是最新状态。",
    SyncState.PUBLISHING_BLOCKED: "{p}平台暂时无法向全国发送数据：最近的注册或变更暂时查不到，"
    "已显示的记录可能不是最新状态。",
    SyncState.OFFLINE: "{p}平台目前离线：显示的是离线前同步的数据，此后的变更尚未包含。",
    SyncState.UNKNOWN: "尚未收到{p}的同步状态，无法确认其数据的新鲜程度。",
}


@dataclass(frozen=True, slots=True)
class FreshnessLine:
    """One province's freshness as shown: the line, the state's word, and a warning or None."""

    province: str
    text: str
    state: SyncState
    state_label: str
    warning: str | None


def province_name(code: str) -> str:
    """The province's standard name ('重庆市'), or its code if unknown."""
    return PROVINCES.get(code, code)


def ago(seconds: float) -> str:
    """A lag as a person reads it: '0.4 秒前', '12 秒前', '5 分钟前', '3 小时前', '2 天前'."""
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f} 秒前"
    if seconds < 60:
        return f"{int(seconds)} 秒前"
    if seconds < 3600:
        return f"{int(seconds // 60)} 分钟前"
    if seconds < 86400:
        return f"{int(seconds // 3600)} 小时前"
    return f"{int(seconds // 86400)} 天前"


def freshness_line(code: str, lag_seconds: float | None, status: str | None) -> FreshnessLine:
    """One province's line: "重庆市：数据同步至 0.4 秒前" plus its state and warning."""
    name = province_name(code)
    try:
        state = SyncState(status) if status is not None else SyncState.UNKNOWN
    except ValueError:
        state = SyncState.UNKNOWN
    if lag_seconds is None:
        text = f"{name}：同步时间未知"
    else:
        text = f"{name}：数据同步至 {ago(lag_seconds)}"
    warning = _WARNINGS[state].format(p=name) if state in _WARNINGS else None
    return FreshnessLine(code, text, state, STATE_LABELS[state], warning)


def freshness_lines(
    freshness: Mapping[str, Mapping[str, Any]], provinces: Iterable[str]
) -> list[FreshnessLine]:
    """The lines of these provinces (each once, in the order given) from the API's freshness."""
    lines: list[FreshnessLine] = []
    seen: set[str] = set()
    for code in provinces:
        if code in seen:
            continue
        seen.add(code)
        entry = freshness.get(code) or {}
        lines.append(freshness_line(code, entry.get("lag_seconds"), entry.get("status")))
    return lines


def site_summary(freshness: Mapping[str, Mapping[str, Any]]) -> str:
    """The footer's note on the whole federation: how many provinces sync normally, and which
    do not."""
    total = len(freshness)
    if total == 0:
        return "尚未收到任何省级平台的同步状态。"
    behind = [
        f"{province_name(code)}（{STATE_LABELS[line.state]}）"
        for code, entry in freshness.items()
        if (line := freshness_line(code, entry.get("lag_seconds"), entry.get("status"))).state
        is not SyncState.OK
    ]
    if not behind:
        return f"全部 {total} 个省级平台同步正常。"
    return f"{total} 个省级平台中 {total - len(behind)} 个同步正常；需注意：{'、'.join(behind)}。"
