"""What an event means to an employer: its notification kind and a summary in plain Chinese.

Pure: a function of the event alone, tested without a store.
"""

from __future__ import annotations

from datetime import date
from typing import Literal, get_args

from schemas.events import (
    AssessedEvent,
    CancelledEvent,
    ChangedEvent,
    ChangeRejectedEvent,
    ChangeRequestedEvent,
    Event,
    RegisteredEvent,
    ReinstatedEvent,
    RevokedEvent,
    SiteFiledEvent,
    SiteWithdrawnEvent,
    SuspendedEvent,
    TransferredOutEvent,
)
from schemas.vocab import CANCEL_REASON_LABELS, PROVINCES

# Every kind a notification may have (CONTRACT §7's "kind"); the answer models use the type.
NotificationKind = Literal[
    "registered",
    "transferred",
    "change_requested",
    "change_approved",
    "changed",
    "change_rejected",
    "site_filed",
    "site_withdrawn",
    "assessment_failed",
    "suspended",
    "reinstated",
    "cancelled",
    "revoked",
    "transferred_out",
    "assessment_due_soon",
    "assessment_lapsed",
]
KINDS: tuple[str, ...] = get_args(NotificationKind)

# How long before next_assessment_due the reminder goes (issue 15: 30 days).
REMIND_DAYS = 30


def _who(event: Event) -> str:
    return f"{event.record.name}（证书 {event.cert_no}）"


def _province(code: str) -> str:
    return PROVINCES.get(code, code)


def describe(event: Event) -> tuple[str, str] | None:
    """(kind, summary) of an event an employer is told of; None for one it is not.

    A passed assessment is not news to an employer (its new due date is in the record).
    """
    who = _who(event)
    match event:
        case RegisteredEvent(details=d) if d.transfer_from is not None:
            return (
                "transferred",
                f"{who}由{_province(d.transfer_from.province)}（原证书 "
                f"{d.transfer_from.cert_no}）转入{_province(event.province)}，已重新注册。",
            )
        case RegisteredEvent():
            return "registered", f"{who}在{_province(event.province)}注册执业。"
        case ChangeRequestedEvent():
            return "change_requested", f"{who}申请变更注册，正在办理。"
        case ChangedEvent(details=d) if d.changes is None:
            return "change_approved", f"{who}的变更注册申请已获批准。"
        case ChangedEvent():
            return "changed", f"{who}的注册事项已变更。"
        case ChangeRejectedEvent(details=d):
            return "change_rejected", f"{who}的变更注册申请未予批准，原因：{d.reason}。"
        case SiteFiledEvent(details=d):
            return (
                "site_filed",
                f"{who}备案在{d.institution.name}执业（自 {d.start_date.isoformat()} 起）。",
            )
        case SiteWithdrawnEvent(details=d):
            return "site_withdrawn", f"{who}撤销了在机构 {d.org_code} 的执业备案。"
        case AssessedEvent(details=d) if d.result == "fail":
            return (
                "assessment_failed",
                f"{who}定期考核不合格（{d.assessed_on.isoformat()}）。",
            )
        case AssessedEvent():
            return None
        case SuspendedEvent(details=d):
            return (
                "suspended",
                f"{who}被暂停执业至 {d.until.isoformat()}，原因：{d.reason}。",
            )
        case ReinstatedEvent():
            return "reinstated", f"{who}已恢复执业。"
        case CancelledEvent(details=d):
            return (
                "cancelled",
                f"{who}的执业注册已注销，法定事由：{CANCEL_REASON_LABELS[d.reason]}。",
            )
        case RevokedEvent(details=d):
            return (
                "revoked",
                f"{who}的医师执业证书被吊销（决定书 {d.decision_no}），原因：{d.reason}。",
            )
        case TransferredOutEvent(details=d):
            return (
                "transferred_out",
                f"{who}已从{_province(event.province)}转出至{_province(d.to_province)}。",
            )
    return None


def reminder_summary(kind: str, name: str, cert_no: str, due: date, today: date) -> str:
    """The summary of an assessment reminder (定期考核), due soon or lapsed."""
    who = f"{name}（证书 {cert_no}）"
    if kind == "assessment_lapsed":
        return f"{who}的定期考核期限 {due.isoformat()} 已到，尚无考核结果。"
    days = (due - today).days
    return f"{who}应在 {due.isoformat()} 前完成定期考核（还有 {days} 天）。"
