"""The store's export for the serving index (store.export): its columns and values are what
the index's apply writes, read from one snapshot, in batches."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from national_hub.index.apply import json_list
from national_hub.index.schema import RECORD_COLUMNS
from national_hub.store.export import SERVING_SCHEMA, open_export
from national_hub.store.schema import DDL
from schemas.record import Transfer
from schemas.samples import sample_record
from schemas.vocab import Status
from tests.national_hub.records import insert_record


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory store with the store's tables and three records."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for ddl in DDL:
        con.execute(ddl)
    insert_record(con, "50", sample_record(cert_no="500000000000001", name="张伟"))
    insert_record(con, "50", sample_record(cert_no="500000000000002", name="李娜"))
    out = sample_record(
        cert_no="500000000000003",
        status=Status.TRANSFERRED_OUT,
        transfer=Transfer(to_province="44"),
    )
    insert_record(con, "50", out)
    yield con
    con.close()


def _records(con: duckdb.DuckDBPyConnection, **kw: int) -> list[dict[str, object]]:
    with open_export(con, **kw) as export:
        return sorted(export.records.read_all().to_pylist(), key=lambda r: str(r["cert_no"]))


def test_the_export_has_the_index_columns_in_their_order() -> None:
    assert SERVING_SCHEMA.names == list(RECORD_COLUMNS)


def test_json_lists_are_the_text_the_index_writes(con: duckdb.DuckDBPyConnection) -> None:
    scopes = ["内科专业", 'a"b', "c\\d", "e/f", "\x01\x1f", "\u2028"]
    sites = ["12500000450512345X", "\x7f"]
    con.execute("UPDATE records SET scopes = ?, site_org_codes = ?", [scopes, sites])
    row = _records(con)[0]
    assert (row["scopes"], row["sites"]) == (json_list(scopes), json_list(sites))


def test_to_province_is_where_a_transferred_out_record_went(
    con: duckdb.DuckDBPyConnection,
) -> None:
    assert [r["to_province"] for r in _records(con)] == [None, None, "44"]


def test_synced_at_is_in_epoch_milliseconds(con: duckdb.DuckDBPyConnection) -> None:
    (ms,) = con.execute("SELECT epoch_ms(synced_at) FROM records LIMIT 1").fetchall()[0]
    assert {r["synced_at_ms"] for r in _records(con)} == {ms}


def test_records_stream_in_batches(con: duckdb.DuckDBPyConnection) -> None:
    with open_export(con, batch_rows=2) as export:
        sizes = [b.num_rows for b in export.records]
    assert sizes == [2, 1]


def test_the_export_is_one_snapshot(con: duckdb.DuckDBPyConnection) -> None:
    with open_export(con) as export:
        insert_record(con.cursor(), "11", sample_record(cert_no="110000000000004"))
        con.execute("INSERT INTO offsets VALUES ('rs.events.11', 0, 1)")
        certs = export.records.read_all().column("cert_no").to_pylist()
        seen = (export.record_count, len(certs), export.offsets)
    assert seen == (3, 3, {})


def test_unshown_is_read_after_records(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("INSERT INTO unshown_records SELECT * FROM records WHERE cert_no LIKE '%1'")
    with open_export(con) as export:
        shown = export.records.read_all().num_rows
        aside = export.unshown.read_all().column("cert_no").to_pylist()
    assert (shown, aside) == (3, ["500000000000001"])
