"""After a key rotation the node signs again what the old key signed and the relay has not
sent: the relay names the node's current key, so each event must carry that key's signature."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from province_node import outbox
from province_node.registry import connect
from schemas.signing import Signer, generate_keypair

OLD = Signer.load(generate_keypair()[0])
NEW = Signer.load(generate_keypair()[0])


@pytest.fixture
def conn(tmp_path: Path) -> sqlite3.Connection:
    """An outbox holding seq 1 (published) and seq 2 (not yet), both signed by OLD."""
    c = connect(tmp_path / "outbox.sqlite")
    c.executescript(outbox.SCHEMA)
    for seq in (1, 2):
        value = f'{{"seq":{seq}}}'.encode()
        outbox.append(
            c,
            seq=seq,
            event_id=f"e{seq}",
            cert_no="500000000000001",
            type="registered",
            record_version=seq,
            value=value,
            sig=OLD.sign(value),
            committed_at="2026-12-05T12:00:00.000Z",
        )
    published = outbox.Published(seq=1, partition=0, offset=0, published_at=datetime.now(UTC))
    outbox.mark_published(c, [published])
    return c


def signed_by(conn: sqlite3.Connection, signer: Signer) -> list[int]:
    rows = conn.execute("SELECT seq, value, sig FROM outbox ORDER BY seq").fetchall()
    return [seq for seq, value, sig in rows if signer.verifier().verify(value, sig)]


def test_unpublished_event_is_signed_by_the_new_key(conn: sqlite3.Connection) -> None:
    assert (outbox.resign_unpublished(conn, NEW), signed_by(conn, NEW)) == (1, [2])


def test_published_event_keeps_the_signature_it_was_sent_with(conn: sqlite3.Connection) -> None:
    outbox.resign_unpublished(conn, NEW)
    assert signed_by(conn, OLD) == [1]


def test_nothing_to_do_with_the_same_key(conn: sqlite3.Connection) -> None:
    assert outbox.resign_unpublished(conn, OLD) == 0
