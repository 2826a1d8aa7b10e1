"""The serving index against the DuckDB store and a brute-force search, on a randomized
registry applied as signed, decoded batches (no Kafka)."""

from __future__ import annotations

import dataclasses
import random
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hubkit import HubEnv, write_federation
from indexkit import ROW_SQL, Feeder, Registry, brute_force, build_registry, queries, snapshot

import national_hub.index.index as index_module
from national_hub.errors import BadRequest
from national_hub.index.apply import UPSERT
from national_hub.index.index import ServingIndex
from national_hub.index.plan import IndexQuery, explain, prefix_end, search_keys
from national_hub.index.schema import RECORD_COLUMNS
from national_hub.ingest.messages import Batch
from national_hub.query.aliases import AliasTable
from national_hub.query.indexed import index_query, page_of, run_indexed_search
from national_hub.query.search import SearchParams, run_search
from national_hub.store import reads
from national_hub.store.store import Store


@dataclass
class World:
    env: HubEnv
    reg: Registry
    batches: list[Batch]
    store: Store
    index: ServingIndex
    rows: list[dict[str, Any]]
    aliases: AliasTable


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """About 3,000 records in three provinces after 3,000 random lifecycle steps, applied in
    random batches to a DuckDB store and to the index."""
    env = write_federation(
        tmp_path_factory.mktemp("index"), "127.0.0.1:1", f"ix_{uuid.uuid4().hex[:8]}"
    )
    reg = build_registry(env, per_province=1000, steps=3000, seed=13)
    batches = reg.batches(Feeder(env))
    store = Store.open(env.db)
    index = ServingIndex.open(env.root / "var" / "serving.sqlite")
    for b in batches:
        store.apply_batch(b)
        index.apply_batch(b)
    rows = store.fetch_sync(ROW_SQL)
    yield World(env, reg, batches, store, index, rows, reg.alias_table())
    index.close()
    store.close()


def _params(query: dict[str, str], cursor: str | None = None) -> SearchParams | None:
    try:
        return SearchParams.from_query({**query, **({"cursor": cursor} if cursor else {})})
    except BadRequest:
        return None


def _table(con: sqlite3.Connection, sql: str) -> list[tuple[Any, ...]]:
    return sorted(tuple(r) for r in con.execute(sql).fetchall())


def _duck(store: Store, sql: str) -> list[tuple[Any, ...]]:
    return sorted(tuple(r.values()) for r in store.fetch_sync(sql))


def test_the_index_holds_what_the_duckdb_store_shows(world: World) -> None:
    duck = world.store
    lite = sqlite3.connect(str(world.index.path))
    shown = (
        "SELECT cert_no, province, record_version, seq, status, org_code, institution_name,"
        " name_norm, name_pinyin, category, superseded_by_province, superseded_by_cert_no,"
        " record FROM "
    )
    assert _table(lite, shown + "records") == _duck(duck, shown + "records")
    aside = "SELECT cert_no, province, record_version, status, record FROM "
    assert _table(lite, aside + "unshown") == _duck(duck, aside + "unshown_records")
    links = "SELECT old_province, old_cert_no, new_province, new_cert_no, confirmed FROM "
    assert _table(lite, links + "transfer_links") == [
        (*r[:4], int(r[4])) for r in _duck(duck, links + "transfer_links")
    ]
    for table in ("progress_pending", "rejected_seqs"):
        sql = f"SELECT province, seq FROM {table}"
        assert _table(lite, sql) == _duck(duck, sql)
    assert world.index.progress() == world.store.progress()
    assert world.index.offsets() == world.store.offsets()
    # The registry exercised what it should: moves aside, supersedes, refusals, sites.
    assert _table(lite, "SELECT count(*) FROM unshown")[0][0] > 10
    assert _table(lite, "SELECT count(*) FROM records WHERE superseded_by_province IS NOT NULL")
    assert sum(len(s) for s in world.index._rejected.values()) > 5
    assert _table(lite, "SELECT count(*) FROM sites")[0][0] > 100
    lite.close()


def test_derived_tables_follow_the_records(world: World) -> None:
    con = sqlite3.connect(str(world.index.path))
    assert _table(con, "SELECT institution_name, org_code, n FROM institutions") == _table(
        con, "SELECT institution_name, org_code, count(*) FROM records GROUP BY 1, 2"
    )
    assert _table(con, "SELECT org_code, cert_no FROM sites") == _table(
        con, "SELECT DISTINCT j.value, r.cert_no FROM records r, json_each(r.sites) j"
    )
    assert _table(con, "SELECT rowid, institution_name FROM institution_fts") == _table(
        con, "SELECT id, institution_name FROM institutions"
    )
    con.close()


def _index_pages(world: World, query: dict[str, str]) -> tuple[list[str], int]:
    """Every cert_no of a search, page by page through the index's cursors."""
    certs: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = _params(query, cursor)
        assert params is not None
        result = world.index.search_sync(index_query(params, world.aliases))
        rows, cursor = page_of(result.keys, result.rows, params)
        assert [r["cert_no"] for r in rows] == [c for c, _ in result.keys[: len(rows)]]
        certs += [r["cert_no"] for r in rows]
        pages += 1
        if cursor is None:
            return certs, pages


def _strip(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Each sink stamps its own apply time.
    return [{k: v for k, v in r.items() if not k.startswith("synced_at")} for r in rows]


async def test_every_search_kind_matches_brute_force_and_duckdb(world: World) -> None:
    rng = random.Random(5)
    checked = 0
    for query in queries(world.rows, world.reg, rng, 240):
        params = _params(query)
        if params is None:
            continue
        expected = [c for _, c in brute_force(world.rows, params, world.aliases)]
        certs, _ = _index_pages(world, query)
        assert certs == expected, query
        # The first two pages, rows and cursors, exactly as run_search over DuckDB gives them.
        cursor: str | None = None
        for _ in range(2):
            p = _params(query, cursor)
            assert p is not None
            duck_rows, duck_cursor = await run_search(world.store, p, world.aliases)
            lite_rows, lite_cursor = await run_indexed_search(world.index, p, world.aliases)
            assert _strip(lite_rows) == _strip(duck_rows), query
            assert lite_cursor == duck_cursor, query
            cursor = duck_cursor
            if cursor is None:
                break
        checked += bool(expected)
    assert checked > 150


def _all_keys(con: sqlite3.Connection, q: IndexQuery, **kw: int) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    while True:
        con.execute("BEGIN")
        keys = search_keys(con, q, **kw)
        con.execute("COMMIT")
        out += [(r, c) for c, r in keys[: q.limit]]
        if len(keys) <= q.limit:
            return out
        last_cert, last_rank = keys[q.limit - 1]
        q = dataclasses.replace(q, after=(last_rank, last_cert))


@pytest.mark.parametrize(
    "how",
    [{"sort_max": 0}, {"sort_max": 0, "walk_budget": 1}, {"sort_max": 1_000_000}],
    ids=["walk", "walk-over-budget", "sort"],
)
def test_walks_fallbacks_and_sorts_give_the_same_ranks_and_order(
    world: World, how: dict[str, int]
) -> None:
    con = sqlite3.connect(str(world.index.path), isolation_level=None)
    rng = random.Random(8)
    for query in queries(world.rows, world.reg, rng, 120):
        params = _params(query)
        if params is None:
            continue
        q = index_query(params, world.aliases)
        assert _all_keys(con, q, **how) == brute_force(world.rows, params, world.aliases), query
    con.close()


async def test_record_reads_match_the_store(world: World) -> None:
    for row in random.Random(3).sample(world.rows, 200):
        duck = await reads.record(world.store, row["cert_no"])
        lite = await world.index.record(row["cert_no"])
        assert duck is not None and lite is not None
        assert _strip([lite]) == _strip([duck])
        assert isinstance(lite["synced_at"], type(duck["synced_at"]))
    assert await world.index.record("500000000000000") is None


def test_replaying_every_batch_changes_nothing(world: World) -> None:
    before = snapshot(world.index.path)
    offsets = dict(world.index.offsets())
    for b in world.batches:
        result = world.index.apply_batch(b)
        assert (result.events, result.applied) == (0, 0)
    assert snapshot(world.index.path) == before
    assert world.index.offsets() == offsets


def _plans(world: World, query: dict[str, str], **kw: int) -> list[str]:
    params = _params(query)
    assert params is not None
    con = sqlite3.connect(str(world.index.path))
    try:
        return explain(con, index_query(params, world.aliases), **kw)
    finally:
        con.close()


def test_search_plans_use_an_index_range(world: World) -> None:
    r = world.rows[7]
    site = next(row for row in world.rows if row["site_org_codes"])["site_org_codes"][0]
    kinds = [
        {"name": r["name"]},
        {"name": r["name"], "province": r["province"], "status": "active"},
        {"name": r["name_pinyin"]},
        {"name": r["name_pinyin"][:4], "province": r["province"]},
        {"name": "zh"},
        {"institution": r["org_code"]},
        {"institution": site, "category": r["category"], "scope": r["scopes"][0]},
        {"institution": r["institution_name"]},
        {"institution": r["institution_name"][2:6]},
        {"institution": "医院"},
        {"institution": world.reg.aliases[0].alias},
        {"name": r["name"], "institution": r["institution_name"]},
        {"name": r["name_pinyin"][:2], "institution": r["institution_name"][:3]},
    ]
    for query in kinds:
        lines = _plans(world, query)
        assert not [line for line in lines if line.startswith("SCAN records")], (query, lines)
        assert any("USING INDEX" in x or "USING COVERING INDEX" in x for x in lines), query
    # Beyond sort_max, an open class walks the cert_no index in order until the page is full:
    # no sort (its cost is the rows walked, see national_hub.index.plan).
    walk = _plans(world, {"name": "zh"}, sort_max=0)
    assert walk == [
        "SEARCH records USING COVERING INDEX records_pinyin (name_pinyin=?)",
        "SCAN records USING INDEX sqlite_autoindex_records_1",
    ]


def test_prefix_end_is_the_least_string_above_the_prefix() -> None:
    assert prefix_end("zh") == "zi"
    assert prefix_end("a\ud7ff") == "a\ue000"  # past the surrogates, which UTF-8 cannot hold
    assert prefix_end("a" + chr(0x10FFFF)) == "b"
    assert prefix_end(chr(0x10FFFF)) is None


# ---- a small registry of its own: crashes, failures, offsets ------------------------------------


@pytest.fixture
def small(hub_env: HubEnv) -> tuple[Registry, list[Batch]]:
    reg = build_registry(hub_env, per_province=60, steps=200, seed=21)
    return reg, reg.batches(Feeder(hub_env), most=40)


def test_a_crash_between_the_two_commits_is_healed_by_replay(
    tmp_path: Path, small: tuple[Registry, list[Batch]]
) -> None:
    _, batches = small
    whole = ServingIndex.open(tmp_path / "whole.sqlite")
    for b in batches:
        whole.apply_batch(b)
    whole.close()
    # The DuckDB store committed every batch; the index only the first half before the crash.
    healed = ServingIndex.open(tmp_path / "healed.sqlite")
    for b in batches[: len(batches) // 2]:
        healed.apply_batch(b)
    healed.close()
    healed = ServingIndex.open(tmp_path / "healed.sqlite")
    skipped = sum(healed.apply_batch(b).skipped for b in batches)
    healed.close()
    assert skipped >= sum(rb.num_rows for b in batches[: len(batches) // 2] for rb in b.events)
    assert snapshot(tmp_path / "healed.sqlite", synced=False) == snapshot(
        tmp_path / "whole.sqlite", synced=False
    )


def test_a_failed_apply_leaves_nothing_behind(
    tmp_path: Path, small: tuple[Registry, list[Batch]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, batches = small
    index = ServingIndex.open(tmp_path / "i.sqlite")
    for b in batches[:3]:
        index.apply_batch(b)
    before, offsets, progress = snapshot(index.path), index.offsets(), index.progress()

    def boom(*_: Any) -> Any:
        raise RuntimeError("disk gone")

    monkeypatch.setattr(index_module, "write_offsets", boom)
    with pytest.raises(RuntimeError):
        index.apply_batch(batches[3])
    assert snapshot(index.path) == before
    assert (index.offsets(), index.progress()) == (offsets, progress)
    monkeypatch.undo()
    for b in batches[3:]:
        index.apply_batch(b)
    index.close()
    fresh = ServingIndex.open(tmp_path / "fresh.sqlite")
    for b in batches:
        fresh.apply_batch(b)
    fresh.close()
    assert snapshot(tmp_path / "i.sqlite", synced=False) == snapshot(
        tmp_path / "fresh.sqlite", synced=False
    )


def test_redelivered_events_change_only_offsets(
    hub_env: HubEnv, tmp_path: Path, small: tuple[Registry, list[Batch]]
) -> None:
    reg, _ = small
    feeder = Feeder(hub_env)
    first = reg.batches(feeder, most=40)
    index = ServingIndex.open(tmp_path / "i.sqlite")
    for b in first:
        index.apply_batch(b)
    before = snapshot(index.path)
    # The same events again at new offsets (a producer's retry): the version guard holds.
    reg.rng = random.Random(99)
    for b in reg.batches(feeder, most=40):
        assert index.apply_batch(b).applied == 0
    after = snapshot(index.path)
    assert after["offsets"] != before["offsets"]
    assert {t: v for t, v in after.items() if t != "offsets"} == {
        t: v for t, v in before.items() if t != "offsets"
    }
    index.close()


def test_batches_without_events_move_offsets_then_are_stored(tmp_path: Path) -> None:
    index = ServingIndex.open(tmp_path / "i.sqlite", flush_s=3600)
    index.apply_batch(Batch(offsets={("rs.heartbeats", 0): 41}))
    assert index.offsets() == {("rs.heartbeats", 0): 41}
    assert snapshot(index.path)["offsets"] == []
    index.close()
    index = ServingIndex.open(tmp_path / "i.sqlite")
    assert index.offsets() == {("rs.heartbeats", 0): 41}
    index.reset()
    assert index.offsets() == {} and snapshot(index.path)["offsets"] == []
    index.close()


def test_an_older_version_never_replaces_a_newer_one(
    tmp_path: Path, small: tuple[Registry, list[Batch]]
) -> None:
    _, batches = small
    index = ServingIndex.open(tmp_path / "i.sqlite")
    for b in batches:
        index.apply_batch(b)
    con = sqlite3.connect(str(index.path), isolation_level=None)
    names = list(RECORD_COLUMNS)
    row = con.execute(f"SELECT {', '.join(names)} FROM records WHERE record_version > 1").fetchone()
    old = dict(zip(names, row, strict=True))
    stale = {**old, "record_version": old["record_version"] - 1, "name_norm": "旧"}
    con.execute(UPSERT, [stale[c] for c in names])  # the guard, without store.decide in front
    again = con.execute(
        f"SELECT {', '.join(names)} FROM records WHERE cert_no = ?", [old["cert_no"]]
    )
    assert dict(zip(names, again.fetchone(), strict=True)) == old
    con.close()
    index.close()
