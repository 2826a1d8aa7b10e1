"""The notifier's writes: a batch of events applied with its offsets in one transaction; the feed.

Facts are gathered and results written here; `derive.decide` decides in between.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from national_hub.notify.derive import Decision, Facts, decide, institutions_of
from national_hub.notify.lease import Lease
from national_hub.notify.schema import write
from schemas.events import Event, RegisteredEvent


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
            "SELECT org_code, created_at FROM watch_certs WHERE cert_no = ?", (cert_no,)
        ):
            found[org] = min(since, found.get(org, since))
    return found


def _rosters(conn: sqlite3.Connection, orgs: frozenset[str]) -> dict[str, float]:
    if not orgs:
        return {}
    marks = ",".join("?" * len(orgs))
    rows = conn.execute(
        f"SELECT org_code, enabled_at FROM roster WHERE org_code IN ({marks})", tuple(orgs)
    )
    return {r[0]: r[1] for r in rows}


def _facts(conn: sqlite3.Connection, event: Event) -> Facts:
    version, before = _placement(conn, event.cert_no)
    certs = [event.cert_no]
    if isinstance(event, RegisteredEvent) and event.details.transfer_from is not None:
        certs.append(event.details.transfer_from.cert_no)
    after = institutions_of(event.record)
    return Facts(version, before, _watchers(conn, certs), _rosters(conn, before | after))


def _write(conn: sqlite3.Connection, event: Event, decision: Decision, now: float) -> int:
    conn.execute(
        "INSERT INTO placements (cert_no, province, version, orgs) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (cert_no) DO UPDATE SET province = excluded.province, "
        "version = excluded.version, orgs = excluded.orgs",
        (event.cert_no, event.province, event.record_version, json.dumps(sorted(decision.orgs))),
    )
    conn.executemany(
        "INSERT OR IGNORE INTO watch_certs (org_code, cert_no, created_at) VALUES (?, ?, ?)",
        [(org, event.cert_no, now) for org in decision.follow],
    )
    told = 0
    committed = event.committed_at.timestamp()
    for org, body in decision.notifications.items():
        cur = conn.execute(
            "INSERT OR IGNORE INTO notifications (id, org_code, cert_no, body, committed_at, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (body["id"], org, event.cert_no, json.dumps(body, ensure_ascii=False), committed, now),
        )
        if cur.rowcount == 0:
            # Told already (the province published the event again): not a second time.
            continue
        told += 1
        conn.execute(
            "INSERT INTO deliveries (webhook_id, notification_seq, cert_no, state, next_at, "
            "created_at) SELECT id, ?, ?, 'pending', ?, ? FROM webhooks "
            "WHERE org_code = ? AND deleted_at IS NULL",
            (cur.lastrowid, event.cert_no, now, now, org),
        )
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
    ) -> int:
        """Derive and store the notifications of events, in order, with the next offsets, in
        one transaction that writes nothing unless the lease is still ours; how many were new."""
        now = time.time()
        stamp = datetime.fromtimestamp(now, UTC)
        told = 0
        with write(self._conn) as conn:
            lease.check(conn)
            for event in events:
                decision = decide(event, _facts(conn, event), stamp)
                if decision is not None:
                    told += _write(conn, event, decision, now)
            conn.executemany(
                "INSERT INTO offsets (topic, partition, next_offset) VALUES (?, ?, ?) "
                "ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset",
                [(t, p, o) for (t, p), o in offsets.items()],
            )
        return told

    def feed(self, org_code: str, after: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
        """The institution's notifications after a feed position, in order: (seq, body)."""
        rows = self._conn.execute(
            "SELECT seq, body FROM notifications WHERE org_code = ? AND seq > ? "
            "ORDER BY seq LIMIT ?",
            (org_code, after, limit),
        ).fetchall()
        return [(r[0], json.loads(r[1])) for r in rows]
