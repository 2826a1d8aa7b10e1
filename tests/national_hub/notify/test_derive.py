"""Who is told of an event (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from national_hub.notify.derive import Facts, decide, notification_id
from schemas.samples import sample_event

NOW = datetime(2026, 6, 1, tzinfo=UTC)
PRIMARY = "12500000450400012K"
SITE = "12500103450400233L"
OTHER = "91500000MA5U7QXXXW"


def _event(kind: str = "suspended", version: int = 2, **details: Any) -> Any:
    kw: dict[str, Any] = {"details": details} if details else {}
    return sample_event(
        kind, seq=1, province="50", record_version=version, committed_at=NOW, **kw
    )


def _facts(
    watchers: dict[str, float] | None = None,
    rosters: dict[str, float] | None = None,
    previous_orgs: frozenset[str] = frozenset(),
    previous_version: int | None = 1,
) -> Facts:
    return Facts(previous_version, previous_orgs, watchers or {}, rosters or {})


def test_watcher_is_told() -> None:
    d = decide(_event(), _facts(watchers={OTHER: NOW.timestamp() - 10}), NOW)
    assert d is not None and list(d.notifications) == [OTHER]


def test_nobody_watching_nobody_told() -> None:
    d = decide(_event(), _facts(), NOW)
    assert d is not None and d.notifications == {}


def test_enrolment_after_the_event_is_not_told_of_it() -> None:
    d = decide(_event(), _facts(watchers={OTHER: NOW.timestamp() + 3600}), NOW)
    assert d is not None and d.notifications == {}


def test_repeat_version_tells_nobody() -> None:
    event = _event(version=2)
    assert decide(event, _facts(watchers={OTHER: 0.0}, previous_version=2), NOW) is None


def test_roster_of_the_primary_institution_is_told() -> None:
    d = decide(_event(), _facts(rosters={PRIMARY: 0.0}), NOW)
    assert d is not None and list(d.notifications) == [PRIMARY]


def test_institution_left_is_told_of_the_departure() -> None:
    event = _event("site_withdrawn", org_code=OTHER)
    d = decide(event, _facts(rosters={OTHER: 0.0}, previous_orgs=frozenset({OTHER})), NOW)
    assert d is not None and list(d.notifications) == [OTHER]


def test_placement_is_the_record_institutions() -> None:
    d = decide(_event("site_filed"), _facts(), NOW)
    assert d is not None and PRIMARY in d.orgs and SITE in d.orgs


def test_notification_has_no_person_ref() -> None:
    d = decide(_event(), _facts(watchers={OTHER: 0.0}), NOW)
    assert d is not None and "person_ref" not in d.notifications[OTHER]["record"]


def test_notification_id_is_stable() -> None:
    event = _event()
    d = decide(event, _facts(watchers={OTHER: 0.0}), NOW)
    assert d is not None
    assert d.notifications[OTHER]["id"] == notification_id(str(event.event_id), OTHER)


def test_transfer_in_enrols_the_new_number_for_old_watchers() -> None:
    event = _event(
        "registered", version=1, transfer_from={"province": "44", "cert_no": "440000000000001"}
    )
    d = decide(event, _facts(watchers={OTHER: 0.0}, previous_version=None), NOW)
    assert d is not None and d.follow == (OTHER,)
