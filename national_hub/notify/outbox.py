"""The deliveries the notifier owes: which are due, and what each attempt did (SQL)."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from dataclasses import dataclass

from national_hub.notify.schema import write

# A revoked institution's deliveries wait (delivered if it is given a new key).
# Per-certificate order: a delivery waits while an earlier one of the same certificate to the
# same webhook is still owed (pending or retrying), whether it is due or backing off.
_DUE = """
SELECT d.id, d.webhook_id, w.org_code, w.url, w.secret, n.id AS notification_id, n.body, d.attempts,
       d.created_at, n.committed_at
FROM deliveries d
JOIN webhooks w ON w.id = d.webhook_id
JOIN notifications n ON n.seq = d.notification_seq
JOIN institutions i ON i.org_code = w.org_code
WHERE d.state IN ('pending', 'retrying') AND d.next_at <= ? AND i.revoked_at IS NULL
  AND NOT EXISTS (
    SELECT 1 FROM deliveries e
    WHERE e.webhook_id = d.webhook_id AND e.cert_no = d.cert_no
      AND e.notification_seq < d.notification_seq AND e.state IN ('pending', 'retrying'))
ORDER BY d.notification_seq
LIMIT ?
"""

STATES = ("pending", "retrying", "delivered", "dead", "cancelled")


@dataclass(frozen=True, slots=True)
class Due:
    """One delivery to attempt now."""

    id: int
    webhook_id: str
    org_code: str
    url: str
    secret: str
    notification_id: str
    body: bytes
    attempts: int
    # When the delivery's retry window began (its notification, or the last redelivery).
    started: float
    # When the province committed the event (delivery latency is measured from it).
    committed_at: float


class Outbox:
    """Reads and writes of deliveries; one connection, used from one thread."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def due(self, now: float, limit: int, in_flight: Collection[int]) -> list[Due]:
        """Deliveries due now in notification order, those already in flight left out."""
        rows = self._conn.execute(_DUE, (now, limit + len(in_flight))).fetchall()
        return [
            Due(
                r["id"],
                r["webhook_id"],
                r["org_code"],
                r["url"],
                r["secret"],
                r["notification_id"],
                r["body"].encode("utf-8"),
                r["attempts"],
                r["created_at"],
                r["committed_at"],
            )
            for r in rows
            if r["id"] not in in_flight
        ][:limit]

    def record(
        self,
        due: Due,
        at: float,
        status: int | None,
        error: str | None,
        duration_ms: float,
        next_at: float | None,
    ) -> str:
        """Log one attempt and set the delivery's state: delivered on a 2xx, else retrying
        until next_at, or dead when next_at is None; the state it is left in."""
        if status is not None and 200 <= status < 300:
            state = "delivered"
        else:
            state = "dead" if next_at is None else "retrying"
        with write(self._conn) as c:
            c.execute(
                "INSERT INTO delivery_attempts (delivery_id, at, status, error, duration_ms) "
                "VALUES (?, ?, ?, ?, ?)",
                (due.id, at, status, error, duration_ms),
            )
            # Only a delivery still owed changes: one cancelled (its webhook deleted) or
            # redelivered meanwhile keeps what was decided after this attempt began.
            c.execute(
                "UPDATE deliveries SET state = ?, attempts = attempts + 1, next_at = ?, "
                "last_status = ?, last_error = ?, delivered_at = ? "
                "WHERE id = ? AND state IN ('pending', 'retrying')",
                (
                    state,
                    next_at if next_at is not None else at,
                    status,
                    error,
                    at if state == "delivered" else None,
                    due.id,
                ),
            )
        return state

    def counts(self) -> dict[tuple[str, str], int]:
        """(institution, state) -> deliveries, for the metrics (no certificate named)."""
        rows = self._conn.execute(
            "SELECT w.org_code, d.state, count(*) FROM deliveries d "
            "JOIN webhooks w ON w.id = d.webhook_id GROUP BY w.org_code, d.state"
        ).fetchall()
        return {(r[0], r[1]): r[2] for r in rows}
