"""Idempotency-Key handling: the first answer to a key is stored with the write it made."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import orjson

from province_node.errors import BadRequest, InvalidRequest, NodeError
from schemas.timestamps import format_utc

SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency (
    client      TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    status      INTEGER NOT NULL,
    body        BLOB    NOT NULL,
    headers     TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    PRIMARY KEY (client, key)
);
CREATE INDEX IF NOT EXISTS idempotency_age ON idempotency (created_at);
"""

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# Long enough for any client retry loop; short enough that the table stays small.
RETENTION_HOURS = 24

T = TypeVar("T")


@dataclass(frozen=True)
class StoredResponse:
    """An HTTP answer as bytes, replayable exactly."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_error(cls, exc: NodeError) -> StoredResponse:
        """The same answer the error middleware would give."""
        return cls(exc.status, orjson.dumps(exc.body()), dict(exc.headers))


@dataclass(frozen=True)
class Claim:
    """A write made under an Idempotency-Key: which client (token), which key, which request."""

    # The sha256 of the bearer token: two registrars may pick the same key independently.
    client: str
    key: str
    fingerprint: str


def parse_key(value: str | None) -> str | None:
    """The header's key, or None when absent; 400 for one no client could mean."""
    if value is None:
        return None
    if not 0 < len(value) <= MAX_KEY_LENGTH or not value.isascii() or not value.isprintable():
        raise BadRequest(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters",
            [{"field": HEADER, "message": "malformed"}],
        )
    return value


def fingerprint(method: str, path: str, body: Any) -> str:
    """Identify a request by what it asks, ignoring JSON key order and whitespace."""
    digest = hashlib.sha256(f"{method} {path}\n".encode())
    digest.update(orjson.dumps(body, option=orjson.OPT_SORT_KEYS))
    return digest.hexdigest()


def lookup(conn: sqlite3.Connection, client: str, key: str) -> tuple[str, StoredResponse] | None:
    """The stored fingerprint and answer for a key, if any."""
    row = conn.execute(
        "SELECT fingerprint, status, body, headers FROM idempotency WHERE client = ? AND key = ?",
        (client, key),
    ).fetchone()
    if row is None:
        return None
    return row[0], StoredResponse(int(row[1]), bytes(row[2]), orjson.loads(row[3]))


def store(conn: sqlite3.Connection, claim: Claim, response: StoredResponse, now: datetime) -> None:
    """Remember the answer; runs inside the write's own transaction."""
    conn.execute(
        "INSERT INTO idempotency (client, key, fingerprint, status, body, headers, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            claim.client,
            claim.key,
            claim.fingerprint,
            response.status,
            response.body,
            orjson.dumps(response.headers).decode(),
            format_utc(now),
        ),
    )


def purge(conn: sqlite3.Connection, before: datetime) -> int:
    """Forget keys older than before; returns how many."""
    cur = conn.execute("DELETE FROM idempotency WHERE created_at < ?", (format_utc(before),))
    return cur.rowcount


def run(
    conn: sqlite3.Connection,
    claim: Claim | None,
    now: datetime,
    op: Callable[[], T],
    render: Callable[[T], StoredResponse],
) -> tuple[StoredResponse, bool]:
    """Run a write once per key; the flag tells whether the answer is a stored replay."""
    if claim is None:
        return render(op()), False
    found = lookup(conn, claim.client, claim.key)
    if found is not None:
        stored_fingerprint, response = found
        if stored_fingerprint != claim.fingerprint:
            raise InvalidRequest(
                f"{HEADER} {claim.key!r} was already used for a different request",
                [{"field": HEADER, "message": "already used for a different request"}],
            )
        return response, True
    try:
        response = render(op())
    except NodeError as exc:
        # The first answer is the answer, refusals included: a retried 409 stays a 409 even if
        # the record has moved on since. The step raises before it writes anything, so nothing
        # of a refused step is left in the transaction.
        response = StoredResponse.from_error(exc)
    store(conn, claim, response, now)
    return response, False
