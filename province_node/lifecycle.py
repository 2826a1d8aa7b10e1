"""The registration lifecycle as a pure state machine (医师法 2022, 医师执业注册管理办法 2017).

Given the current record (or None) and a validated request, return the new record, the event
type and its details, or raise Conflict with a reason a registrar can act on. No I/O here.

| step                   | allowed from                    | result                                |
|------------------------|---------------------------------|---------------------------------------|
| registered             | none; cancelled (same person:   | active; a transfer-in sets            |
|                        | re-registration); transferred_  | transfer.from_province/from_cert_no   |
|                        | out by transfer-in (returning)  |                                       |
| change_requested       | active                          | changing, pending_change set          |
| changed (no changes)   | changing                        | pending change applied, active        |
| changed (with changes) | active                          | changes applied directly              |
| change_rejected        | changing                        | active, pending_change cleared        |
| site_filed             | active, changing                | site added (not primary, not twice)   |
| site_withdrawn         | active, changing                | site removed (must be filed)          |
| assessed pass          | active, changing; suspended for | last_assessed_on, next due +3 years;  |
|                        | a failed assessment             | from suspended: reinstated            |
| assessed fail          | active, changing                | suspended to assessed_on + 6 months   |
| suspended              | active, changing                | suspended until the given date        |
| reinstated             | suspended, but not for a failed | active (changing if a change pends)   |
|                        | assessment (reassess instead)   |                                       |
| cancelled              | active, changing, suspended     | cancelled, legal reason's label       |
| revoked                | active, changing, suspended     | revoked                               |
| transferred_out        | active                          | transferred_out, transfer.to_province |

A registration in one of the HOLDING statuses (active, changing, suspended) holds its person: one
ID number has at most one such registration per province, so a registration of another
certificate for an ID number held here is refused (409 duplicate_person, naming the holder).
After cancelled only a re-registration is possible; after transferred_out only a transfer-in
(the physician returns); after revoked nothing.
A suspension keeps a pending change so that reinstatement returns to changing; the terminal
steps (cancelled, revoked, transferred_out) drop it, since nobody will decide it any more.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic_core import PydanticCustomError

from province_node import requests as rq
from province_node.errors import Conflict, InvalidRequest
from schemas.record import (
    ChangeSet,
    PendingChange,
    PracticeSite,
    Record,
    Transfer,
    validate_scopes,
)
from schemas.vocab import (
    CANCEL_REASON_LABELS,
    PROVINCES,
    STATUS_LABELS,
    EventType,
    Status,
)

ASSESSMENT_FAILED_REASON = "定期考核不合格"
ASSESSMENT_CYCLE_YEARS = 3
ASSESSMENT_FAIL_SUSPENSION_MONTHS = 6

_LIVE = frozenset({Status.ACTIVE, Status.CHANGING})
_NOT_CLOSED = frozenset({Status.ACTIVE, Status.CHANGING, Status.SUSPENDED})
# A registration in these statuses holds its person (one per ID number and province).
HOLDING = _NOT_CLOSED

# Where each step may start from: the one table the step functions check (_require) and
# allowed_steps reads, so the console offers exactly what the node accepts. Two exceptions
# live beside it in allowed_steps and in the step functions: a passed reassessment ends a
# suspension for a failed assessment (assessed from suspended), which reinstatement may not.
# `changed` starts from active (a direct change) or changing (approving the pending one).
ALLOWED_FROM: dict[EventType, frozenset[Status]] = {
    EventType.CHANGE_REQUESTED: frozenset({Status.ACTIVE}),
    EventType.CHANGED: frozenset({Status.ACTIVE, Status.CHANGING}),
    EventType.CHANGE_REJECTED: frozenset({Status.CHANGING}),
    EventType.SITE_FILED: _LIVE,
    EventType.SITE_WITHDRAWN: _LIVE,
    EventType.ASSESSED: _LIVE,
    EventType.SUSPENDED: _LIVE,
    EventType.REINSTATED: frozenset({Status.SUSPENDED}),
    EventType.CANCELLED: _NOT_CLOSED,
    EventType.REVOKED: _NOT_CLOSED,
    EventType.TRANSFERRED_OUT: frozenset({Status.ACTIVE}),
}


def suspended_for_failed_assessment(r: Record) -> bool:
    """Whether the record is suspended because its 定期考核 failed (only a pass ends that)."""
    return r.status is Status.SUSPENDED and r.status_reason == ASSESSMENT_FAILED_REASON


def allowed_steps(r: Record) -> frozenset[EventType]:
    """The steps apply_step accepts on this record (with suitable details): ALLOWED_FROM, plus a
    reassessment of a failed assessment's suspension, minus its reinstatement, minus a
    withdrawal when no site is filed."""
    steps = {kind for kind, statuses in ALLOWED_FROM.items() if r.status in statuses}
    if suspended_for_failed_assessment(r):
        steps.add(EventType.ASSESSED)
        steps.discard(EventType.REINSTATED)
    if not r.practice_sites:
        steps.discard(EventType.SITE_WITHDRAWN)
    return frozenset(steps)


@dataclass(frozen=True)
class Transition:
    """What a step does: the event type, its details (JSON form) and the record after it."""

    type: EventType
    record: Record
    details: dict[str, Any]


def register(
    current: Record | None,
    current_id_number: str | None,
    req: rq.RegistrationRequest,
    *,
    province: str,
    person_ref: str,
    holder: tuple[str, Status] | None = None,
) -> Transition:
    """First registration, re-registration after cancellation, or transfer-in.

    `holder` is the (cert_no, status) of another registration here that holds the same ID
    number (see HOLDING), if there is one: then the registration is refused.
    """
    if req.transfer_from is not None and req.transfer_from.province == province:
        raise InvalidRequest.for_field(
            "transfer_from.province", f"must be another province than {province}"
        )
    if current is not None:
        # A physician who moved away may come back with the same certificate code (transfer-in).
        returning = current.status is Status.TRANSFERRED_OUT and req.transfer_from is not None
        if current.status is not Status.CANCELLED and not returning:
            raise Conflict(
                f"certificate {req.cert_no} is already registered here "
                f"(status {_describe(current.status)}); only a cancelled registration can be "
                f"registered again, or a transferred-out one by transfer-in"
            )
        if current_id_number is not None and current_id_number != req.id_number:
            raise Conflict(
                f"certificate {req.cert_no} belongs to another person (the ID number differs); "
                f"a re-registration must be for the same person"
            )
    if holder is not None:
        held, status = holder
        raise Conflict(
            f"this ID number already holds registration {held} in province {province} "
            f"(status {_describe(status)}); a person holds one registration per province: "
            f"change, cancel or transfer out {held} instead of registering {req.cert_no}",
            code="duplicate_person",
        )
    transfer = None
    if req.transfer_from is not None:
        transfer = Transfer(
            from_province=req.transfer_from.province, from_cert_no=req.transfer_from.cert_no
        )
    record = Record(
        cert_no=req.cert_no,
        name=req.name,
        gender=req.gender,
        level=req.level,
        category=req.category,
        scopes=req.scopes,
        primary_institution=req.primary_institution,
        status=Status.ACTIVE,
        issuing_authority=req.issuing_authority,
        registered_on=req.registered_on,
        transfer=transfer,
        person_ref=person_ref,
    )
    details = {
        "transfer_from": req.transfer_from.model_dump(mode="json") if req.transfer_from else None
    }
    return Transition(EventType.REGISTERED, record, details)


def apply_step(record: Record, step: rq.StepRequest, *, province: str, today: date) -> Transition:
    """Apply one lifecycle step to the current record, or raise Conflict/InvalidRequest."""
    details = rq.step_details(step)
    kind = EventType(step.type)
    new = _STEPS[type(step)](record, step, province, today)
    return Transition(kind, new, details)


def _change_requested(r: Record, s: Any, province: str, today: date) -> Record:
    step: rq.ChangeRequested = s
    _require(r, "request a change", EventType.CHANGE_REQUESTED)
    _changed_fields(r, step.changes)  # refuse now what could not be applied on approval
    pending = PendingChange(**step.changes.model_dump(), requested_at=today)
    return _rebuild(r, status=Status.CHANGING, pending_change=pending)


def _changed(r: Record, s: Any, province: str, today: date) -> Record:
    step: rq.Changed = s
    if step.changes is None:
        if r.status is Status.ACTIVE:
            raise Conflict(
                f"cannot approve a change: registration {r.cert_no} has no pending change; "
                f"send the changes for a direct change"
            )
        _require(r, "approve the pending change", EventType.CHANGED)
        assert r.pending_change is not None
        pending = ChangeSet(
            **r.pending_change.model_dump(exclude={"requested_at"}),
        )
        return _rebuild(r, **_changed_fields(r, pending), status=Status.ACTIVE, pending_change=None)
    if r.status is Status.CHANGING:
        raise Conflict(
            f"cannot change directly: registration {r.cert_no} has a pending change; approve "
            f"or reject it first"
        )
    _require(r, "change directly", EventType.CHANGED)
    return _rebuild(r, **_changed_fields(r, step.changes))


def _change_rejected(r: Record, s: Any, province: str, today: date) -> Record:
    _require(r, "reject a change", EventType.CHANGE_REJECTED)
    return _rebuild(r, status=Status.ACTIVE, pending_change=None)


def _site_filed(r: Record, s: Any, province: str, today: date) -> Record:
    step: rq.SiteFiled = s
    _require(r, "file a practice site", EventType.SITE_FILED)
    org = step.institution.org_code
    if org == r.primary_institution.org_code:
        raise Conflict(
            f"cannot file {org} as a practice site: it is the primary institution of "
            f"registration {r.cert_no}"
        )
    for site in r.practice_sites:
        if site.org_code == org:
            raise Conflict(
                f"cannot file {org}: it is already filed as a practice site of registration "
                f"{r.cert_no} (since {site.start_date.isoformat()})"
            )
    site = PracticeSite(
        **step.institution.model_dump(), start_date=step.start_date, end_date=step.end_date
    )
    return _rebuild(r, practice_sites=(*r.practice_sites, site))


def _site_withdrawn(r: Record, s: Any, province: str, today: date) -> Record:
    step: rq.SiteWithdrawn = s
    _require(r, "withdraw a practice site", EventType.SITE_WITHDRAWN)
    remaining = tuple(site for site in r.practice_sites if site.org_code != step.org_code)
    if len(remaining) == len(r.practice_sites):
        raise Conflict(
            f"cannot withdraw {step.org_code}: it is not filed as a practice site of "
            f"registration {r.cert_no}"
        )
    return _rebuild(r, practice_sites=remaining)


def _assessed(r: Record, s: Any, province: str, today: date) -> Record:
    step: rq.Assessed = s
    on = step.assessed_on
    if step.result == "pass":
        if r.status is Status.SUSPENDED:
            if not suspended_for_failed_assessment(r):
                raise Conflict(
                    f"cannot record a passed assessment: registration {r.cert_no} is suspended "
                    f"for {r.status_reason!r}, not for a failed assessment; reinstate it instead"
                )
            # A passed reassessment ends the suspension that the failed one caused.
            return _rebuild(
                r,
                status=_resumed_status(r),
                status_reason=None,
                suspended_until=None,
                last_assessed_on=on,
                next_assessment_due=add_years(on, ASSESSMENT_CYCLE_YEARS),
            )
        _require(r, "record an assessment", EventType.ASSESSED)
        return _rebuild(
            r, last_assessed_on=on, next_assessment_due=add_years(on, ASSESSMENT_CYCLE_YEARS)
        )
    if suspended_for_failed_assessment(r):
        raise Conflict(
            f"cannot record a failed reassessment as an assessment: registration {r.cert_no} "
            f"failed again after its suspension; cancel it with reason failed_reassessment"
        )
    _require(r, "record an assessment", EventType.ASSESSED)
    return _rebuild(
        r,
        status=Status.SUSPENDED,
        status_reason=ASSESSMENT_FAILED_REASON,
        suspended_until=add_months(on, ASSESSMENT_FAIL_SUSPENSION_MONTHS),
        last_assessed_on=on,
    )


def _suspended(r: Record, s: Any, province: str, today: date) -> Record:
    step: rq.Suspended = s
    _require(r, "suspend", EventType.SUSPENDED)
    return _rebuild(
        r, status=Status.SUSPENDED, status_reason=step.reason, suspended_until=step.until
    )


def _reinstated(r: Record, s: Any, province: str, today: date) -> Record:
    _require(r, "reinstate", EventType.REINSTATED)
    if suspended_for_failed_assessment(r):
        # 定期考核: a suspension for a failed assessment ends only with a passed reassessment.
        raise Conflict(
            f"cannot reinstate: registration {r.cert_no} is suspended for a failed assessment; "
            f"record a passed reassessment (type assessed, result pass) instead"
        )
    return _rebuild(r, status=_resumed_status(r), status_reason=None, suspended_until=None)


def _cancelled(r: Record, s: Any, province: str, today: date) -> Record:
    step: rq.Cancelled = s
    _require(r, "cancel", EventType.CANCELLED)
    return _rebuild(
        r,
        status=Status.CANCELLED,
        status_reason=CANCEL_REASON_LABELS[step.reason],
        suspended_until=None,
        pending_change=None,
    )


def _revoked(r: Record, s: Any, province: str, today: date) -> Record:
    step: rq.Revoked = s
    _require(r, "revoke", EventType.REVOKED)
    return _rebuild(
        r,
        status=Status.REVOKED,
        status_reason=step.reason,
        suspended_until=None,
        pending_change=None,
    )


def _transferred_out(r: Record, s: Any, province: str, today: date) -> Record:
    step: rq.TransferredOut = s
    if step.to_province == province:
        raise InvalidRequest.for_field("to_province", f"must be another province than {province}")
    if r.status is Status.CHANGING:
        raise Conflict(
            f"cannot transfer out: registration {r.cert_no} has a pending change; approve or "
            f"reject it first"
        )
    _require(r, "transfer out", EventType.TRANSFERRED_OUT)
    previous = r.transfer
    transfer = Transfer(
        from_province=previous.from_province if previous else None,
        from_cert_no=previous.from_cert_no if previous else None,
        to_province=step.to_province,
    )
    return _rebuild(
        r,
        status=Status.TRANSFERRED_OUT,
        status_reason=f"转出至{PROVINCES[step.to_province]}",
        transfer=transfer,
        pending_change=None,
    )


_STEPS = {
    rq.ChangeRequested: _change_requested,
    rq.Changed: _changed,
    rq.ChangeRejected: _change_rejected,
    rq.SiteFiled: _site_filed,
    rq.SiteWithdrawn: _site_withdrawn,
    rq.Assessed: _assessed,
    rq.Suspended: _suspended,
    rq.Reinstated: _reinstated,
    rq.Cancelled: _cancelled,
    rq.Revoked: _revoked,
    rq.TransferredOut: _transferred_out,
}


def _changed_fields(r: Record, changes: ChangeSet) -> dict[str, Any]:
    """The record fields a change sets; 422 when the resulting scopes do not fit the category."""
    category = changes.category or r.category
    scopes = changes.scopes if changes.scopes is not None else r.scopes
    try:
        validate_scopes(category, scopes)
    except PydanticCustomError as exc:
        hint = "" if changes.scopes is not None else "; give scopes valid for the new category"
        raise InvalidRequest.for_field("changes.scopes", exc.message() + hint) from None
    fields: dict[str, Any] = {"category": category, "scopes": scopes}
    if changes.level is not None:
        fields["level"] = changes.level
    if changes.primary_institution is not None:
        primary = changes.primary_institution
        fields["primary_institution"] = primary
        # One institution is primary; a filed site that becomes primary is no longer a site.
        fields["practice_sites"] = tuple(
            site for site in r.practice_sites if site.org_code != primary.org_code
        )
    return fields


def _resumed_status(r: Record) -> Status:
    return Status.CHANGING if r.pending_change is not None else Status.ACTIVE


def _rebuild(r: Record, **updates: Any) -> Record:
    """A validated copy with updates (model_copy would skip validation)."""
    fields = {name: getattr(r, name) for name in Record.model_fields}
    fields.update(updates)
    return Record.model_validate(fields)


def _describe(status: Status) -> str:
    return f"{status.value} ({STATUS_LABELS[status]})"


def _require(r: Record, action: str, kind: EventType) -> None:
    """Refuse (Conflict) a step whose kind may not start from the record's status."""
    allowed = ALLOWED_FROM[kind]
    status = r.status
    if status in allowed:
        return
    where = f"registration {r.cert_no} is {_describe(status)}"
    if status in (Status.REVOKED, Status.TRANSFERRED_OUT):
        raise Conflict(f"cannot {action}: {where}; no further step is possible")
    if status is Status.CANCELLED:
        raise Conflict(
            f"cannot {action}: {where}; only a re-registration (POST /v1/registrations) is possible"
        )
    order = [s for s in Status if s in allowed]
    raise Conflict(
        f"cannot {action}: {where}; allowed only when {' or '.join(_describe(s) for s in order)}"
    )


def add_years(d: date, years: int) -> date:
    """The same day years later; 29 February becomes 28 February in a common year."""
    try:
        return d.replace(year=d.year + years)
    except ValueError:
        return d.replace(year=d.year + years, day=28)


def add_months(d: date, months: int) -> date:
    """The same day months later, clamped to the month's last day."""
    index = d.month - 1 + months
    year, month = d.year + index // 12, index % 12 + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))
