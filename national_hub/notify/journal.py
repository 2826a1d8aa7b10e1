"""The notifier's writes: a batch of events applied with its offsets in one transaction; the feed.

Facts are gathered and results written here; `derive.decide` decides in between.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from national_hub.notify.derive import (
    Decision,
    Due,
    Facts,
    decide,
    institutions_of,
    public_record,
    reminders,
)
from national_hub.notify.kinds import REMIND_DAYS
from national_hub.notify.lease import Lease
from national_hub.notify.schema import write
from schemas.events import Event, RegisteredEvent

# A revoked institution is told nothing more (its watch list and webhooks stay, for a new key).
_IN_FORCE = "i.revoked_at IS NULL"


def _placement(conn: sqlite3.Connection, cert_no: str) -> tuple[int | None, frozenset[str]]:
    row = conn.execute(
        "SELECT version, orgs FROM placements WHERE cert_no = ?", (cert_no,)
    ).fetchone()
    if row is None:
        return None, frozenset()
    return int(row[0]), frozenset(json.loads(row[1]))


def _watchers(conn: sqlite3.Connection, certs: Sequence[str]) -> dict[str, float]:
    found: dict[str, float] = {}
    for cert_no in certs:
        for org, since in conn.execute(
            "SELECT w.org_code, w.created_at FROM watch_certs w "
            f"JOIN institutions i ON i.org_code = w.org_code WHERE {_IN_FORCE} AND w.cert_no = ?",
            (cert_no,),
        ):
            found[org] = min(since, found.get(org, since))
    return found


def _rosters(conn: sqlite3.Connection, orgs: frozenset[str]) -> dict[str, float]:
    if not orgs:
        return {}
    marks = ",".join("?" * len(orgs))
    rows = conn.execute(
        "SELECT r.org_code, r.enabled_at FROM roster r "
        f"JOIN institutions i ON i.org_code = r.org_code WHERE {_IN_FORCE} "
        f"AND r.org_code IN ({marks})",
        tuple(orgs),
    )
    return {r[0]: r[1] for r in rows}


def _facts(conn: sqlite3.Connection, event: Event) -> Facts:
    version, before = _placement(conn, event.cert_no)
    certs = [event.cert_no]
    if isinstance(event, RegisteredEvent) and event.details.transfer_from is not None:
        certs.append(event.details.transfer_from.cert_no)
    after = institutions_of(event.record)
    return Facts(version, before, _watchers(conn, certs), _rosters(conn, before | after))


def _tell(
    conn: sqlite3.Connection, org: str, cert_no: str, body: dict[str, Any], committed: float
) -> bool:
    """Store one notification and a pending delivery per live webhook of the institution;
    False if it was stored before (the same id)."""
    now = time.time()
    cur = conn.execute(
        "INSERT OR IGNORE INTO notifications (id, org_code, cert_no, body, committed_at, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (body["id"], org, cert_no, json.dumps(body, ensure_ascii=False), committed, now),
    )
    if cur.rowcount == 0:
        return False
    conn.execute(
        "INSERT INTO deliveries (webhook_id, notification_seq, cert_no, state, next_at, "
        "created_at) SELECT id, ?, ?, 'pending', ?, ? FROM webhooks "
        "WHERE org_code = ? AND deleted_at IS NULL",
        (cur.lastrowid, cert_no, now, now, org),
    )
    return True


_PLACE = (
    "INSERT INTO placements (cert_no, province, version, orgs, status, due, record, event_id) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (cert_no) DO UPDATE SET "
    "province = excluded.province, version = excluded.version, orgs = excluded.orgs, "
    "status = excluded.status, due = excluded.due, record = excluded.record, "
    "event_id = excluded.event_id"
)


def _write(conn: sqlite3.Connection, event: Event, decision: Decision, now: float) -> int:
    due = event.record.next_assessment_due
    conn.execute(
        _PLACE,
        (
            event.cert_no,
            event.province,
            event.record_version,
            json.dumps(sorted(decision.orgs)),
            event.record.status.value,
            None if due is None else due.isoformat(),
            json.dumps(public_record(event.record), ensure_ascii=False),
            str(event.event_id),
        ),
    )
    conn.executemany(
        "INSERT OR IGNORE INTO watch_certs (org_code, cert_no, created_at) VALUES (?, ?, ?)",
        [(org, event.cert_no, now) for org in decision.follow],
    )
    committed = event.committed_at.timestamp()
    # A notification stored before (the province published the event again) is not told twice.
    return sum(
        _tell(conn, org, event.cert_no, body, committed)
        for org, body in decision.notifications.items()
    )


# A lapse is reminded of on its day, or up to this many days late if no notifier ran then.
LAPSED_DAYS = 7

# Registrations in force due in a window, watched by certificate or by a roster they are on,
# not yet reminded of this due date. ({column} is soon_for or lapsed_for, never user input.)
_DUE_SQL = """
SELECT p.cert_no, p.province, p.orgs, p.due, p.record, p.event_id
FROM placements p
WHERE p.due BETWEEN :lo AND :hi
  AND p.status IN ('active', 'changing')
  AND (p.{column} IS NULL OR p.{column} != p.due)
  AND (:certs IS NULL OR p.cert_no IN (SELECT value FROM json_each(:certs)))
  AND (EXISTS (SELECT 1 FROM watch_certs w WHERE w.cert_no = p.cert_no)
       OR EXISTS (SELECT 1 FROM roster r WHERE instr(p.orgs, '"' || r.org_code || '"') > 0))
"""


def _remind(conn: sqlite3.Connection, today: date, certs: Sequence[str] | None) -> int:
    """The reminders due today (of these certificates only, unless None); how many were new."""
    now = time.time()
    stamp = datetime.fromtimestamp(now, UTC)
    told = 0
    windows = (
        ("assessment_due_soon", "soon_for", 1, REMIND_DAYS),
        ("assessment_lapsed", "lapsed_for", -LAPSED_DAYS, 0),
    )
    only = None if certs is None else json.dumps(list(certs))
    for kind, column, lo, hi in windows:
        args = {
            "lo": (today + timedelta(days=lo)).isoformat(),
            "hi": (today + timedelta(days=hi)).isoformat(),
            "certs": only,
        }
        for row in conn.execute(_DUE_SQL.format(column=column), args).fetchall():
            due = Due(
                row["cert_no"],
                row["province"],
                date.fromisoformat(row["due"]),
                json.loads(row["record"]),
                row["event_id"],
            )
            orgs = frozenset(json.loads(row["orgs"]))
            who = set(_watchers(conn, [due.cert_no])) | set(_rosters(conn, orgs))
            bodies = reminders(kind, due, sorted(who), today, stamp)
            told += sum(_tell(conn, o, due.cert_no, b, now) for o, b in bodies.items())
            conn.execute(f"UPDATE placements SET {column} = due WHERE cert_no = ?", (due.cert_no,))
    return told


class Journal:
    """Applies the notifier's batches; reads the feed."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def offsets(self) -> dict[tuple[str, int], int]:
        """The next offset to read of every partition applied so far."""
        rows = self._conn.execute("SELECT topic, partition, next_offset FROM offsets")
        return {(r[0], r[1]): r[2] for r in rows}

    def apply(
        self,
        events: Sequence[Event],
        offsets: Mapping[tuple[str, int], int],
        lease: Lease,
        today: date | None = None,
    ) -> int:
        """Derive and store the notifications of events, in order, with the next offsets, in
        one transaction that writes nothing unless the lease is still ours; how many were new.

        With today, a registration whose assessment the batch brought within the reminder
        window is reminded of at once, not at the next sweep (Notifier.REMIND_S).
        """
        now = time.time()
        stamp = datetime.fromtimestamp(now, UTC)
        told = 0
        with write(self._conn) as conn:
            lease.check(conn)
            for event in events:
                decision = decide(event, _facts(conn, event), stamp)
                if decision is not None:
                    told += _write(conn, event, decision, now)
            if today is not None and events:
                told += _remind(conn, today, [e.cert_no for e in events])
            conn.executemany(
                "INSERT INTO offsets (topic, partition, next_offset) VALUES (?, ?, ?) "
                "ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset",
                [(t, p, o) for (t, p), o in offsets.items()],
            )
        return told

    def remind(self, lease: Lease, today: date) -> int:
        """Store the assessment reminders due today for watched registrations (due within
        REMIND_DAYS; lapsed today, or within LAPSED_DAYS for a notifier that was down), in
        one transaction fenced by the lease; how many were new."""
        with write(self._conn) as conn:
            lease.check(conn)
            return _remind(conn, today, None)

    def feed(self, org_code: str, after: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
        """The institution's notifications after a feed position, in order: (seq, body)."""
        rows = self._conn.execute(
            "SELECT seq, body FROM notifications WHERE org_code = ? AND seq > ? "
            "ORDER BY seq LIMIT ?",
            (org_code, after, limit),
        ).fetchall()
        return [(r[0], json.loads(r[1])) for r in rows]
