"""A public record as the pages show it (pure): Chinese labels, status with its reason and
dates, practice sites with their dates, the pending change and the transfer in words.

Input: the record as the API serves it (national_hub.query.search.public_item: the record
without person_ref, plus province, synced_at, record_version, superseded_by).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from national_hub.web.pages.filters import chinese_date, parse_time
from national_hub.web.pages.labels import (
    category_label,
    event_label,
    gender_label,
    level_label,
    province_label,
    status_label,
)


@dataclass(frozen=True, slots=True)
class SiteView:
    """A filed practice site (多机构备案)."""

    name: str
    org_code: str
    period: str


@dataclass(frozen=True, slots=True)
class RecordView:
    """The fields of a record as shown, in the official site's order first."""

    name: str
    cert_no: str
    category: str
    scopes: tuple[str, ...]
    institution: str
    institution_code: str
    sites: tuple[SiteView, ...]
    status_code: str
    status: str
    status_note: str | None
    authority: str
    province: str
    province_code: str
    gender: str
    level: str
    registered_on: str
    last_assessed_on: str
    next_assessment_due: str
    pending_change: tuple[str, ...]
    transfer_from: tuple[str, str] | None
    moved_to: tuple[str, str | None] | None
    record_version: int
    synced_at: str


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One applied event of the timeline."""

    what: str
    type: str
    record_version: int
    committed_at: Any
    applied_at: Any
    # "登记后 0.4 秒": from the province's commit to the hub's apply, or None if unknown.
    delay: str | None


def _period(start: str | None, end: str | None) -> str:
    if start and end:
        return f"{chinese_date(start)}至{chinese_date(end)}"
    if start:
        return f"自{chinese_date(start)}起"
    return ""


def status_note(record: Mapping[str, Any]) -> str | None:
    """What a status means for this record: until when, on what ground."""
    status = record.get("status")
    reason = record.get("status_reason")
    if status == "suspended":
        until = record.get("suspended_until")
        parts = [f"暂停执业至{chinese_date(until)}" if until else "暂停执业期间不得执业"]
        if reason:
            parts.append(f"原因：{reason}")
        return "；".join(parts)
    if status == "cancelled":
        return f"注销原因：{reason}" if reason else "注册已注销"
    if status == "revoked":
        return f"吊销原因：{reason}" if reason else "执业证书已被吊销"
    if status == "changing":
        return "有一项变更注册申请正在审批，审批结束前显示原注册信息"
    if status == "transferred_out":
        to = (record.get("transfer") or {}).get("to_province")
        return f"已转出至{province_label(to)}" if to else "已转出至其他省份"
    return reason or None


def pending_change(record: Mapping[str, Any]) -> tuple[str, ...]:
    """The pending change (变更中) in words: what is asked for and since when."""
    change = record.get("pending_change")
    if not change:
        return ()
    lines: list[str] = []
    if change.get("requested_at"):
        lines.append(f"申请日期：{chinese_date(change['requested_at'])}")
    institution = change.get("primary_institution")
    if institution:
        lines.append(f"申请变更主要执业机构为：{institution.get('name')}")
    if change.get("category"):
        lines.append(f"申请变更执业类别为：{category_label(change['category'])}")
    if change.get("scopes"):
        lines.append(f"申请变更执业范围为：{'、'.join(change['scopes'])}")
    if change.get("level"):
        lines.append(f"申请变更执业级别为：{level_label(change['level'])}")
    return tuple(lines)


def record_view(record: Mapping[str, Any]) -> RecordView:
    """The view of a public record (see the module's docstring for its shape)."""
    primary = record.get("primary_institution") or {}
    authority = record.get("issuing_authority") or {}
    transfer = record.get("transfer") or {}
    moved = record.get("superseded_by")
    sites = tuple(
        SiteView(
            s.get("name", ""),
            s.get("org_code", ""),
            _period(s.get("start_date"), s.get("end_date")),
        )
        for s in record.get("practice_sites") or ()
    )
    return RecordView(
        name=record.get("name", ""),
        cert_no=record.get("cert_no", ""),
        category=category_label(record.get("category")),
        scopes=tuple(record.get("scopes") or ()),
        institution=primary.get("name", "—"),
        institution_code=primary.get("org_code", ""),
        sites=sites,
        status_code=record.get("status", ""),
        status=status_label(record.get("status")),
        status_note=status_note(record),
        authority=authority.get("name", "—"),
        province=province_label(record.get("province")),
        province_code=record.get("province", ""),
        gender=gender_label(record.get("gender")),
        level=level_label(record.get("level")),
        registered_on=chinese_date(record.get("registered_on")),
        last_assessed_on=chinese_date(record.get("last_assessed_on")),
        next_assessment_due=chinese_date(record.get("next_assessment_due")),
        pending_change=pending_change(record),
        transfer_from=(
            (province_label(transfer["from_province"]), transfer["from_cert_no"])
            if transfer.get("from_province") and transfer.get("from_cert_no")
            else None
        ),
        moved_to=(province_label(moved["province"]), moved.get("cert_no")) if moved else None,
        record_version=int(record.get("record_version") or 0),
        synced_at=str(record.get("synced_at") or ""),
    )


def sync_delay(committed_at: Any, applied_at: Any) -> str | None:
    """How long after the province's commit the hub applied a change: '登记后 0.4 秒'."""
    if not committed_at or not applied_at:
        return None
    seconds = (parse_time(applied_at) - parse_time(committed_at)).total_seconds()
    # Clocks of two machines: a change applied "before" it was committed is skew, not news.
    if seconds < 0:
        return None
    if seconds < 1:
        # Sub-second is the usual case: two decimals, or every change reads "0.0 秒".
        return f"登记后 {seconds:.2f} 秒"
    if seconds < 60:
        return f"登记后 {seconds:.1f} 秒"
    if seconds < 3600:
        return f"登记后 {int(seconds // 60)} 分钟"
    return f"登记后 {seconds / 3600:.1f} 小时"


def history_entries(items: Sequence[Mapping[str, Any]]) -> list[HistoryEntry]:
    """The timeline, newest first (a person looks for the latest change first)."""
    return [
        HistoryEntry(
            what=event_label(item.get("type")),
            type=str(item.get("type")),
            record_version=int(item.get("record_version") or 0),
            committed_at=item.get("committed_at"),
            applied_at=item.get("applied_at"),
            delay=sync_delay(item.get("committed_at"), item.get("applied_at")),
        )
        for item in reversed(items)
    ]
