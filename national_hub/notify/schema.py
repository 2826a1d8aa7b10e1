"""The notify store: one SQLite file every hub process and the notifier share (WAL)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# How long a writer waits for another process's write transaction before giving up; the
# notifier's transactions are a batch of a few thousand rows (well under a second).
BUSY_TIMEOUT_S = 10.0

DDL = """
CREATE TABLE IF NOT EXISTS institutions (
    org_code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    key_sha256 TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    revoked_at REAL
);
CREATE TABLE IF NOT EXISTS watch_certs (
    org_code TEXT NOT NULL,
    cert_no TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (org_code, cert_no)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS watch_certs_by_cert ON watch_certs (cert_no, org_code);
CREATE TABLE IF NOT EXISTS roster (
    org_code TEXT PRIMARY KEY,
    enabled_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS webhooks (
    id TEXT PRIMARY KEY,
    org_code TEXT NOT NULL,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at REAL NOT NULL,
    deleted_at REAL
);
CREATE INDEX IF NOT EXISTS webhooks_by_org ON webhooks (org_code);
CREATE TABLE IF NOT EXISTS placements (
    cert_no TEXT PRIMARY KEY,
    province TEXT NOT NULL,
    version INTEGER NOT NULL,
    orgs TEXT NOT NULL,
    -- For the assessment reminders: the record's status, next_assessment_due, the record as
    -- published (no person_ref) and the event it is from; the due dates already reminded of.
    status TEXT NOT NULL,
    due TEXT,
    record TEXT NOT NULL,
    event_id TEXT NOT NULL,
    soon_for TEXT,
    lapsed_for TEXT
);
CREATE INDEX IF NOT EXISTS placements_by_due ON placements (due) WHERE due IS NOT NULL;
CREATE TABLE IF NOT EXISTS notifications (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    org_code TEXT NOT NULL,
    cert_no TEXT NOT NULL,
    body TEXT NOT NULL,
    committed_at REAL NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS notifications_by_org ON notifications (org_code, seq);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id TEXT NOT NULL,
    notification_seq INTEGER NOT NULL,
    cert_no TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    created_at REAL NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    delivered_at REAL,
    UNIQUE (webhook_id, notification_seq)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_at);
CREATE INDEX IF NOT EXISTS deliveries_in_order
    ON deliveries (webhook_id, cert_no, notification_seq);
CREATE TABLE IF NOT EXISTS delivery_attempts (
    delivery_id INTEGER NOT NULL,
    at REAL NOT NULL,
    status INTEGER,
    error TEXT,
    duration_ms REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_by_delivery ON delivery_attempts (delivery_id, at);
CREATE TABLE IF NOT EXISTS offsets (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
);
CREATE TABLE IF NOT EXISTS lease (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    expires_at REAL NOT NULL
);
"""


def connect(path: Path) -> sqlite3.Connection:
    """A connection with the tables made; transactions are explicit (BEGIN IMMEDIATE).

    synchronous=FULL: enrolments, keys and webhooks exist nowhere else, so a commit must
    survive a power loss, not only a crash of the process.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.executescript(DDL)
    return conn


@contextmanager
def write(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction, taken at once (BEGIN IMMEDIATE) so it never fails to upgrade."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
