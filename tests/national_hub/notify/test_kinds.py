"""Each event type's notification kind and Chinese summary."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from national_hub.notify.kinds import KINDS, describe, reminder_summary
from schemas.samples import sample_event


def _event(kind: str, **details: Any) -> Any:
    kw: dict[str, Any] = {"details": details} if details else {}
    return sample_event(kind, seq=1, province="50", **kw)


@pytest.mark.parametrize(
    ("event_type", "kind"),
    [
        ("registered", "registered"),
        ("change_requested", "change_requested"),
        ("change_rejected", "change_rejected"),
        ("site_filed", "site_filed"),
        ("site_withdrawn", "site_withdrawn"),
        ("suspended", "suspended"),
        ("reinstated", "reinstated"),
        ("cancelled", "cancelled"),
        ("revoked", "revoked"),
        ("transferred_out", "transferred_out"),
    ],
)
def test_kind_of_each_event(event_type: str, kind: str) -> None:
    described = describe(_event(event_type))
    assert described is not None and described[0] == kind


def test_every_kind_is_listed() -> None:
    kinds = {d[0] for t in ("registered", "suspended", "cancelled") if (d := describe(_event(t)))}
    assert kinds <= set(KINDS)


def test_change_approved_when_the_pending_change_is_applied() -> None:
    described = describe(_event("changed", changes=None))
    assert described is not None and described[0] == "change_approved"


def test_failed_assessment_is_told() -> None:
    described = describe(_event("assessed", result="fail", assessed_on="2026-03-01"))
    assert described is not None and described[0] == "assessment_failed"


def test_passed_assessment_is_not_told() -> None:
    assert describe(_event("assessed", result="pass", assessed_on="2026-03-01")) is None


def test_cancellation_names_the_legal_reason_in_chinese() -> None:
    described = describe(_event("cancelled", reason="certificate_misuse"))
    assert described is not None and "出借、出租、抵押、转让、涂改医师执业证书" in described[1]


def test_suspension_says_until_when() -> None:
    described = describe(_event("suspended", reason="违规执业", until="2027-01-31"))
    assert described is not None and "2027-01-31" in described[1]


def test_transfer_in_names_the_old_province_and_number() -> None:
    event = _event("registered", transfer_from={"province": "44", "cert_no": "440000000000001"})
    described = describe(event)
    assert described is not None
    assert described[0] == "transferred" and "广东省" in described[1]
    assert "440000000000001" in described[1]


def test_reminder_says_how_many_days_are_left() -> None:
    text = reminder_summary("assessment_due_soon", "张伟", "500000000000001",
                            date(2026, 7, 1), date(2026, 6, 1))  # fmt: skip
    assert "2026-07-01" in text and "30 天" in text


def test_lapse_summary_says_the_term_has_come() -> None:
    text = reminder_summary("assessment_lapsed", "张伟", "500000000000001",
                            date(2026, 6, 1), date(2026, 6, 1))  # fmt: skip
    assert "已到" in text
