"""The hub's DuckDB schema: every table's DDL and the Arrow layouts the writes use."""

from __future__ import annotations

import pyarrow as pa

from national_hub.ingest.messages import RECORD_FIELDS

# `record` holds the record JSON exactly as published (it includes person_ref, which public
# responses must strip). name_norm / name_pinyin come from national_hub.ingest.names.
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


UNSHOWN_DDL = (
    RECORDS_DDL.replace("TABLE IF NOT EXISTS records", "TABLE IF NOT EXISTS unshown_records")
    .replace(
        "cert_no                VARCHAR PRIMARY KEY", "cert_no                VARCHAR NOT NULL"
    )
    .replace(
        "superseded_by_cert_no  VARCHAR\n",
        "superseded_by_cert_no  VARCHAR,\n    PRIMARY KEY (province, cert_no)\n",
    )
)

TS = pa.timestamp("us", tz="UTC")
STR_LIST = pa.list_(pa.string())

# Tables other than `records` (whose DDL is shared with the query side in tables.py).
DDL = (
    RECORDS_DDL,
    """
    CREATE TABLE IF NOT EXISTS history (
        apply_id       BIGINT NOT NULL,
        cert_no        VARCHAR NOT NULL,
        province       VARCHAR NOT NULL,
        seq            BIGINT NOT NULL,
        type           VARCHAR NOT NULL,
        record_version INTEGER NOT NULL,
        committed_at   TIMESTAMPTZ NOT NULL,
        applied_at     TIMESTAMPTZ NOT NULL,
        event_id       VARCHAR NOT NULL
    )
    """,
    # Without it a history lookup scans every event ever applied (~80 ms at 6M rows); with it
    # ~1 ms, for ~2 us more per applied event.
    "CREATE INDEX IF NOT EXISTS history_cert_no ON history (cert_no)",
    """
    CREATE TABLE IF NOT EXISTS offsets (
        topic       VARCHAR NOT NULL,
        partition   INTEGER NOT NULL,
        next_offset BIGINT NOT NULL,
        PRIMARY KEY (topic, partition)
    )
    """,
    # raw: the first KEPT_BYTES of the message (ingest.messages), raw_size and raw_sha256 of all
    # of it. authenticated: signed by the key of the topic's province; province is NULL otherwise.
    """
    CREATE TABLE IF NOT EXISTS dead_letters (
        topic         VARCHAR NOT NULL,
        partition     INTEGER NOT NULL,
        "offset"      BIGINT NOT NULL,
        key           VARCHAR,
        reason        VARCHAR NOT NULL,
        raw           BLOB NOT NULL,
        received_at   TIMESTAMPTZ NOT NULL,
        province      VARCHAR,
        authenticated BOOLEAN NOT NULL,
        seq           BIGINT,
        raw_size      BIGINT NOT NULL,
        raw_sha256    VARCHAR NOT NULL,
        PRIMARY KEY (topic, partition, "offset")
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS progress (
        province    VARCHAR PRIMARY KEY,
        applied_seq BIGINT NOT NULL,
        max_seq     BIGINT NOT NULL,
        updated_at  TIMESTAMPTZ NOT NULL
    )
    """,
    # Seqs applied above the contiguous frontier, waiting for the gap below them to fill.
    """
    CREATE TABLE IF NOT EXISTS progress_pending (
        province VARCHAR NOT NULL,
        seq      BIGINT NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS heartbeats (
        province              VARCHAR PRIMARY KEY,
        committed_seq         BIGINT NOT NULL,
        published_seq         BIGINT NOT NULL,
        outbox_backlog        BIGINT NOT NULL,
        oldest_unpublished_at TIMESTAMPTZ,
        sent_at               TIMESTAMPTZ NOT NULL,
        received_at           TIMESTAMPTZ NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS applied_counts (
        province VARCHAR NOT NULL,
        type     VARCHAR NOT NULL,
        n        BIGINT NOT NULL,
        PRIMARY KEY (province, type)
    )
    """,
    # Seqs the hub processed but refused (cert_conflict): they count towards the frontier, yet a
    # sync token naming one must not read as applied.
    """
    CREATE TABLE IF NOT EXISTS rejected_seqs (
        province  VARCHAR NOT NULL,
        seq       BIGINT NOT NULL,
        reason    VARCHAR NOT NULL,
        topic     VARCHAR NOT NULL,
        partition INTEGER NOT NULL,
        "offset"  BIGINT NOT NULL,
        PRIMARY KEY (province, seq)
    )
    """,
    # old (province, cert_no) -> new one, from each transfer-in, whichever record came first.
    # confirmed: the old record is transferred_out to the new province (store.decide). A
    # record may be claimed more than once; each claim is a row of its own.
    """
    CREATE TABLE IF NOT EXISTS transfer_links (
        old_province VARCHAR NOT NULL,
        old_cert_no  VARCHAR NOT NULL,
        new_province VARCHAR NOT NULL,
        new_cert_no  VARCHAR NOT NULL,
        linked_at    TIMESTAMPTZ NOT NULL,
        confirmed    BOOLEAN NOT NULL,
        PRIMARY KEY (old_province, old_cert_no, new_province, new_cert_no)
    )
    """,
    "CREATE INDEX IF NOT EXISTS transfer_links_new ON transfer_links (new_cert_no)",
    # The records of a certificate code the hub does not show: a transfer-in keeping the code
    # that the old province has not released, or the old province's record once it has.
    UNSHOWN_DDL,
)

# The layout of the tables above; a file written with another is rebuilt from the topics.
SCHEMA_VERSION = 3
META_DDL = "CREATE TABLE IF NOT EXISTS store_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)"

TABLES = (
    "records",
    "history",
    "offsets",
    "dead_letters",
    "progress",
    "progress_pending",
    "heartbeats",
    "applied_counts",
    "transfer_links",
    "unshown_records",
    "rejected_seqs",
)

# The records table's columns in order: the decoded fields sit between the envelope and the
# JSON, so the batch's Arrow columns line up with RECORDS_DDL.
RECORD_COLUMNS = (
    "cert_no",
    "province",
    "record_version",
    "seq",
    *RECORD_FIELDS,
    "record",
    "committed_at",
    "synced_at",
    "superseded_by_province",
    "superseded_by_cert_no",
)
RECORD_SCHEMA = pa.schema(
    [
        ("cert_no", pa.string()),
        ("province", pa.string()),
        ("record_version", pa.int32()),
        ("seq", pa.int64()),
        ("status", pa.string()),
        ("name", pa.string()),
        ("name_norm", pa.string()),
        ("name_pinyin", pa.string()),
        ("gender", pa.string()),
        ("level", pa.string()),
        ("category", pa.string()),
        ("scopes", STR_LIST),
        ("org_code", pa.string()),
        ("institution_name", pa.string()),
        ("region_code", pa.string()),
        ("site_org_codes", STR_LIST),
        ("person_ref", pa.string()),
        ("record", pa.string()),
        ("committed_at", TS),
        ("synced_at", TS),
        ("superseded_by_province", pa.string()),
        ("superseded_by_cert_no", pa.string()),
    ]
)
HISTORY_SCHEMA = pa.schema(
    [
        ("apply_id", pa.int64()),
        ("cert_no", pa.string()),
        ("province", pa.string()),
        ("seq", pa.int64()),
        ("type", pa.string()),
        ("record_version", pa.int32()),
        ("committed_at", TS),
        ("applied_at", TS),
        ("event_id", pa.string()),
    ]
)
