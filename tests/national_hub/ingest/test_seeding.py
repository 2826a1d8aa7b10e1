"""At hub start a new serving index is filled from the DuckDB store (ingest.seeding), even
one whose records were written straight into its table, with no offsets (as query tests do)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from national_hub.index.index import ServingIndex
from national_hub.ingest.messages import Batch
from national_hub.ingest.seeding import seed_index_if_new
from national_hub.store import reads
from national_hub.store.schema import RECORDS_DDL
from national_hub.store.store import Store
from schemas.samples import sample_record
from tests.national_hub.records import insert_record

CERTS = ("500000000000001", "500000000000002", "110000000000003")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A store whose records were inserted straight into its table: no offsets, no progress."""
    path = tmp_path / "national.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(RECORDS_DDL)
        for cert in CERTS:
            insert_record(con, cert[:2], sample_record(cert_no=cert, name="张伟"), version=2)
    store = Store.open(path)
    yield store
    store.close()


@pytest.fixture
def index(tmp_path: Path) -> Iterator[ServingIndex]:
    index = ServingIndex.open(tmp_path / "serving.sqlite")
    yield index
    index.close()


def test_a_new_index_gets_every_record_of_the_store(store: Store, index: ServingIndex) -> None:
    assert seed_index_if_new(store, index) == len(CERTS)


async def test_the_seeded_index_answers_as_the_store_does(
    store: Store, index: ServingIndex
) -> None:
    seed_index_if_new(store, index)
    for cert in CERTS:
        assert await index.record(cert) == await reads.record(store, cert)


def test_progress_is_reported_as_rows_are_copied(store: Store, index: ServingIndex) -> None:
    seen: list[tuple[int, int]] = []
    seed_index_if_new(store, index, lambda done, total: seen.append((done, total)))
    assert seen == [(len(CERTS), len(CERTS))]


def test_an_index_holding_offsets_is_left_alone(store: Store, tmp_path: Path) -> None:
    index = ServingIndex.open(tmp_path / "used.sqlite")
    index.apply_batch(Batch(offsets={("rs.events.50", 0): 7}))
    index.close()  # stores the offsets
    index = ServingIndex.open(tmp_path / "used.sqlite")
    try:
        assert seed_index_if_new(store, index) is None
    finally:
        index.close()


def test_an_empty_store_seeds_nothing(tmp_path: Path, index: ServingIndex) -> None:
    store = Store.open(tmp_path / "empty.duckdb")
    try:
        assert seed_index_if_new(store, index) is None
    finally:
        store.close()
