"""`province-node reenter`: fill in the ID numbers that recover could not bring back.

Each recovered registration still carries its person_ref, the keyed hash of its ID number, so
a re-entered ID number is accepted only when it hashes to that very person_ref: a typo or the
wrong person's number is refused by row, never stored.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from province_node import recovery_store
from province_node.errors import ImportFileError
from province_node.registry import connect
from schemas.person_ref import person_ref
from schemas.record import IdNumber

_ID_NUMBER: TypeAdapter[str] = TypeAdapter(IdNumber)


@dataclass
class ReentrySummary:
    """Rows entered, and refused rows with the reason (line number, cert_no, why)."""

    entered: int = 0
    refused: list[tuple[int, str, str]] = field(default_factory=list)
    still_missing: int = 0


def check_row(awaiting: str | None, secret: bytes, id_number: str) -> tuple[str | None, str]:
    """(the normalised ID number or None, why not); pure."""
    if awaiting is None:
        return None, "not awaiting re-entry (unknown cert_no, or its ID number is already there)"
    try:
        value = _ID_NUMBER.validate_python(id_number)
    except ValidationError as exc:
        return None, exc.errors()[0]["msg"]
    if person_ref(secret, value) != awaiting:
        return None, "this ID number is not the one the registration was made with"
    return value, ""


def reenter(db_path: Path, secret: bytes, path: Path) -> ReentrySummary:
    """Apply a CSV with columns cert_no,id_number (other columns are ignored)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ImportFileError(f"{path}: {exc.strerror}") from None
    rows = list(csv.DictReader(text.splitlines()))
    if rows and not {"cert_no", "id_number"} <= set(rows[0]):
        raise ImportFileError(f"{path}: needs the columns cert_no and id_number")
    summary = ReentrySummary()
    conn = connect(db_path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        for line, row in enumerate(rows, start=2):
            cert_no = (row.get("cert_no") or "").strip()
            awaiting = recovery_store.awaiting_person_ref(conn, cert_no)
            value, why = check_row(awaiting, secret, (row.get("id_number") or "").strip())
            if value is None:
                summary.refused.append((line, cert_no, why))
                continue
            recovery_store.set_id_number(conn, cert_no, value)
            summary.entered += 1
        conn.execute("COMMIT")
        summary.still_missing = len(recovery_store.missing_id_numbers(conn))
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()
    return summary
