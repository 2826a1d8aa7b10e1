"""The console's reads of the registry that the API has no use for (the registry module holds
the API's): a registration by ID number, and one registration's local history from the outbox.
Each runs on a reader thread (Registry.read) and uses an index: registrations_by_id_number,
outbox_by_cert."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from province_node.registration_reads import stored_row
from province_node.registry import StoredRecord

# At most this many registrations of one ID number are listed (a person holds one per province;
# the others are cancelled or transferred-out ones of earlier years).
MAX_BY_ID_NUMBER = 50


def by_id_number(conn: sqlite3.Connection, id_number: str) -> list[StoredRecord]:
    """The registrations of one ID number, by cert_no."""
    rows = conn.execute(
        "SELECT cert_no, id_number, record_version, latest_seq, record FROM registrations"
        " WHERE id_number = ? ORDER BY cert_no LIMIT ?",
        (id_number, MAX_BY_ID_NUMBER),
    ).fetchall()
    return [stored_row(row) for row in rows]


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One committed event of a registration, as the outbox keeps it."""

    seq: int
    type: str
    record_version: int
    committed_at: str
    published_at: str | None


def history(conn: sqlite3.Connection, cert_no: str) -> list[HistoryEntry]:
    """A registration's events here, newest first."""
    rows = conn.execute(
        "SELECT seq, type, record_version, committed_at, published_at FROM outbox"
        " WHERE cert_no = ? ORDER BY seq DESC",
        (cert_no,),
    ).fetchall()
    return [HistoryEntry(int(r[0]), str(r[1]), int(r[2]), str(r[3]), r[4]) for r in rows]
