"""The transactional outbox: events committed with the record change, shipped later by the relay.

Invariant the relay and the status figures rely on: rows are marked published in seq order, so
the published rows are always the prefix 1..published_seq.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from schemas.signing import Signer
from schemas.timestamps import format_utc

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq            INTEGER PRIMARY KEY,
    event_id       TEXT    NOT NULL,
    cert_no        TEXT    NOT NULL,
    type           TEXT    NOT NULL,
    record_version INTEGER NOT NULL,
    value          BLOB    NOT NULL,
    sig            BLOB    NOT NULL,
    committed_at   TEXT    NOT NULL,
    published_at   TEXT,
    partition      INTEGER,
    "offset"       INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_by_cert ON outbox (cert_no, seq);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;
"""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One committed event as the relay ships it: exact signed bytes, nothing to recompute."""

    seq: int
    cert_no: str
    value: bytes
    sig: bytes


@dataclass(frozen=True, slots=True)
class Published:
    """Where Kafka stored one event."""

    seq: int
    partition: int
    offset: int
    published_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """Committed and published positions, from the database."""

    committed_seq: int
    published_seq: int
    oldest_unpublished_at: str | None


@dataclass(frozen=True, slots=True)
class LatestEvent:
    """The newest event of one certificate and whether it reached Kafka."""

    seq: int
    record_version: int
    committed_at: str
    published_at: str | None
    partition: int | None
    offset: int | None


def append(
    conn: sqlite3.Connection,
    *,
    seq: int,
    event_id: str,
    cert_no: str,
    type: str,
    record_version: int,
    value: bytes,
    sig: bytes,
    committed_at: str,
) -> None:
    """Insert one event; the caller's transaction also holds the record change."""
    conn.execute(
        "INSERT INTO outbox (seq, event_id, cert_no, type, record_version, value, sig,"
        " committed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (seq, event_id, cert_no, type, record_version, value, sig, committed_at),
    )


def resign_unpublished(conn: sqlite3.Connection, signer: Signer) -> int:
    """Sign again, with signer, every unpublished event its key did not sign; how many.

    The relay sends every event with its own key's kid; after a key rotation the events
    committed under the old key and not yet published would reach the hub naming the new key
    over the old key's signature (bad_signature). The bytes are unchanged, only signed anew.
    """
    verifier = signer.verifier()
    rows = conn.execute("SELECT seq, value, sig FROM outbox WHERE published_at IS NULL").fetchall()
    stale = [(signer.sign(v), seq) for seq, v, sig in rows if not verifier.verify(v, sig)]
    if stale:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("UPDATE outbox SET sig = ? WHERE seq = ?", stale)
        conn.execute("COMMIT")
    return len(stale)


def last_seq(conn: sqlite3.Connection) -> int:
    """The highest committed seq, 0 for an empty outbox."""
    row = conn.execute("SELECT MAX(seq) FROM outbox").fetchone()
    return int(row[0] or 0)


def read_after(conn: sqlite3.Connection, after: int, limit: int) -> list[OutboxRow]:
    """Events with seq > after, oldest first, at most limit of them."""
    rows = conn.execute(
        "SELECT seq, cert_no, value, sig FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
        (after, limit),
    ).fetchall()
    return [OutboxRow(r[0], r[1], bytes(r[2]), bytes(r[3])) for r in rows]


def mark_published(conn: sqlite3.Connection, published: Iterable[Published]) -> None:
    """Record partition, offset and time for events Kafka acknowledged."""
    conn.executemany(
        'UPDATE outbox SET published_at = ?, partition = ?, "offset" = ? WHERE seq = ?',
        [(format_utc(p.published_at), p.partition, p.offset, p.seq) for p in published],
    )


def published_seq(conn: sqlite3.Connection) -> int:
    """The end of the published prefix: every seq up to it has been acknowledged by Kafka."""
    row = conn.execute("SELECT MIN(seq) FROM outbox WHERE published_at IS NULL").fetchone()
    if row[0] is not None:
        return int(row[0]) - 1
    return last_seq(conn)


def committed_at(conn: sqlite3.Connection, seq: int) -> str | None:
    """When the event with this seq committed, or None if there is no such event."""
    row = conn.execute("SELECT committed_at FROM outbox WHERE seq = ?", (seq,)).fetchone()
    return None if row is None else str(row[0])


def stats(conn: sqlite3.Connection, published: int | None = None) -> OutboxStats:
    """Committed and published positions; published overrides the database's marks if newer."""
    committed = last_seq(conn)
    marked = published_seq(conn)
    done = max(marked, published or 0)
    oldest = committed_at(conn, done + 1) if committed > done else None
    return OutboxStats(committed, done, oldest)


def latest_for(conn: sqlite3.Connection, cert_no: str) -> LatestEvent | None:
    """The newest event of one certificate."""
    row = conn.execute(
        'SELECT seq, record_version, committed_at, published_at, partition, "offset"'
        " FROM outbox WHERE cert_no = ? ORDER BY seq DESC LIMIT 1",
        (cert_no,),
    ).fetchone()
    return None if row is None else LatestEvent(*row)


def event_ids(conn: sqlite3.Connection, first: int, last: int) -> dict[int, tuple[str, bool]]:
    """seq → (event_id, published) for the events first..last."""
    rows = conn.execute(
        "SELECT seq, event_id, published_at IS NOT NULL FROM outbox WHERE seq BETWEEN ? AND ?",
        (first, last),
    ).fetchall()
    return {int(r[0]): (str(r[1]), bool(r[2])) for r in rows}
