"""The serving index's SQLite schema: tables, the B-tree indexes every search uses, triggers.

One SQLite file, written by one thread, read by a connection per reader thread (WAL: readers
never wait for the writer, and each read transaction sees one committed state).

`records` holds the shown records, one row per certificate, with the columns searches filter
on and the record JSON as published (the last column: a rowid table keeps a ~1.5 KB row in
its page, where a WITHOUT ROWID table would spill it to an overflow page). Every secondary
index ends with cert_no, so an equality on its leading columns yields rows in cert_no order
(the order of a search's rank class, national_hub.query.search), and a cursor
`cert_no > ?` continues inside the same index range.

`sites` (one row per filed practice site) and `institutions` (shown records per
(institution_name, org_code): the few distinct institutions, with their counts) are derived
from `records` by triggers, so they can never disagree with it; `institution_fts` (FTS5,
trigram) finds the institution names containing a partial name of three characters or more.
"""

from __future__ import annotations

# The layout below; a file written with another is emptied and refilled from the topics.
SCHEMA_VERSION = 1

META_DDL = "CREATE TABLE IF NOT EXISTS index_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"

# Columns of a shown record, in table order (records and unshown share them).
RECORD_COLUMNS = (
    "cert_no",
    "province",
    "record_version",
    "seq",
    "status",
    "name_norm",
    "name_pinyin",
    "category",
    "scopes",  # JSON array text, e.g. ["内科专业","外科专业"]
    "org_code",
    "institution_name",
    "sites",  # JSON array text of the practice sites' credit codes
    "to_province",  # transfer.to_province of a transferred_out record (store.decide)
    "synced_at_ms",
    "superseded_by_province",
    "superseded_by_cert_no",
    "record",
)

_RECORD_BODY = """
    province               TEXT NOT NULL,
    record_version         INTEGER NOT NULL,
    seq                    INTEGER NOT NULL,
    status                 TEXT NOT NULL,
    name_norm              TEXT NOT NULL,
    name_pinyin            TEXT NOT NULL,
    category               TEXT NOT NULL,
    scopes                 TEXT NOT NULL,
    org_code               TEXT NOT NULL,
    institution_name       TEXT NOT NULL,
    sites                  TEXT NOT NULL,
    to_province            TEXT,
    synced_at_ms           INTEGER NOT NULL,
    superseded_by_province TEXT,
    superseded_by_cert_no  TEXT,
    record                 TEXT NOT NULL
"""

DDL = (
    f"""
    CREATE TABLE IF NOT EXISTS records (
        id      INTEGER PRIMARY KEY,
        cert_no TEXT NOT NULL UNIQUE,
        {_RECORD_BODY}
    )
    """,
    # Exact name (Chinese), and with a province: one range each, in cert_no order.
    "CREATE INDEX IF NOT EXISTS records_name ON records (name_norm, cert_no)",
    "CREATE INDEX IF NOT EXISTS records_name_province ON records (name_norm, province, cert_no)",
    # Toneless pinyin: the whole key is an equality range; a prefix is `>= key AND < next`.
    "CREATE INDEX IF NOT EXISTS records_pinyin ON records (name_pinyin, cert_no)",
    "CREATE INDEX IF NOT EXISTS records_pinyin_province"
    " ON records (name_pinyin, province, cert_no)",
    # Institution by credit code (primary) and by full name.
    "CREATE INDEX IF NOT EXISTS records_org ON records (org_code, cert_no)",
    "CREATE INDEX IF NOT EXISTS records_institution ON records (institution_name, cert_no)",
    # Filed practice sites: the roster's second rank, and sites of the codes a name stands for.
    """
    CREATE TABLE IF NOT EXISTS sites (
        org_code TEXT NOT NULL,
        cert_no  TEXT NOT NULL,
        PRIMARY KEY (org_code, cert_no)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX IF NOT EXISTS sites_cert ON sites (cert_no)",
    # Distinct (name, code) pairs of the shown records' primary institutions, with how many.
    """
    CREATE TABLE IF NOT EXISTS institutions (
        id               INTEGER PRIMARY KEY,
        institution_name TEXT NOT NULL,
        org_code         TEXT NOT NULL,
        n                INTEGER NOT NULL,
        UNIQUE (institution_name, org_code)
    )
    """,
    # Substrings of institution names (three characters or more), case-sensitive like
    # DuckDB's contains(); rowid = institutions.id.
    "CREATE VIRTUAL TABLE IF NOT EXISTS institution_fts"
    " USING fts5(institution_name, tokenize='trigram case_sensitive 1')",
    # The records of a certificate code the hub does not show (store.decide: a transfer
    # keeping the code that the old province has not released, or the released record).
    f"""
    CREATE TABLE IF NOT EXISTS unshown (
        cert_no TEXT NOT NULL,
        {_RECORD_BODY},
        PRIMARY KEY (cert_no, province)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS transfer_links (
        old_province TEXT NOT NULL,
        old_cert_no  TEXT NOT NULL,
        new_province TEXT NOT NULL,
        new_cert_no  TEXT NOT NULL,
        confirmed    INTEGER NOT NULL,
        PRIMARY KEY (old_province, old_cert_no, new_province, new_cert_no)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX IF NOT EXISTS transfer_links_old ON transfer_links (old_cert_no)",
    "CREATE INDEX IF NOT EXISTS transfer_links_new ON transfer_links (new_cert_no)",
    # The index's own position in the log, written in the same transaction as what it applied.
    """
    CREATE TABLE IF NOT EXISTS offsets (
        topic       TEXT NOT NULL,
        partition   INTEGER NOT NULL,
        next_offset INTEGER NOT NULL,
        PRIMARY KEY (topic, partition)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS progress (
        province    TEXT PRIMARY KEY,
        applied_seq INTEGER NOT NULL,
        max_seq     INTEGER NOT NULL
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS progress_pending (
        province TEXT NOT NULL,
        seq      INTEGER NOT NULL,
        PRIMARY KEY (province, seq)
    ) WITHOUT ROWID
    """,
    # Seqs processed but refused (cert_conflict): counted by the frontier, never "applied".
    """
    CREATE TABLE IF NOT EXISTS rejected_seqs (
        province TEXT NOT NULL,
        seq      INTEGER NOT NULL,
        PRIMARY KEY (province, seq)
    ) WITHOUT ROWID
    """,
    # Derived tables follow records, in the same statement's transaction.
    """
    CREATE TRIGGER IF NOT EXISTS records_insert AFTER INSERT ON records BEGIN
        INSERT INTO institutions (institution_name, org_code, n)
            VALUES (new.institution_name, new.org_code, 1)
            ON CONFLICT (institution_name, org_code) DO UPDATE SET n = n + 1;
        INSERT OR IGNORE INTO sites (org_code, cert_no)
            SELECT value, new.cert_no FROM json_each(new.sites);
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS records_delete AFTER DELETE ON records BEGIN
        UPDATE institutions SET n = n - 1
            WHERE institution_name = old.institution_name AND org_code = old.org_code;
        DELETE FROM institutions
            WHERE institution_name = old.institution_name AND org_code = old.org_code
            AND n <= 0;
        DELETE FROM sites WHERE cert_no = old.cert_no;
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS records_institution AFTER UPDATE OF institution_name, org_code
    ON records
    WHEN old.institution_name IS NOT new.institution_name OR old.org_code IS NOT new.org_code
    BEGIN
        UPDATE institutions SET n = n - 1
            WHERE institution_name = old.institution_name AND org_code = old.org_code;
        DELETE FROM institutions
            WHERE institution_name = old.institution_name AND org_code = old.org_code
            AND n <= 0;
        INSERT INTO institutions (institution_name, org_code, n)
            VALUES (new.institution_name, new.org_code, 1)
            ON CONFLICT (institution_name, org_code) DO UPDATE SET n = n + 1;
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS records_sites AFTER UPDATE OF sites ON records
    WHEN old.sites IS NOT new.sites
    BEGIN
        DELETE FROM sites WHERE cert_no = old.cert_no;
        INSERT OR IGNORE INTO sites (org_code, cert_no)
            SELECT value, new.cert_no FROM json_each(new.sites);
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS institutions_insert AFTER INSERT ON institutions BEGIN
        INSERT INTO institution_fts (rowid, institution_name)
            VALUES (new.id, new.institution_name);
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS institutions_delete AFTER DELETE ON institutions BEGIN
        DELETE FROM institution_fts WHERE rowid = old.id;
    END
    """,
)

# Dropped (in this order) when the layout changes or the index is rebuilt.
TABLES = (
    "records",
    "sites",
    "institutions",
    "institution_fts",
    "unshown",
    "transfer_links",
    "offsets",
    "progress",
    "progress_pending",
    "rejected_seqs",
)
