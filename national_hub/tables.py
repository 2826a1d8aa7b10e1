"""DuckDB table of national records: the one definition ingest writes and queries read."""

from __future__ import annotations

# `record` holds the record JSON exactly as published (it includes person_ref, which public
# responses must strip). name_norm / name_pinyin come from national_hub.names.
RECORDS_DDL = """
CREATE TABLE IF NOT EXISTS records (
    cert_no                VARCHAR PRIMARY KEY,
    province               VARCHAR NOT NULL,
    record_version         INTEGER NOT NULL,
    seq                    BIGINT NOT NULL,
    status                 VARCHAR NOT NULL,
    name                   VARCHAR NOT NULL,
    name_norm              VARCHAR NOT NULL,
    name_pinyin            VARCHAR NOT NULL,
    gender                 VARCHAR NOT NULL,
    level                  VARCHAR NOT NULL,
    category               VARCHAR NOT NULL,
    scopes                 VARCHAR[] NOT NULL,
    org_code               VARCHAR NOT NULL,
    institution_name       VARCHAR NOT NULL,
    region_code            VARCHAR NOT NULL,
    site_org_codes         VARCHAR[] NOT NULL,
    person_ref             VARCHAR NOT NULL,
    record                 VARCHAR NOT NULL,
    committed_at           TIMESTAMPTZ NOT NULL,
    synced_at              TIMESTAMPTZ NOT NULL,
    superseded_by_province VARCHAR,
    superseded_by_cert_no  VARCHAR
)
"""
