"""What the serving index is filled from when it is new: the store's shown and aside records,
transfer links, progress, refused seqs and offsets, all read from one DuckDB snapshot.

`open_export` begins a transaction on a cursor of its own: every table below is read from the
same committed state, whatever the store's writer commits meanwhile. The small tables are read
at once; the records stream as Arrow batches (`records`, then `unshown`), each query started
when its reader is first read and never held whole in memory (5,000,000 records of ~1.5 KB
each). A DuckDB cursor has one open result at a time, so `records` must be read to its end
before `unshown` is read (DuckDB refuses otherwise).

The record columns are the serving index's (national_hub.index.schema.RECORD_COLUMNS, which
this room may not import; a test holds the two equal), with the values its apply writes:
scopes and sites as JSON array text as `index.apply.json_list` makes it (orjson, UTF-8 as
is), to_province the transfer's destination of a transferred_out record (writes.TO_PROVINCE,
what store.decide is given), synced_at_ms the store's synced_at in epoch milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from national_hub.store.writes import TO_PROVINCE

# The serving index's record columns, in its order, as SQL over records / unshown_records.
SERVING_COLUMNS: tuple[tuple[str, str, pa.DataType], ...] = (
    ("cert_no", "cert_no", pa.string()),
    ("province", "province", pa.string()),
    ("record_version", "record_version", pa.int64()),
    ("seq", "seq", pa.int64()),
    ("status", "status", pa.string()),
    ("name_norm", "name_norm", pa.string()),
    ("name_pinyin", "name_pinyin", pa.string()),
    ("category", "category", pa.string()),
    ("scopes", "to_json(scopes)::VARCHAR", pa.string()),
    ("org_code", "org_code", pa.string()),
    ("institution_name", "institution_name", pa.string()),
    ("sites", "to_json(site_org_codes)::VARCHAR", pa.string()),
    ("to_province", TO_PROVINCE, pa.string()),
    ("synced_at_ms", "epoch_ms(synced_at)", pa.int64()),
    ("superseded_by_province", "superseded_by_province", pa.string()),
    ("superseded_by_cert_no", "superseded_by_cert_no", pa.string()),
    ("record", "record", pa.string()),
)
SERVING_SCHEMA = pa.schema([(name, dtype) for name, _, dtype in SERVING_COLUMNS])
_SELECT = "SELECT " + ", ".join(
    f"CAST({expr} AS {'BIGINT' if dtype == pa.int64() else 'VARCHAR'}) AS {name}"
    for name, expr, dtype in SERVING_COLUMNS
)
# The JSON list columns, which DuckDB writes as orjson does except in one case: a control
# character is escaped with upper-case hex digits (\u001F) where orjson writes \u001f.
_JSON_LISTS = ("scopes", "sites")
# Rows per Arrow batch read from DuckDB.
BATCH_ROWS = 10_000


@dataclass(frozen=True, slots=True)
class ServingExport:
    """One snapshot of what the serving index holds, for ServingIndex.seed (which describes
    what it needs as national_hub.index.seed.SeedSource)."""

    record_count: int
    unshown_count: int
    # Read records to their end before unshown: both stream from the same cursor.
    records: pa.RecordBatchReader
    unshown: pa.RecordBatchReader
    # (old_province, old_cert_no, new_province, new_cert_no, confirmed as 0 or 1)
    transfer_links: list[tuple[str, str, str, str, int]]
    # (province, applied_seq, max_seq)
    progress: list[tuple[str, int, int]]
    # (province, seq) of seqs applied above the frontier, and of seqs refused
    progress_pending: list[tuple[str, int]]
    rejected_seqs: list[tuple[str, int]]
    # (topic, partition) -> next offset, as committed with the records above
    offsets: dict[tuple[str, int], int]

    @property
    def empty(self) -> bool:
        """Whether the store holds nothing the index could start from."""
        return not (self.record_count or self.unshown_count or self.offsets or self.progress)


def orjson_lists(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The batch with its JSON list columns as orjson writes them (a no-op unless a value
    holds an escaped control character)."""
    for name in _JSON_LISTS:
        i = batch.schema.get_field_index(name)
        col = batch.column(i)
        if not pc.any(pc.match_substring(col, "\\u")).as_py():
            continue
        fixed = pa.array(
            [
                None if v is None else orjson.dumps(orjson.loads(v)).decode()
                for v in col.to_pylist()
            ],
            pa.string(),
        )
        batch = batch.set_column(i, name, fixed)
    return batch


def _stream(
    cur: duckdb.DuckDBPyConnection, table: str, batch_rows: int
) -> Iterator[pa.RecordBatch]:
    """The table's rows in SERVING_SCHEMA; the query runs once the first batch is asked for."""
    reader = cur.sql(f"{_SELECT} FROM {table}").to_arrow_reader(batch_rows)
    for batch in reader:
        if batch.num_rows:
            yield orjson_lists(batch)


def _reader(cur: duckdb.DuckDBPyConnection, table: str, batch_rows: int) -> pa.RecordBatchReader:
    return pa.RecordBatchReader.from_batches(SERVING_SCHEMA, _stream(cur, table, batch_rows))


def _count(cur: duckdb.DuckDBPyConnection, table: str) -> int:
    rows = cur.execute(f"SELECT count(*) FROM {table}").fetchall()
    return int(rows[0][0])


@contextmanager
def open_export(
    con: duckdb.DuckDBPyConnection, batch_rows: int = BATCH_ROWS
) -> Iterator[ServingExport]:
    """A ServingExport of the store file behind con, valid inside the with block (the
    snapshot's transaction is rolled back and its cursor closed when it ends)."""
    cur = con.cursor()
    try:
        cur.execute("BEGIN TRANSACTION")
        links = cur.execute(
            "SELECT old_province, old_cert_no, new_province, new_cert_no, confirmed::INTEGER"
            " FROM transfer_links"
        ).fetchall()
        offsets = cur.execute("SELECT topic, partition, next_offset FROM offsets").fetchall()
        yield ServingExport(
            record_count=_count(cur, "records"),
            unshown_count=_count(cur, "unshown_records"),
            records=_reader(cur, "records", batch_rows),
            unshown=_reader(cur, "unshown_records", batch_rows),
            transfer_links=links,
            progress=cur.execute("SELECT province, applied_seq, max_seq FROM progress").fetchall(),
            progress_pending=cur.execute("SELECT province, seq FROM progress_pending").fetchall(),
            rejected_seqs=cur.execute("SELECT province, seq FROM rejected_seqs").fetchall(),
            offsets={(t, p): o for t, p, o in offsets},
        )
    finally:
        try:
            cur.execute("ROLLBACK")
        except duckdb.Error:
            pass  # an unfinished reader: closing the cursor ends the transaction too
        cur.close()
