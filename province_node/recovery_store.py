"""The registry's SQL for backup, the restore check and recover (beside registry.py's own).

Kept apart from the write path: these run at start, from the command line, or on a copy.
"""

from __future__ import annotations

import sqlite3

from province_node.registry import MISSING_ID_NUMBER

# Set in a backup copy: a registry restored from it must check its topic before it serves.
RESTORED_FROM_BACKUP = "restored_from_backup"


def id_number_of(conn: sqlite3.Connection, cert_no: str) -> str | None:
    """The stored ID number of a registration, or None if it is not here."""
    row = conn.execute(
        "SELECT id_number FROM registrations WHERE cert_no = ?", (cert_no,)
    ).fetchone()
    return None if row is None else str(row[0])


def missing_id_numbers(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """(cert_no, name) of every registration whose ID number awaits re-entry."""
    rows = conn.execute(
        "SELECT cert_no, name FROM registrations WHERE id_number = ? ORDER BY cert_no",
        (MISSING_ID_NUMBER,),
    ).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def meta_get(conn: sqlite3.Connection, key: str) -> str | None:
    """One value of the meta table, or None."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def meta_set(conn: sqlite3.Connection, key: str, value: str) -> None:
    """Set one value of the meta table."""
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def meta_delete(conn: sqlite3.Connection, key: str) -> None:
    """Remove one key of the meta table."""
    conn.execute("DELETE FROM meta WHERE key = ?", (key,))


def count_rows(conn: sqlite3.Connection) -> dict[str, int]:
    """Rows per table, to compare a backup with what it was taken from."""
    return {
        table: int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        for table in ("registrations", "outbox", "idempotency", "meta")
    }


def awaiting_person_ref(conn: sqlite3.Connection, cert_no: str) -> str | None:
    """The person_ref of a registration whose ID number awaits re-entry, else None."""
    row = conn.execute(
        "SELECT json_extract(record, '$.person_ref') FROM registrations"
        " WHERE cert_no = ? AND id_number = ?",
        (cert_no, MISSING_ID_NUMBER),
    ).fetchone()
    return None if row is None else str(row[0])


def set_id_number(conn: sqlite3.Connection, cert_no: str, id_number: str) -> None:
    """Fill in a re-entered ID number."""
    conn.execute(
        "UPDATE registrations SET id_number = ? WHERE cert_no = ? AND id_number = ?",
        (id_number, cert_no, MISSING_ID_NUMBER),
    )
