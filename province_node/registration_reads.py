"""Reads of the registrations table (on the registry's reader threads): one registration, the
local search, and the row form every read returns. The registry's writes stay in registry.py."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from province_node.registry import StoredRecord


def get_record(conn: sqlite3.Connection, cert_no: str) -> StoredRecord | None:
    """One registration as stored."""
    row = conn.execute(
        "SELECT cert_no, id_number, record_version, latest_seq, record FROM registrations"
        " WHERE cert_no = ?",
        (cert_no,),
    ).fetchone()
    return None if row is None else stored_row(row)


def search(
    conn: sqlite3.Connection,
    *,
    name: str | None,
    institution: str | None,
    status: str | None,
    after: str | None,
    limit: int,
) -> list[StoredRecord]:
    """Registrations matching every given filter, by cert_no, after the cursor."""
    where: list[str] = []
    params: list[Any] = []
    if after is not None:
        where.append("cert_no > ?")
        params.append(after)
    if name:
        # A prefix range on the name index covers both exact and prefix matches.
        where.append("name >= ? AND name < ?")
        params += [name, name + "\U0010ffff"]
    if institution:
        where.append("orgs LIKE ? ESCAPE '\\'")
        params.append(f"%{_like_escape(institution)}%")
    if status:
        where.append("status = ?")
        params.append(status)
    sql = "SELECT cert_no, id_number, record_version, latest_seq, record FROM registrations"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY cert_no LIMIT ?"
    params.append(limit)
    return [stored_row(row) for row in conn.execute(sql, params).fetchall()]


def stored_row(row: tuple[Any, ...]) -> StoredRecord:
    """A StoredRecord from a row of (cert_no, id_number, record_version, latest_seq, record)."""
    return StoredRecord(row[0], row[1], int(row[2]), int(row[3]), orjson.loads(row[4]))


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
