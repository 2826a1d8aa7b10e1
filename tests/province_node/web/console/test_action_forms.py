"""action_forms: the offered actions and a posted form read into the API's step body."""

from __future__ import annotations

from datetime import date

from province_node.web.console import action_forms
from schemas.samples import sample_record
from schemas.vocab import EventType, Status


def test_an_active_record_offers_no_reinstatement() -> None:
    kinds = {a.kind for a in action_forms.offered(sample_record())}
    assert (EventType.SUSPENDED in kinds, EventType.REINSTATED in kinds) == (True, False)


def test_a_changing_record_offers_the_approval_not_a_direct_change() -> None:
    record = sample_record(
        status=Status.CHANGING, pending_change={"level": "assistant", "requested_at": date.today()}
    )
    kinds = {a.kind for a in action_forms.offered(record)}
    assert (EventType.CHANGED in kinds, action_forms.approvable(record)) == (False, True)


def test_a_suspension_form_becomes_its_step_body() -> None:
    fields = {"reason": [" 违规 "], "until": ["2027-01-01"]}
    body = action_forms.step_body(EventType.SUSPENDED, fields)
    assert body == {"type": "suspended", "reason": "违规", "until": "2027-01-01"}


def test_empty_fields_are_left_out_for_the_node_to_name() -> None:
    body = action_forms.step_body(EventType.REVOKED, {"reason": [""], "decision_no": ["1号"]})
    assert body == {"type": "revoked", "decision_no": "1号"}


def test_the_approval_form_sends_no_changes() -> None:
    body = action_forms.step_body(EventType.CHANGED, {"approve": ["1"]})
    assert body == {"type": "changed"}


def test_a_change_form_nests_the_institution_and_lists_the_scopes() -> None:
    fields = {
        "changes.primary_institution.org_code": ["X"],
        "changes.scopes": ["内科专业", "外科专业"],
    }
    body = action_forms.step_body(EventType.CHANGE_REQUESTED, fields)
    assert body["changes"] == {
        "primary_institution": {"org_code": "X"},
        "scopes": ["内科专业", "外科专业"],
    }


def test_a_whole_institution_refused_is_shown_at_its_credit_code() -> None:
    assert action_forms.error_field(EventType.SITE_FILED, "institution") == "institution.org_code"
