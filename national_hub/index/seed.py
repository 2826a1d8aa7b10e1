"""Filling a new serving index from a snapshot of the DuckDB store, instead of replaying the log.

A hub upgraded to the index, or whose index file was deleted or had another layout, starts
with a populated store and an empty index; reads served from it would find nobody until a
full replay of the topics. `seed` copies what the store holds (`SeedSource`, which
national_hub.store.export.ServingExport is) and the offsets it holds it at, so ingest then
resumes both sinks from the same place.

Crash-safe in steps: the first transaction sets the `seeding` flag in index_meta; records are
copied in transactions of `chunk_rows` (the WAL holds one chunk, or one index being built,
at a time, never the whole registry); the last transaction writes links, progress, refused
seqs and offsets and clears the flag. An index opened with the flag set is emptied
(index.index._prepare), so a seed cut short is started again, never served half done.

For the copy, the secondary indexes and triggers of `records` are dropped, and rebuilt after
it: the derived tables (`institutions`, `sites`, and `institution_fts` through the
institutions trigger) are filled by one statement each, and each index is built by one sort
(bench/seed_index.py measures both ways).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any, Protocol

import pyarrow as pa

from national_hub.errors import StoreError
from national_hub.index.schema import DDL, RECORD_COLUMNS

log = logging.getLogger(__name__)

Sqlite = Any  # sqlite3.Connection

# index_meta key present from the first transaction of a seed until its last.
SEEDING_KEY = "seeding"
# Rows per transaction of the copy: ~75 MiB of WAL at ~1.5 KB a record.
CHUNK_ROWS = 50_000

# (rows copied so far, rows to copy in all): called after each committed chunk.
ProgressCb = Callable[[int, int], None]

_COLUMNS = ", ".join(RECORD_COLUMNS)
_MARKS = ", ".join("?" * len(RECORD_COLUMNS))
# Tables whose rows make an index non-empty (the derived ones follow records).
_HOLDING = ("records", "unshown", "offsets", "progress")


class SeedSource(Protocol):
    """A snapshot of what the serving index holds, as the DuckDB store exports it.

    records and unshown stream rows with columns RECORD_COLUMNS, in order, with the values
    index.apply writes (scopes and sites as JSON array text); records is read to its end
    before unshown is read.
    """

    @property
    def record_count(self) -> int: ...

    @property
    def unshown_count(self) -> int: ...

    @property
    def records(self) -> pa.RecordBatchReader: ...

    @property
    def unshown(self) -> pa.RecordBatchReader: ...

    @property
    def transfer_links(self) -> Sequence[tuple[str, str, str, str, int]]: ...

    @property
    def progress(self) -> Sequence[tuple[str, int, int]]: ...

    @property
    def progress_pending(self) -> Sequence[tuple[str, int]]: ...

    @property
    def rejected_seqs(self) -> Sequence[tuple[str, int]]: ...

    @property
    def offsets(self) -> Mapping[tuple[str, int], int]: ...


def is_empty(con: Sqlite) -> bool:
    """No records (shown or aside), offsets or progress."""
    return not any(
        con.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone()[0] for table in _HOLDING
    )


def _transaction(con: Sqlite, fn: Callable[[], object]) -> None:
    con.execute("BEGIN IMMEDIATE")
    try:
        fn()
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise


def _chunks(reader: pa.RecordBatchReader, rows: int) -> Iterator[list[tuple[Any, ...]]]:
    """The reader's rows as tuples, `rows` at a time (the last chunk fewer)."""
    out: list[tuple[Any, ...]] = []
    for batch in reader:
        out.extend(zip(*(col.to_pylist() for col in batch.columns), strict=True))
        while len(out) >= rows:
            yield out[:rows]
            del out[:rows]
    if out:
        yield out


def _records_schema_objects(con: Sqlite) -> list[tuple[str, str]]:
    """(type, name) of the indexes and triggers declared on records (not its UNIQUE key)."""
    return [
        (kind, name)
        for kind, name in con.execute(
            "SELECT type, name FROM sqlite_master WHERE tbl_name = 'records'"
            " AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type, name"
        )
    ]


def _fill_derived(con: Sqlite) -> None:
    """What the records triggers would have written, from all records at once."""
    con.execute(
        "INSERT INTO institutions (institution_name, org_code, n)"
        " SELECT institution_name, org_code, count(*) FROM records"
        " GROUP BY institution_name, org_code ORDER BY institution_name, org_code"
    )
    con.execute(
        "INSERT OR IGNORE INTO sites (org_code, cert_no)"
        " SELECT j.value, r.cert_no FROM records r, json_each(r.sites) j"
    )


def _write_state(con: Sqlite, source: SeedSource) -> None:
    con.executemany("INSERT INTO transfer_links VALUES (?, ?, ?, ?, ?)", source.transfer_links)
    con.executemany("INSERT INTO progress VALUES (?, ?, ?)", source.progress)
    con.executemany("INSERT INTO progress_pending VALUES (?, ?)", source.progress_pending)
    con.executemany("INSERT INTO rejected_seqs VALUES (?, ?)", source.rejected_seqs)
    con.executemany(
        "INSERT INTO offsets VALUES (?, ?, ?)",
        [(t, p, o) for (t, p), o in source.offsets.items()],
    )
    con.execute("DELETE FROM index_meta WHERE key = ?", [SEEDING_KEY])


def seed(
    con: Sqlite,
    source: SeedSource,
    progress_cb: ProgressCb | None = None,
    *,
    chunk_rows: int = CHUNK_ROWS,
    rebuild_indexes: bool = True,
) -> int:
    """Copy source into the empty index behind con (its writer); the records copied.

    rebuild_indexes=False keeps the indexes and triggers of records during the copy (the
    slower way, kept for bench/seed_index.py). On an error the flag stays set: the caller
    empties the index (ServingIndex.seed resets it; a crash leaves it to the next open).
    """
    for name, reader in (("records", source.records), ("unshown", source.unshown)):
        if reader.schema.names != list(RECORD_COLUMNS):
            raise ValueError(f"{name} must have the columns {RECORD_COLUMNS}")
    if not is_empty(con):
        raise StoreError("the serving index is not empty; only a new index is seeded")
    dropped = _records_schema_objects(con) if rebuild_indexes else []

    def begin() -> None:
        con.execute("INSERT INTO index_meta VALUES (?, '1')", [SEEDING_KEY])
        for kind, name in dropped:
            con.execute(f"DROP {kind.upper()} {name}")

    _transaction(con, begin)
    total = source.record_count + source.unshown_count
    done = 0
    for table, reader in (("records", source.records), ("unshown", source.unshown)):
        sql = f"INSERT INTO {table} ({_COLUMNS}) VALUES ({_MARKS})"
        for rows in _chunks(reader, chunk_rows):
            _transaction(con, partial(con.executemany, sql, rows))
            done += len(rows)
            if progress_cb is not None:
                progress_cb(done, total)
    if dropped:
        _transaction(con, lambda: _fill_derived(con))
        # Each index is its own transaction (one sort each), the WAL bounded by the largest.
        for ddl in DDL:
            con.execute(ddl)
    _transaction(con, lambda: _write_state(con, source))
    return done
