"""Filling a new serving index from the DuckDB store (index.seed, store.export): the same index
as applying the log gives, on a randomized registry; crashes and errors midway."""

from __future__ import annotations

import random
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hubkit import write_federation
from indexkit import ROW_SQL, Feeder, Registry, build_registry, queries, snapshot

from national_hub.errors import BadRequest, StoreError
from national_hub.index.index import ServingIndex
from national_hub.index.seed import SEEDING_KEY
from national_hub.ingest.messages import Batch
from national_hub.query.indexed import index_query
from national_hub.query.search import SearchParams
from national_hub.store.store import Store

CHUNK = 400  # rows per seed transaction here: several chunks for ~1,700 records


@dataclass
class World:
    reg: Registry
    batches: list[Batch]
    store: Store
    # The index that applied every batch itself, and a new one seeded from the store.
    applied: ServingIndex
    seeded: ServingIndex


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """About 1,700 records in three provinces after 1,500 random lifecycle steps, applied in
    random batches to a DuckDB store and to an index; a second index seeded from the store."""
    root = tmp_path_factory.mktemp("seed")
    env = write_federation(root, "127.0.0.1:1", f"sd_{uuid.uuid4().hex[:8]}")
    reg = build_registry(env, per_province=500, steps=1500, seed=31)
    batches = reg.batches(Feeder(env))
    store = Store.open(env.db)
    applied = ServingIndex.open(root / "applied.sqlite")
    for b in batches:
        store.apply_batch(b)
        applied.apply_batch(b)
    seeded = ServingIndex.open(root / "seeded.sqlite")
    with store.export_serving() as export:
        seeded.seed(export, chunk_rows=CHUNK)
    yield World(reg, batches, store, applied, seeded)
    seeded.close()
    applied.close()
    store.close()


def _seed_new(world: World, path: Path, **kw: Any) -> ServingIndex:
    index = ServingIndex.open(path)
    with world.store.export_serving() as export:
        index.seed(export, chunk_rows=CHUNK, **kw)
    return index


def _rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(str(path))
    try:
        return sorted(tuple(r) for r in con.execute(sql))
    finally:
        con.close()


_SCHEMA_OBJECTS = "SELECT type, name, tbl_name, sql FROM sqlite_master"


def test_the_registry_holds_aside_records_refusals_links_and_sites(world: World) -> None:
    tables = snapshot(world.applied.path)
    assert len(tables["unshown"]) > 5
    assert len(tables["rejected_seqs"]) > 2
    assert len(tables["transfer_links"]) > 20
    assert len(tables["sites"]) > 50


def test_a_seeded_index_holds_what_applying_the_log_gave(world: World) -> None:
    # Every table, row for row; only the apply times and rowids are each index's own.
    assert snapshot(world.seeded.path, synced=False) == snapshot(world.applied.path, synced=False)


def test_seeded_records_keep_the_stores_sync_times(world: World) -> None:
    duck = sorted(
        (r["cert_no"], r["ms"])
        for r in world.store.fetch_sync("SELECT cert_no, epoch_ms(synced_at) AS ms FROM records")
    )
    assert _rows(world.seeded.path, "SELECT cert_no, synced_at_ms FROM records") == duck


def test_institution_names_are_found_by_substring_after_a_seed(world: World) -> None:
    sql = (
        "SELECT i.institution_name, i.org_code FROM institution_fts f"
        " JOIN institutions i ON i.id = f.rowid"
    )
    assert _rows(world.seeded.path, sql) == _rows(world.applied.path, sql)


def test_a_seeded_index_has_every_index_and_trigger(world: World) -> None:
    assert _rows(world.seeded.path, _SCHEMA_OBJECTS) == _rows(world.applied.path, _SCHEMA_OBJECTS)


def test_the_seeded_mirrors_are_the_applied_ones(world: World) -> None:
    mirrors = (world.seeded.offsets(), world.seeded.progress(), world.seeded._rejected)
    assert mirrors == (world.applied.offsets(), world.applied.progress(), world.applied._rejected)


def _strip(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if not k.startswith("synced_at")} for r in rows]


def test_searches_agree_with_the_applied_index(world: World) -> None:
    checked = 0
    aliases = world.reg.alias_table()
    for query in queries(world.store.fetch_sync(ROW_SQL), world.reg, random.Random(17), 200):
        try:
            params = SearchParams.from_query(query)
        except BadRequest:
            continue
        q = index_query(params, aliases)
        seeded, applied = world.seeded.search_sync(q), world.applied.search_sync(q)
        assert seeded.keys == applied.keys, query
        assert _strip(seeded.rows) == _strip(applied.rows), query
        checked += bool(applied.keys)
    assert checked > 100


def test_keeping_the_indexes_during_the_copy_gives_the_same_index(
    world: World, tmp_path: Path
) -> None:
    index = _seed_new(world, tmp_path / "kept.sqlite", rebuild_indexes=False)
    index.close()
    assert snapshot(tmp_path / "kept.sqlite", synced=False) == snapshot(
        world.applied.path, synced=False
    )


def test_the_log_continues_where_the_seed_left_off(world: World, tmp_path: Path) -> None:
    half = len(world.batches) // 2
    env = write_federation(tmp_path / "half", "127.0.0.1:1", f"hf_{uuid.uuid4().hex[:8]}")
    store = Store.open(env.db)
    for b in world.batches[:half]:
        store.apply_batch(b)
    index = ServingIndex.open(tmp_path / "i.sqlite")
    with store.export_serving() as export:
        index.seed(export, chunk_rows=CHUNK)
    store.close()
    # Ingest then resumes from the offsets the seed copied: the first half is skipped.
    for b in world.batches:
        index.apply_batch(b)
    index.close()
    assert snapshot(tmp_path / "i.sqlite", synced=False) == snapshot(
        world.applied.path, synced=False
    )


def test_an_index_that_holds_something_is_not_seeded_nor_emptied(
    world: World, tmp_path: Path
) -> None:
    index = ServingIndex.open(tmp_path / "i.sqlite")
    for b in world.batches[:2]:
        index.apply_batch(b)
    before = snapshot(index.path)
    with world.store.export_serving() as export, pytest.raises(StoreError):
        index.seed(export)
    assert snapshot(index.path) == before
    index.close()


def _fail(done: int, total: int) -> None:
    raise RuntimeError("stopped after the first chunk")


@pytest.fixture
def failed(world: World, tmp_path: Path) -> Iterator[ServingIndex]:
    """An index whose seed stopped with an error after its first chunk."""
    index = ServingIndex.open(tmp_path / "i.sqlite")
    with world.store.export_serving() as export, pytest.raises(RuntimeError):
        index.seed(export, _fail, chunk_rows=CHUNK)
    yield index
    index.close()


def test_an_error_midway_leaves_an_empty_index(failed: ServingIndex) -> None:
    assert failed.is_empty() and failed.offsets() == {} and failed.progress() == {}


def test_an_index_emptied_by_an_error_is_seeded_again(
    world: World, failed: ServingIndex, tmp_path: Path
) -> None:
    index = failed
    with world.store.export_serving() as export:
        index.seed(export, chunk_rows=CHUNK)
    assert snapshot(index.path, synced=False) == snapshot(world.applied.path, synced=False)


_CRASH = """
import os, sys
from national_hub.index.index import ServingIndex
from national_hub.store.store import Store

store = Store.open(sys.argv[1], readers=1)
index = ServingIndex.open(sys.argv[2])
with store.export_serving() as export:
    index.seed(export, lambda done, total: os._exit(3), chunk_rows=int(sys.argv[3]))
"""


@pytest.fixture
def crashed(world: World, tmp_path: Path) -> Path:
    """An index file whose seed was killed after its first chunk, in a process of its own
    (on a copy of the store file: DuckDB lets one process at a time open it)."""
    world.store.fetch_sync("CHECKPOINT")
    db = tmp_path / "copy.duckdb"
    shutil.copyfile(world.store.path, db)
    path = tmp_path / "crashed.sqlite"
    args = [str(db), str(path), str(CHUNK)]
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(_CRASH), *args])
    assert done.returncode == 3
    return path


def test_a_crash_midway_leaves_a_flagged_part_of_the_copy(crashed: Path) -> None:
    flag = f"SELECT key FROM index_meta WHERE key = '{SEEDING_KEY}'"
    assert _rows(crashed, flag) == [(SEEDING_KEY,)]
    assert _rows(crashed, "SELECT count(*) FROM records") == [(CHUNK,)]


def test_an_index_whose_seed_crashed_opens_empty(crashed: Path) -> None:
    index = ServingIndex.open(crashed)
    assert index.is_empty() and index.offsets() == {}
    index.close()
    assert _rows(crashed, "SELECT key FROM index_meta") == [("schema_version",)]


def test_an_index_whose_seed_crashed_is_seeded_again(world: World, crashed: Path) -> None:
    index = ServingIndex.open(crashed)
    with world.store.export_serving() as export:
        index.seed(export, chunk_rows=CHUNK)
    index.close()
    assert snapshot(crashed, synced=False) == snapshot(world.applied.path, synced=False)
