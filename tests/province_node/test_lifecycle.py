"""The lifecycle state machine on its own: every step from every status, allowed or refused."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from province_node import lifecycle
from province_node.errors import Conflict, InvalidRequest
from province_node.requests import RegistrationRequest, parse_registration, parse_step
from schemas.person_ref import person_ref
from schemas.record import PendingChange, Record, Transfer
from schemas.samples import (
    PRIMARY_INSTITUTION,
    SAMPLE_ID_NUMBER,
    SAMPLE_SECRET,
    SECOND_INSTITUTION,
    credit_code,
    sample_record,
)
from schemas.vocab import EventType, Status

TODAY = date(2026, 11, 22)
SECOND = SECOND_INSTITUTION.model_dump()

CHANGE_REQ = {"type": "change_requested", "changes": {"primary_institution": SECOND}}
APPROVE = {"type": "changed"}
DIRECT = {"type": "changed", "changes": {"scopes": ["外科专业"]}}
REJECT = {"type": "change_rejected", "reason": "材料不全"}
FILE_SITE = {"type": "site_filed", "institution": SECOND, "start_date": "2026-01-01"}
WITHDRAW = {"type": "site_withdrawn", "org_code": SECOND_INSTITUTION.org_code}
PASS = {"type": "assessed", "result": "pass", "assessed_on": "2026-03-01"}
FAIL = {"type": "assessed", "result": "fail", "assessed_on": "2026-03-01"}
SUSPEND = {"type": "suspended", "reason": "违反诊疗规范", "until": "2027-05-01"}
REINSTATE = {"type": "reinstated"}
CANCEL = {"type": "cancelled", "reason": "voluntary"}
REVOKE = {"type": "revoked", "reason": "出具虚假医学证明文件", "decision_no": "渝卫罚〔2026〕1号"}
TRANSFER = {"type": "transferred_out", "to_province": "11"}

STEPS = {
    "change_requested": CHANGE_REQ,
    "approve": APPROVE,
    "direct_change": DIRECT,
    "change_rejected": REJECT,
    "site_filed": FILE_SITE,
    "site_withdrawn": WITHDRAW,
    "assessed_pass": PASS,
    "assessed_fail": FAIL,
    "suspended": SUSPEND,
    "reinstated": REINSTATE,
    "cancelled": CANCEL,
    "revoked": REVOKE,
    "transferred_out": TRANSFER,
}


def record_in(state: str) -> Record:
    """A sample record in a named state; 'filed' is active with SECOND filed as a site."""
    pending = PendingChange(primary_institution=SECOND_INSTITUTION, requested_at=TODAY)
    states: dict[str, dict[str, Any]] = {
        "active": {},
        "filed": {"practice_sites": ({**SECOND, "start_date": date(2026, 1, 1)},)},
        "changing": {"status": Status.CHANGING, "pending_change": pending},
        "suspended": {
            "status": Status.SUSPENDED,
            "status_reason": "违反诊疗规范",
            "suspended_until": date(2027, 5, 1),
        },
        "suspended_assessment": {
            "status": Status.SUSPENDED,
            "status_reason": lifecycle.ASSESSMENT_FAILED_REASON,
            "suspended_until": date(2026, 9, 1),
        },
        "cancelled": {"status": Status.CANCELLED, "status_reason": "本人主动申请"},
        "revoked": {"status": Status.REVOKED, "status_reason": "出具虚假医学证明文件"},
        "transferred_out": {
            "status": Status.TRANSFERRED_OUT,
            "transfer": Transfer(to_province="11"),
        },
    }
    return sample_record(**states[state])


def apply(state: str, body: dict[str, Any]) -> lifecycle.Transition:
    step = parse_step(body, today=TODAY)
    return lifecycle.apply_step(record_in(state), step, province="50", today=TODAY)


ALLOWED = [
    ("active", "change_requested", Status.CHANGING),
    ("changing", "approve", Status.ACTIVE),
    ("active", "direct_change", Status.ACTIVE),
    ("changing", "change_rejected", Status.ACTIVE),
    ("active", "site_filed", Status.ACTIVE),
    ("changing", "site_filed", Status.CHANGING),
    ("filed", "site_withdrawn", Status.ACTIVE),
    ("active", "assessed_pass", Status.ACTIVE),
    ("changing", "assessed_pass", Status.CHANGING),
    ("suspended_assessment", "assessed_pass", Status.ACTIVE),
    ("active", "assessed_fail", Status.SUSPENDED),
    ("active", "suspended", Status.SUSPENDED),
    ("changing", "suspended", Status.SUSPENDED),
    ("suspended", "reinstated", Status.ACTIVE),
    ("active", "cancelled", Status.CANCELLED),
    ("changing", "cancelled", Status.CANCELLED),
    ("suspended", "cancelled", Status.CANCELLED),
    ("active", "revoked", Status.REVOKED),
    ("suspended", "revoked", Status.REVOKED),
    ("active", "transferred_out", Status.TRANSFERRED_OUT),
]


@pytest.mark.parametrize(("state", "step", "status"), ALLOWED)
def test_allowed_step_sets_status(state: str, step: str, status: Status) -> None:
    assert apply(state, STEPS[step]).record.status is status


REFUSED = [
    ("active", "approve"),
    ("active", "change_rejected"),
    ("active", "reinstated"),
    ("active", "site_withdrawn"),
    ("changing", "change_requested"),
    ("changing", "direct_change"),
    ("changing", "transferred_out"),
    ("filed", "site_filed"),
    ("suspended", "change_requested"),
    ("suspended", "suspended"),
    ("suspended", "site_filed"),
    ("suspended", "assessed_pass"),
    ("suspended", "transferred_out"),
    ("suspended_assessment", "assessed_fail"),
    ("suspended_assessment", "reinstated"),
    ("cancelled", "reinstated"),
    ("cancelled", "cancelled"),
    ("cancelled", "change_requested"),
    ("revoked", "reinstated"),
    ("revoked", "cancelled"),
    ("revoked", "assessed_pass"),
    ("transferred_out", "change_requested"),
    ("transferred_out", "cancelled"),
    ("transferred_out", "reinstated"),
]


@pytest.mark.parametrize(("state", "step"), REFUSED)
def test_refused_step_raises_conflict(state: str, step: str) -> None:
    with pytest.raises(Conflict):
        apply(state, STEPS[step])


def test_reinstating_a_revoked_registration_says_why() -> None:
    with pytest.raises(Conflict) as info:
        apply("revoked", REINSTATE)
    assert "revoked" in info.value.message and "no further step" in info.value.message


def test_step_after_cancellation_points_to_re_registration() -> None:
    with pytest.raises(Conflict) as info:
        apply("cancelled", SUSPEND)
    assert "re-registration" in info.value.message


def test_change_request_holds_the_change_as_pending() -> None:
    record = apply("active", CHANGE_REQ).record
    assert record.pending_change == PendingChange(
        primary_institution=SECOND_INSTITUTION, requested_at=TODAY
    )


def test_approval_applies_the_pending_change() -> None:
    record = apply("changing", APPROVE).record
    assert (record.primary_institution, record.pending_change) == (SECOND_INSTITUTION, None)


def test_rejection_keeps_the_old_institution() -> None:
    record = apply("changing", REJECT).record
    assert (record.primary_institution, record.pending_change) == (PRIMARY_INSTITUTION, None)


def test_direct_change_applies_at_once() -> None:
    assert apply("active", DIRECT).record.scopes == ("外科专业",)


def test_change_of_scopes_outside_the_category_is_invalid() -> None:
    body = {"type": "changed", "changes": {"scopes": ["口腔专业"]}}
    with pytest.raises(InvalidRequest) as info:
        apply("active", body)
    assert info.value.details[0]["field"] == "changes.scopes"


def test_change_of_category_without_fitting_scopes_is_invalid() -> None:
    body = {"type": "change_requested", "changes": {"category": "dental"}}
    with pytest.raises(InvalidRequest) as info:
        apply("active", body)
    assert info.value.details[0]["field"] == "changes.scopes"


def test_new_primary_institution_stops_being_a_practice_site() -> None:
    body = {"type": "changed", "changes": {"primary_institution": SECOND}}
    assert apply("filed", body).record.practice_sites == ()


def test_filing_the_primary_institution_is_refused() -> None:
    body = {**FILE_SITE, "institution": PRIMARY_INSTITUTION.model_dump()}
    with pytest.raises(Conflict, match="primary institution"):
        apply("active", body)


def test_site_filing_appends_the_site() -> None:
    sites = apply("active", FILE_SITE).record.practice_sites
    assert [(s.org_code, s.start_date) for s in sites] == [
        (SECOND_INSTITUTION.org_code, date(2026, 1, 1))
    ]


def test_passed_assessment_sets_the_next_due_date_three_years_on() -> None:
    record = apply("active", PASS).record
    assert (record.last_assessed_on, record.next_assessment_due) == (
        date(2026, 3, 1),
        date(2029, 3, 1),
    )


def test_failed_assessment_suspends_for_six_months() -> None:
    record = apply("active", FAIL).record
    assert (record.suspended_until, record.status_reason) == (
        date(2026, 9, 1),
        lifecycle.ASSESSMENT_FAILED_REASON,
    )


def test_passed_reassessment_clears_the_suspension() -> None:
    record = apply("suspended_assessment", PASS).record
    assert (record.suspended_until, record.status_reason) == (None, None)


def test_reinstatement_returns_to_changing_when_a_change_is_pending() -> None:
    suspended = lifecycle.apply_step(
        record_in("changing"), parse_step(SUSPEND), province="50", today=TODAY
    ).record
    reinstated = lifecycle.apply_step(
        suspended, parse_step(REINSTATE), province="50", today=TODAY
    ).record
    assert reinstated.status is Status.CHANGING


def test_cancellation_records_the_legal_reason_label() -> None:
    assert apply("active", CANCEL).record.status_reason == "本人主动申请"


def test_transfer_out_names_the_destination() -> None:
    assert apply("active", TRANSFER).record.transfer == Transfer(to_province="11")


def test_transfer_out_to_the_own_province_is_invalid() -> None:
    with pytest.raises(InvalidRequest) as info:
        apply("active", {**TRANSFER, "to_province": "50"})
    assert info.value.details[0]["field"] == "to_province"


def test_step_details_are_the_request_fields() -> None:
    assert apply("active", SUSPEND).details == {"reason": "违反诊疗规范", "until": "2027-05-01"}


def _request(**overrides: Any) -> RegistrationRequest:
    body = {
        "cert_no": "110500000012345",
        "name": "王小明",
        "gender": "female",
        "id_number": SAMPLE_ID_NUMBER,
        "level": "physician",
        "category": "clinical",
        "scopes": ["内科专业"],
        "primary_institution": PRIMARY_INSTITUTION.model_dump(),
        "issuing_authority": {"name": "重庆市渝中区卫生健康委员会", "region_code": "500103"},
        "registered_on": "2020-03-15",
        **overrides,
    }
    return parse_registration(body)


def _register(
    current: Record | None, req: RegistrationRequest, id_number: str | None = SAMPLE_ID_NUMBER
) -> lifecycle.Transition:
    return lifecycle.register(
        current,
        id_number,
        req,
        province="50",
        person_ref=person_ref(SAMPLE_SECRET, req.id_number),
    )


def test_first_registration_is_active() -> None:
    t = _register(None, _request(), None)
    assert (t.type, t.record.status) == (EventType.REGISTERED, Status.ACTIVE)


def test_registering_an_existing_certificate_is_refused() -> None:
    with pytest.raises(Conflict, match="already registered"):
        _register(record_in("active"), _request())


def test_a_cancelled_registration_can_be_registered_again() -> None:
    assert _register(record_in("cancelled"), _request()).record.status is Status.ACTIVE


def test_re_registration_of_another_person_is_refused() -> None:
    with pytest.raises(Conflict, match="another person"):
        _register(record_in("cancelled"), _request(), id_number="110105194912310039")


def test_transfer_in_links_the_old_certificate() -> None:
    t = _register(None, _request(transfer_from={"province": "11", "cert_no": "110000000000001"}))
    assert (t.record.transfer, t.details) == (
        Transfer(from_province="11", from_cert_no="110000000000001"),
        {"transfer_from": {"province": "11", "cert_no": "110000000000001"}},
    )


def test_a_transferred_out_physician_can_return_by_transfer_in() -> None:
    req = _request(transfer_from={"province": "11", "cert_no": "110000000000001"})
    assert _register(record_in("transferred_out"), req).record.status is Status.ACTIVE


def test_a_transferred_out_registration_cannot_simply_register_again() -> None:
    with pytest.raises(Conflict, match="transfer-in"):
        _register(record_in("transferred_out"), _request())


def test_reinstating_after_a_failed_assessment_points_to_reassessment() -> None:
    with pytest.raises(Conflict, match="reassessment"):
        apply("suspended_assessment", REINSTATE)


def test_transfer_in_from_the_own_province_is_invalid() -> None:
    req = _request(transfer_from={"province": "50", "cert_no": "500000000000001"})
    with pytest.raises(InvalidRequest) as info:
        _register(None, req)
    assert info.value.details[0]["field"] == "transfer_from.province"


# -- the dates a request may carry (TODAY is 2026-11-22) -------------------------------------------


@pytest.mark.parametrize(
    ("assessed_on", "accepted"),
    [("1999-05-01", True), ("2026-11-23", True), ("1999-04-30", False), ("2026-11-24", False)],
)
def test_assessment_dates_run_from_the_physician_law_to_one_day_after_today(
    assessed_on: str, accepted: bool
) -> None:
    body = {**PASS, "assessed_on": assessed_on}
    if accepted:
        parse_step(body, today=TODAY)
    else:
        with pytest.raises(InvalidRequest) as info:
            parse_step(body, today=TODAY)
        assert info.value.details[0]["field"] == "assessed_on"


@pytest.mark.parametrize(
    ("until", "accepted"),
    [("2026-11-23", True), ("2031-11-22", True), ("2026-11-22", False), ("2031-11-23", False)],
)
def test_a_suspension_ends_after_today_and_within_five_years(until: str, accepted: bool) -> None:
    body = {**SUSPEND, "until": until}
    if accepted:
        parse_step(body, today=TODAY)
    else:
        with pytest.raises(InvalidRequest) as info:
            parse_step(body, today=TODAY)
        assert info.value.details[0]["field"] == "until"


def test_a_registration_dated_tomorrow_is_accepted_the_day_after_is_not() -> None:
    body = _request().model_dump(mode="json") | {"registered_on": "2026-11-23"}
    assert parse_registration(body, today=TODAY).registered_on == date(2026, 11, 23)
    with pytest.raises(InvalidRequest):
        parse_registration(body | {"registered_on": "2026-11-24"}, today=TODAY)


@pytest.mark.parametrize(
    ("start", "years", "expected"),
    [(date(2024, 2, 29), 3, date(2027, 2, 28)), (date(2026, 3, 1), 3, date(2029, 3, 1))],
)
def test_add_years(start: date, years: int, expected: date) -> None:
    assert lifecycle.add_years(start, years) == expected


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [(date(2026, 8, 31), 6, date(2027, 2, 28)), (date(2026, 3, 1), 6, date(2026, 9, 1))],
)
def test_add_months(start: date, months: int, expected: date) -> None:
    assert lifecycle.add_months(start, months) == expected


# -- allowed_steps: what the console offers is exactly what apply_step accepts ---------------

STATES = (
    "active",
    "filed",
    "changing",
    "suspended",
    "suspended_assessment",
    "cancelled",
    "revoked",
    "transferred_out",
)


def _valid_body(state: str, kind: EventType) -> dict[str, Any]:
    """Details of a step of this kind that nothing but the record's state could refuse."""
    if kind is EventType.CHANGED:
        return APPROVE if state == "changing" else DIRECT
    if kind is EventType.ASSESSED:
        return PASS
    if kind is EventType.SITE_FILED and state == "filed":
        return {**FILE_SITE, "institution": THIRD}
    return {body["type"]: body for body in STEPS.values()}[kind.value]


THIRD = {**SECOND, "org_code": credit_code("12500104450400345")}


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("kind", [k for k in EventType if k is not EventType.REGISTERED])
def test_a_step_is_offered_exactly_when_it_is_accepted(state: str, kind: EventType) -> None:
    offered = kind in lifecycle.allowed_steps(record_in(state))
    try:
        apply(state, _valid_body(state, kind))
        accepted = True
    except Conflict:
        accepted = False
    assert offered == accepted
