"""Why the node refused a lifecycle step (409), in Chinese a registrar can act on (pure).

The node's lifecycle (province_node.lifecycle) decides; its English message stays in the page's
技术信息. The sentence here is made from the record's status and the step, in the order the
lifecycle checks them, and from the message only where the refusal concerns the step's own
details (a practice site that is primary, filed twice, or not filed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from province_node.lifecycle import ALLOWED_FROM, ASSESSMENT_FAILED_REASON
from schemas.vocab import PROVINCES, STATUS_LABELS, EventType, Status

# What each step does, as the end of "不能……" (approve: the pending change's approval).
VERBS: dict[EventType, str] = {
    EventType.CHANGE_REQUESTED: "申请变更注册",
    EventType.CHANGED: "直接变更注册",
    EventType.CHANGE_REJECTED: "驳回变更申请",
    EventType.SITE_FILED: "办理多机构执业备案",
    EventType.SITE_WITHDRAWN: "撤销多机构执业备案",
    EventType.ASSESSED: "录入定期考核结果",
    EventType.SUSPENDED: "暂停执业",
    EventType.REINSTATED: "恢复执业",
    EventType.CANCELLED: "注销注册",
    EventType.REVOKED: "吊销",
    EventType.TRANSFERRED_OUT: "办理转出",
}
APPROVE_VERB = "批准变更"

# The refusals about a practice site's own details, by a phrase of the node's message.
_SITE_REFUSALS = (
    ("it is the primary institution", "该机构是此注册的主要执业机构，不能再备案为多机构执业地点。"),
    ("already filed", "该机构已备案为此注册的执业地点，不能重复备案。"),
    ("not filed", "该机构未备案为此注册的执业地点，无需撤销。"),
)


def _status(record: Mapping[str, Any]) -> Status | None:
    try:
        return Status(str(record.get("status")))
    except ValueError:
        return None


def refusal_text(
    record: Mapping[str, Any], kind: EventType, message: str = "", *, approve: bool = False
) -> str:
    """The Chinese sentence of a refused step on this record (its state as the page saw it)."""
    verb = APPROVE_VERB if approve else VERBS.get(kind, "办理此业务")
    status = _status(record)
    if status is None:
        return f"当前登记状态不允许{verb}，请刷新页面后查看该注册的状态。"
    label = STATUS_LABELS[status]
    if status is Status.CANCELLED:
        return f"该注册当前为已{label}，不能{verb}；只能重新注册。"
    if status is Status.REVOKED:
        return f"该注册已被{label}，不能{verb}；吊销后不能再办理任何业务。"
    if status is Status.TRANSFERRED_OUT:
        transfer = record.get("transfer") or {}
        where = PROVINCES.get(str(transfer.get("to_province")), "外省")
        return f"该注册已转出至{where}，不能{verb}；医师回到本省时办理转入注册。"
    for phrase, sentence in _SITE_REFUSALS:
        if phrase in message:
            return sentence
    failed = status is Status.SUSPENDED and record.get("status_reason") == ASSESSMENT_FAILED_REASON
    if kind is EventType.REINSTATED and failed:
        return "该注册因定期考核不合格而暂停执业，不能直接恢复执业；请录入再次考核合格的结果。"
    if kind is EventType.ASSESSED and failed:
        return (
            "该注册暂停执业期满后再次考核仍不合格：应以“暂停执业期满再次考核仍不合格”为由"
            "注销注册，而不是再次录入不合格。"
        )
    if kind is EventType.ASSESSED and status is Status.SUSPENDED:
        return (
            f"该注册因“{record.get('status_reason') or '其他原因'}”暂停执业，并非考核不合格；"
            "请先恢复执业，再录入考核结果。"
        )
    if status is Status.CHANGING and (kind is not EventType.CHANGED or not approve):
        if kind in (EventType.CHANGE_REQUESTED, EventType.CHANGED, EventType.TRANSFERRED_OUT):
            return f"该注册有待审批的变更，不能{verb}；请先批准或驳回该变更。"
    if kind is EventType.CHANGED and approve and status is Status.ACTIVE:
        return "该注册没有待审批的变更，无需批准；如需变更，请使用“直接变更注册”。"
    allowed = [STATUS_LABELS[s] for s in Status if s in ALLOWED_FROM.get(kind, frozenset())]
    where = "或".join(allowed)
    return f"该注册当前为{label}，不能{verb}；只有{where}的注册可以{verb}。"
