"""The lifecycle actions' forms (pure): which actions a record's page offers, what each form
asks, and a posted form read into the API's step body (POST /v1/registrations/{cert_no}/events),
so the console's action goes through the same parsing and lifecycle as the API's.

A form's fields are named by the body's dotted paths ("institution.org_code"), so the API's
per-field details name the form's fields as they are. A field left empty is left out of the
body: the API then says it is required, next to the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from province_node.lifecycle import allowed_steps
from province_node.web.console.field_messages import chinese
from schemas.errors import Details
from schemas.record import Record
from schemas.vocab import CANCEL_REASON_LABELS, EventType, Status

# A posted form as the handlers read it: field → the values given (a multi-select gives many).
Fields = Mapping[str, list[str]]

# The hidden field of the approval form: `changed` with no changes approves the pending one.
APPROVE_FIELD = "approve"


@dataclass(frozen=True, slots=True)
class Action:
    """One action as the record page offers it."""

    kind: EventType
    # The button and the form page's heading.
    title: str
    # One sentence on the form page: what the action does.
    summary: str
    # Actions that end or restrict practice are drawn as danger buttons.
    danger: bool = False


ACTIONS: dict[EventType, Action] = {
    a.kind: a
    for a in (
        Action(
            EventType.CHANGE_REQUESTED,
            "申请变更注册",
            "登记医师的变更申请；批准前注册状态为“变更中”，批准或驳回后恢复“正常”。",
        ),
        Action(
            EventType.CHANGED,
            "直接变更注册",
            "不经审批直接变更执业机构、类别、范围或级别，立即生效。",
        ),
        Action(EventType.CHANGE_REJECTED, "驳回变更申请", "驳回待审批的变更，注册恢复“正常”。"),
        Action(EventType.SITE_FILED, "多机构执业备案", "为医师备案主要执业机构以外的执业地点。"),
        Action(EventType.SITE_WITHDRAWN, "撤销执业地点备案", "撤销一个已备案的执业地点。"),
        Action(
            EventType.ASSESSED,
            "录入定期考核结果",
            "考核合格：下次考核日期顺延三年；不合格：暂停执业六个月。",
        ),
        Action(EventType.SUSPENDED, "暂停执业", "暂停医师执业至指定日期。", danger=True),
        Action(EventType.REINSTATED, "恢复执业", "结束暂停，恢复医师执业。"),
        Action(EventType.CANCELLED, "注销注册", "依法定情形注销注册；注销后只能重新注册。", True),
        Action(EventType.REVOKED, "吊销", "依行政处罚决定吊销；吊销后不能再办理任何业务。", True),
        Action(EventType.TRANSFERRED_OUT, "办理转出", "医师转往外省执业；转出后本省注册终止。"),
    )
}


def offered(record: Record) -> list[Action]:
    """The actions the node's lifecycle allows on this record now, in ACTIONS' order; on a 变更中
    record approving and rejecting are the pending change's own buttons, not listed here."""
    allowed = allowed_steps(record)
    actions = [a for kind, a in ACTIONS.items() if kind in allowed]
    if record.status is Status.CHANGING:
        # The decision on the pending change has its own buttons beside it (record.html).
        decision = (EventType.CHANGED, EventType.CHANGE_REJECTED)
        actions = [a for a in actions if a.kind not in decision]
    return actions


def approvable(record: Record) -> bool:
    """Whether the record's pending change can be approved now."""
    return record.status is Status.CHANGING and EventType.CHANGED in allowed_steps(record)


def assessment_results(record: Record) -> tuple[tuple[str, str], ...]:
    """The results the assessment form offers: after a failed assessment's suspension only a
    pass (a second fail is a ground for cancellation, not an assessment)."""
    if record.status is Status.SUSPENDED:
        return (("pass", "合格"),)
    return (("pass", "合格"), ("fail", "不合格"))


def _one(fields: Fields, name: str) -> str:
    values = fields.get(name) or []
    return values[0].strip() if values else ""


def _put(body: dict[str, Any], path: str, value: Any) -> None:
    node = body
    *parents, last = path.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def _institution(fields: Fields, prefix: str, body: dict[str, Any]) -> None:
    """An institution's fields as given (one left empty is named by the node as required)."""
    for key in ("org_code", "name", "region_code"):
        if value := _one(fields, f"{prefix}.{key}"):
            _put(body, f"{prefix}.{key}", value)


# The text fields each form sends as they are (empty ones left out).
_TEXT_FIELDS: dict[EventType, tuple[str, ...]] = {
    EventType.CHANGE_REJECTED: ("reason",),
    EventType.SITE_FILED: ("start_date", "end_date"),
    EventType.SITE_WITHDRAWN: ("org_code",),
    EventType.ASSESSED: ("result", "assessed_on"),
    EventType.SUSPENDED: ("reason", "until"),
    EventType.REINSTATED: (),
    EventType.CANCELLED: ("reason",),
    EventType.REVOKED: ("reason", "decision_no"),
    EventType.TRANSFERRED_OUT: ("to_province",),
}


def _changes(fields: Fields) -> dict[str, Any]:
    body: dict[str, Any] = {}
    _institution(fields, "changes.primary_institution", body)
    changes: dict[str, Any] = body.get("changes", {})
    for name in ("category", "level"):
        if value := _one(fields, f"changes.{name}"):
            changes[name] = value
    scopes = [s for s in fields.get("changes.scopes", []) if s]
    if scopes:
        changes["scopes"] = scopes
    return changes


def step_body(kind: EventType, fields: Fields) -> dict[str, Any]:
    """The API's step body of a posted action form."""
    body: dict[str, Any] = {"type": kind.value}
    if kind in (EventType.CHANGE_REQUESTED, EventType.CHANGED):
        if kind is EventType.CHANGED and _one(fields, APPROVE_FIELD):
            return body
        # An empty change is sent as {} so the node names the missing change ("changes").
        body["changes"] = _changes(fields)
        return body
    if kind is EventType.SITE_FILED:
        _institution(fields, "institution", body)
    for name in _TEXT_FIELDS.get(kind, ()):
        if value := _one(fields, name):
            body[name] = value
    return body


def form_values(fields: Fields) -> dict[str, Any]:
    """The values to draw a form with again after a refusal (scopes as a list)."""
    values: dict[str, Any] = {name: _one(fields, name) for name in fields}
    values["changes.scopes"] = list(fields.get("changes.scopes", []))
    return values


def error_field(kind: EventType, field: str) -> str:
    """The form field an API detail's field names (a whole institution: its credit code;
    the step's type or the body: the form as a whole, "")."""
    if field in ("type", "body", ""):
        return ""
    if field in ("changes.primary_institution", "institution"):
        return f"{field}.org_code"
    if field.startswith("changes") and kind in (EventType.CHANGE_REQUESTED, EventType.CHANGED):
        return field if field.count(".") else "changes"
    return field


# The cancellation's legal grounds: (value, label). The other selects (category, level, scopes,
# provinces) are the register form's (register_form).
CANCEL_REASONS = tuple((r.value, label) for r, label in CANCEL_REASON_LABELS.items())


def field_errors(kind: EventType, details: Details, body: Mapping[str, Any]) -> dict[str, str]:
    """Each refused field's Chinese sentence, keyed by the form field (the first per field)."""
    errors: dict[str, str] = {}
    for detail in details:
        path = str(detail.get("field", ""))
        errors.setdefault(
            error_field(kind, path), chinese(path, str(detail.get("message", "")), body)
        )
    return errors
