"""A batch applied with its offsets in one transaction, fenced by the lease; the feed."""

from __future__ import annotations

import sqlite3
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from national_hub.notify.institutions import Institutions
from national_hub.notify.journal import Journal
from national_hub.notify.lease import Fenced, Lease
from national_hub.notify.outbox import Outbox
from national_hub.notify.watchlist import WatchList
from national_hub.notify.webhooks import Webhooks
from schemas.samples import sample_event

ORG = "12500000450400012K"
CERT = "500000000000001"


def _event(kind: str, version: int, cert_no: str = CERT, **details: Any) -> Any:
    kw: dict[str, Any] = {"details": details} if details else {}
    return sample_event(
        kind,
        seq=version,
        province="50",
        cert_no=cert_no,
        record_version=version,
        event_id=uuid.uuid4(),
        committed_at=datetime.now(UTC),
        **kw,
    )


@pytest.fixture
def lease(conn: sqlite3.Connection) -> Lease:
    held = Lease(conn, "a")
    assert held.acquire(time.time(), 10)
    return held


@pytest.fixture
def watched(conn: sqlite3.Connection) -> None:
    Institutions(conn).add(ORG, "医院")
    WatchList(conn, 10).add(ORG, [CERT, "500000000000002"], lambda cs: set(cs))


@pytest.mark.usefixtures("watched")
def test_watched_event_is_in_the_feed(conn: sqlite3.Connection, lease: Lease) -> None:
    journal = Journal(conn)
    journal.apply([_event("suspended", 2)], {("t", 0): 5}, lease)
    [(_, body)] = journal.feed(ORG, 0, 10)
    assert body["kind"] == "suspended" and body["cert_no"] == CERT


@pytest.mark.usefixtures("watched")
def test_offsets_stored_with_the_batch(conn: sqlite3.Connection, lease: Lease) -> None:
    journal = Journal(conn)
    journal.apply([_event("suspended", 2)], {("t", 0): 5}, lease)
    assert journal.offsets() == {("t", 0): 5}


@pytest.mark.usefixtures("watched")
def test_same_event_twice_is_one_notification(conn: sqlite3.Connection, lease: Lease) -> None:
    journal = Journal(conn)
    event = _event("suspended", 2)
    journal.apply([event], {("t", 0): 1}, lease)
    conn.execute("DELETE FROM placements")
    assert journal.apply([event], {("t", 0): 2}, lease) == 0


@pytest.mark.usefixtures("watched")
def test_fenced_writer_writes_nothing(conn: sqlite3.Connection, lease: Lease) -> None:
    conn.execute("UPDATE lease SET expires_at = 0")
    assert Lease(conn, "b").acquire(time.time(), 10)
    with pytest.raises(Fenced):
        Journal(conn).apply([_event("suspended", 2)], {("t", 0): 5}, lease)
    assert Journal(conn).offsets() == {}


def test_standby_cannot_take_a_live_lease(conn: sqlite3.Connection, lease: Lease) -> None:
    assert not Lease(conn, "b").acquire(time.time(), 10)


@pytest.mark.usefixtures("watched")
def test_delivery_per_webhook_in_certificate_order(conn: sqlite3.Connection, lease: Lease) -> None:
    Webhooks(conn).create(ORG, "http://127.0.0.1:1/hook")
    other = "500000000000002"
    Journal(conn).apply(
        [_event("suspended", 2), _event("reinstated", 3), _event("suspended", 2, other)],
        {("t", 0): 3},
        lease,
    )
    due = Outbox(conn).due(time.time() + 1, 10, ())
    # The reinstatement waits for the suspension of the same certificate; the other goes.
    assert [b'"suspended"' in d.body for d in due] == [True, True]


@pytest.mark.usefixtures("watched")
def test_failed_delivery_retries_later(conn: sqlite3.Connection, lease: Lease) -> None:
    Webhooks(conn).create(ORG, "http://127.0.0.1:1/hook")
    Journal(conn).apply([_event("suspended", 2)], {("t", 0): 1}, lease)
    outbox = Outbox(conn)
    [due] = outbox.due(time.time() + 1, 10, ())
    now = time.time()
    assert outbox.record(due, now, 500, "boom", 3.0, now + 60) == "retrying"
    assert outbox.due(now + 1, 10, ()) == []


TODAY = date(2026, 6, 1)


def _due_in(days: int, kind: str = "registered", version: int = 1) -> Any:
    event = _event(kind, version)
    record = event.record.model_copy(update={"next_assessment_due": TODAY + timedelta(days)})
    return event.model_copy(update={"record": record})


@pytest.mark.usefixtures("watched")
def test_reminder_thirty_days_before_the_assessment(
    conn: sqlite3.Connection, lease: Lease
) -> None:
    journal = Journal(conn)
    journal.apply([_due_in(30)], {("t", 0): 1}, lease)
    journal.remind(lease, TODAY)
    assert [b["kind"] for _, b in journal.feed(ORG, 0, 10)][-1] == "assessment_due_soon"


@pytest.mark.usefixtures("watched")
def test_reminder_is_sent_once(conn: sqlite3.Connection, lease: Lease) -> None:
    journal = Journal(conn)
    journal.apply([_due_in(30)], {("t", 0): 1}, lease)
    journal.remind(lease, TODAY)
    assert journal.remind(lease, TODAY + timedelta(days=1)) == 0


@pytest.mark.usefixtures("watched")
def test_no_reminder_beyond_thirty_days(conn: sqlite3.Connection, lease: Lease) -> None:
    journal = Journal(conn)
    journal.apply([_due_in(31)], {("t", 0): 1}, lease)
    assert journal.remind(lease, TODAY) == 0


@pytest.mark.usefixtures("watched")
def test_lapse_on_the_day(conn: sqlite3.Connection, lease: Lease) -> None:
    journal = Journal(conn)
    journal.apply([_due_in(0)], {("t", 0): 1}, lease)
    journal.remind(lease, TODAY)
    assert [b["kind"] for _, b in journal.feed(ORG, 0, 10)][-1] == "assessment_lapsed"


def test_unwatched_registration_is_not_reminded(conn: sqlite3.Connection, lease: Lease) -> None:
    journal = Journal(conn)
    journal.apply([_due_in(30)], {("t", 0): 1}, lease)
    assert journal.remind(lease, TODAY) == 0


@pytest.mark.usefixtures("watched")
def test_revoked_institution_is_told_nothing(conn: sqlite3.Connection, lease: Lease) -> None:
    Institutions(conn).revoke(ORG)
    assert Journal(conn).apply([_event("suspended", 2)], {("t", 0): 1}, lease) == 0


@pytest.mark.usefixtures("watched")
def test_revoked_institution_deliveries_wait(conn: sqlite3.Connection, lease: Lease) -> None:
    Webhooks(conn).create(ORG, "http://127.0.0.1:1/hook")
    Journal(conn).apply([_event("suspended", 2)], {("t", 0): 1}, lease)
    Institutions(conn).revoke(ORG)
    assert Outbox(conn).due(time.time() + 1, 10, ()) == []


@pytest.mark.usefixtures("watched")
def test_delivery_log_lists_each_attempt(conn: sqlite3.Connection, lease: Lease) -> None:
    hook = Webhooks(conn).create(ORG, "http://127.0.0.1:1/hook")
    Journal(conn).apply([_event("suspended", 2)], {("t", 0): 1}, lease)
    outbox = Outbox(conn)
    [due] = outbox.due(time.time() + 1, 10, ())
    now = time.time()
    outbox.record(due, now, 503, "busy", 2.0, now)
    outbox.record(due, now + 1, 204, None, 1.0, None)
    [row] = Webhooks(conn).deliveries(ORG, hook.id, 0, 10)
    assert (row["state"], [a["status"] for a in row["log"]]) == ("delivered", [503, 204])
