"""Who is told of an event, and what they are told: a pure decision on facts passed in.

journal.Journal gathers the facts (the certificate's last placement, its watchers, the
rosters watched) inside the transaction that writes what this decides.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from national_hub.notify.kinds import describe, reminder_summary
from schemas.events import Event, RegisteredEvent
from schemas.record import Record
from schemas.timestamps import format_utc

# Notification ids are uuid5 of (event id, institution) in this namespace: the same event told
# to the same institution is the same notification however often it is derived.
NAMESPACE = uuid.UUID("7b0e4c1a-5d2f-4e8b-9a61-1c3f5e2d8a90")

# An enrolment tells of events committed at most this long before it: a notifier catching up
# on old topics tells nobody of the past, and a province clock a little behind is no matter.
ENROL_GRACE_S = 300.0


@dataclass(frozen=True, slots=True)
class Facts:
    """What the store knows when an event arrives."""

    # The last record version seen of the certificate, and its institutions then.
    previous_version: int | None
    previous_orgs: frozenset[str]
    # Institutions watching the certificate (or, for a transfer-in, the old one): enrolled at.
    watchers: Mapping[str, float]
    # Institutions watching their roster, among previous and current institutions: since.
    rosters: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Decision:
    """What to write for one event."""

    # The certificate's institutions after the event (its new placement).
    orgs: frozenset[str]
    # One notification body per institution told, by org code.
    notifications: Mapping[str, dict[str, Any]]
    # Institutions that watched the old number of a transfer-in: they watch the new one too.
    follow: tuple[str, ...]


def institutions_of(record: Record) -> frozenset[str]:
    """The primary institution and every filed practice site."""
    return frozenset(
        [record.primary_institution.org_code, *(s.org_code for s in record.practice_sites)]
    )


def public_record(record: Record) -> dict[str, Any]:
    """The record as published nationally: never person_ref (the ID number's stand-in)."""
    body = record.model_dump(mode="json")
    body.pop("person_ref", None)
    return body


def notification_id(event_id: str, org_code: str) -> str:
    """The notification's id: the same for the same event and institution, always."""
    return str(uuid.uuid5(NAMESPACE, f"{event_id}:{org_code}"))


def _told(event: Event, facts: Facts, orgs: frozenset[str]) -> list[str]:
    committed = event.committed_at.timestamp()
    told = {o for o, since in facts.watchers.items() if committed >= since - ENROL_GRACE_S}
    for org in facts.previous_orgs | orgs:
        since = facts.rosters.get(org)
        if since is not None and committed >= since - ENROL_GRACE_S:
            told.add(org)
    return sorted(told)


def decide(event: Event, facts: Facts, now: datetime) -> Decision | None:
    """What an event means for the watchers; None for a repeat (a version already seen)."""
    if facts.previous_version is not None and event.record_version <= facts.previous_version:
        return None
    orgs = institutions_of(event.record)
    described = describe(event)
    notifications: dict[str, dict[str, Any]] = {}
    if described is not None:
        kind, summary = described
        record = public_record(event.record)
        for org in _told(event, facts, orgs):
            notifications[org] = {
                "id": notification_id(str(event.event_id), org),
                "event_id": str(event.event_id),
                "kind": kind,
                "cert_no": event.cert_no,
                "province": event.province,
                "summary": summary,
                "record": record,
                "committed_at": format_utc(event.committed_at),
                "created_at": format_utc(now),
            }
    follow: tuple[str, ...] = ()
    if isinstance(event, RegisteredEvent) and event.details.transfer_from is not None:
        follow = tuple(sorted(facts.watchers))
    return Decision(orgs, notifications, follow)


@dataclass(frozen=True, slots=True)
class Due:
    """A watched registration whose assessment is due soon or has lapsed (journal.remind)."""

    cert_no: str
    province: str
    due: date
    # The record as published (no person_ref) and the event it is from.
    record: Mapping[str, Any]
    event_id: str


def reminders(
    kind: str, due: Due, told: list[str], today: date, now: datetime
) -> dict[str, dict[str, Any]]:
    """The reminder of one due date to each institution told, by org code.

    Its id is derived from (kind, certificate, due date), so a reminder is sent once however
    often the reminders are looked for; event_id names the event the record is from.
    """
    summary = reminder_summary(kind, str(due.record["name"]), due.cert_no, due.due, today)
    key = f"{kind}:{due.cert_no}:{due.due.isoformat()}"
    return {
        org: {
            "id": notification_id(key, org),
            "event_id": due.event_id,
            "kind": kind,
            "cert_no": due.cert_no,
            "province": due.province,
            "summary": summary,
            "record": dict(due.record),
            "committed_at": format_utc(now),
            "created_at": format_utc(now),
        }
        for org in told
    }
