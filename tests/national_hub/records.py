"""Rows of the hub's records table written the way ingest writes them, for query tests."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb

from national_hub.ingest.names import normalise_name, pinyin_key
from schemas.canonical import canonical_bytes
from schemas.record import Record

COMMITTED_AT = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)


def insert_record(
    con: duckdb.DuckDBPyConnection,
    province: str,
    record: Record,
    *,
    version: int = 1,
    synced_at: datetime = datetime(2026, 11, 22, 4, 0, 1, tzinfo=UTC),
) -> None:
    """Insert a record with name keys from names.py and the JSON as published."""
    con.execute(
        "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "NULL, NULL)",
        [
            record.cert_no,
            province,
            version,
            version,
            record.status.value,
            record.name,
            normalise_name(record.name),
            pinyin_key(record.name),
            record.gender.value,
            record.level.value,
            record.category.value,
            list(record.scopes),
            record.primary_institution.org_code,
            record.primary_institution.name,
            record.primary_institution.region_code,
            [s.org_code for s in record.practice_sites],
            record.person_ref,
            canonical_bytes(record).decode(),
            COMMITTED_AT,
            synced_at,
        ],
    )
