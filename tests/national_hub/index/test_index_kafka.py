"""The serving index through the real hub (issue 13, "Must show"): signed events on the session's
Kafka, the hub app with its DuckDB file and its SQLite serving index, answers over HTTP.

1. Every search kind the API offers answers, page by page, what a full scan answers: the same
   search run as DuckDB column scans (query.search.run_search on the hub's store) and a
   brute-force filter of every record in Python (indexkit.brute_force). On a randomized
   registry (indexkit.Registry: ~3,000 records in three provinces, random lifecycle steps,
   transfers, unconfirmed claims, certificate conflicts), live, then after `rebuild` (with
   rows deleted from the index before it) and more random steps applied by the restarted hub.
2. A record is never served older than what was applied: while the hub applies many versions
   of a few certificates, arriving in several batches, readers polling lookup, verify and
   FHIR never see a certificate's version go back, and a lookup with min_token serves at
   least the version of that token's event.

Each scenario runs once per module (a fixture records what was answered); the tests compare.
"""

from __future__ import annotations

import asyncio
import csv
import math
import random
import sqlite3
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
from aiohttp.test_utils import TestClient
from hubkit import (
    HubEnv,
    cert,
    create_topics,
    hub_app,
    make_event,
    producer,
    running_hub,
    send_events,
    send_with,
    signed,
    wait_for,
    write_federation,
)
from indexkit import ROW_SQL, Registry, brute_force, build_registry

from national_hub.cli import _rebuild
from national_hub.config import HubSettings
from national_hub.query.aliases import AliasEntry, AliasTable
from national_hub.query.search import SearchParams, public_item, run_search
from national_hub.store.store import Store
from national_hub.web.appkeys import ALIASES, INDEX, INGESTOR, STORE
from schemas.events import Event
from schemas.vocab import CATEGORY_LABELS, STATUS_LABELS, Category, Status

# ---- a federation of the module's own on the session's Kafka -----------------------------------


def module_env(root: Path, bootstrap: str) -> HubEnv:
    """Provinces 50, 44 and 11 with their topics created, and no public rate limit: the tests
    read far more than one client may."""
    env = write_federation(root, bootstrap, f"ixk_{uuid.uuid4().hex[:10]}")
    text = env.config.read_text(encoding="utf-8")
    env.config.write_text(text + '\n[hub.tuning.web]\nrate_limit = "off"\n', encoding="utf-8")
    asyncio.run(create_topics(env))
    return env


def add_alias_file(env: HubEnv, entries: Sequence[AliasEntry]) -> None:
    """Give the hub an operator alias file (hub.aliases_file) of these abbreviations."""
    with (env.root / "aliases.csv").open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["alias", "full_name", "org_code"])
        out.writerows([a.alias, a.full_name, a.org_code or ""] for a in entries)
    text = env.config.read_text(encoding="utf-8")
    env.config.write_text(
        text.replace("[hub]\n", '[hub]\naliases_file = "aliases.csv"\n', 1), encoding="utf-8"
    )


def _covered(offsets: Mapping[tuple[str, int], int]) -> int:
    return sum(n for (topic, _), n in offsets.items() if ".events." in topic)


async def wait_both_sinks(client: TestClient, total: int, seconds: float = 60.0) -> None:
    """Wait until the DuckDB store and the serving index have both committed offsets covering
    `total` messages of the event topics (each sink stores its own)."""
    app = hub_app(client)
    store, index = app[STORE], app[INDEX]

    async def probe() -> bool:
        return _covered(store.offsets()) >= total and _covered(index.offsets()) >= total

    await wait_for(probe, seconds)


def interleave(streams: Mapping[str, Sequence[Event]], rng: random.Random) -> list[Event]:
    """Every stream's events, each province's in order, provinces mixed at random."""
    pos = dict.fromkeys(streams, 0)
    out: list[Event] = []
    while live := [p for p, s in streams.items() if pos[p] < len(s)]:
        p = rng.choice(live)
        n = rng.randint(1, 50)
        out += streams[p][pos[p] : pos[p] + n]
        pos[p] += n
    return out


# ---- 1. every search kind against a full scan ----------------------------------------------------

KINDS = (
    "name",  # exact Chinese name (sometimes typed with spaces)
    "pinyin",  # toneless pinyin, whole
    "pinyin_prefix",
    "name_province",
    "credit_code",  # institution by its credit code (primary staff, then filed sites)
    "site_code",  # a credit code taken from a filed practice site
    "full_name",  # institution by its full name
    "abbreviation",  # institution by an abbreviation of the alias file
    "partial_name",  # part of an institution's name
    "name_institution",
    "filtered",  # category / scope / status on top of a name or an institution
    "roster",  # GET /v1/institutions/{org_code}/physicians, with and without filters
)
PER_KIND = 6
PHASES = ("live", "rebuilt")


@dataclass
class Page:
    status: int
    items: list[dict[str, Any]]
    next_cursor: str | None


@dataclass
class Asked:
    """One query, what the hub served page by page, and what the full scans answer."""

    kind: str
    query: dict[str, str]  # the search's parameters (a roster: its org_code as institution)
    served: list[Page] = field(default_factory=list)
    scanned: list[Page] = field(default_factory=list)
    brute: list[str] = field(default_factory=list)

    def served_certs(self) -> list[str]:
        return [item["cert_no"] for p in self.served for item in p.items]


@dataclass
class Scans:
    asked: dict[str, list[Asked]]  # by phase
    tampered: list[str]  # certificates deleted from the index file before the rebuild
    index_after_rebuild: list[tuple[Any, ...]]
    store_after_rebuild: list[tuple[Any, ...]]


def _limit(n: int, rng: random.Random) -> str:
    """A page size that makes an answer of n rows span a few pages (one, for n <= 1)."""
    if n <= 8:
        return str(rng.randint(1, max(1, n - 1)))
    return str(min(100, max(5, math.ceil(n / rng.randint(2, 6)))))


def _filters(row: Mapping[str, Any], rng: random.Random) -> dict[str, str]:
    """One to three of the row's own category, scope and status, as codes or printed labels."""
    out: dict[str, str] = {}
    for f in rng.sample(["category", "scope", "status"], rng.randint(1, 3)):
        if f == "category":
            c = Category(row["category"])
            out[f] = rng.choice([c.value, CATEGORY_LABELS[c]])
        elif f == "status":
            s = Status(row["status"])
            out[f] = rng.choice([s.value, STATUS_LABELS[s]])
        else:
            out[f] = rng.choice(row["scopes"])
    return out


def pick_queries(
    rows: Sequence[Mapping[str, Any]], reg: Registry, aliases: AliasTable, rng: random.Random
) -> list[Asked]:
    """PER_KIND queries of every kind, values taken from the registry so they match rows."""
    pick = rng.choice
    held_names = {r["institution_name"] for r in rows}
    abbreviations = [a.alias for a in reg.aliases if a.full_name in held_names]
    with_sites = [r for r in rows if r["site_org_codes"]]
    not_active = [r for r in rows if r["status"] != Status.ACTIVE]
    shared: dict[str, list[Mapping[str, Any]]] = {}
    for column, kind in (("name_norm", "name"), ("name_pinyin", "pinyin")):
        count = Counter(r[column] for r in rows)
        shared[kind] = [r for r in rows if count[r[column]] > 1]
    out: list[Asked] = []
    for kind in KINDS:
        for i in range(PER_KIND):
            # Every other query asks for a name two records or more share.
            r = pick(shared[kind] if i % 2 and kind in shared else rows)
            q: dict[str, str] = {}
            if kind == "name":
                q["name"] = r["name"] if i % 2 else " ".join(r["name"])
            elif kind == "pinyin":
                q["name"] = r["name_pinyin"]
            elif kind == "pinyin_prefix":
                q["name"] = r["name_pinyin"][: rng.randint(2, 5)]
            elif kind == "name_province":
                q["name"] = [r["name"], r["name_pinyin"], r["name_pinyin"][:3]][i % 3]
                q["province"] = pick(reg.env.provinces) if i % 3 == 1 else r["province"]
            elif kind in ("credit_code", "roster"):
                if kind == "roster" and i % 2:
                    r = pick(with_sites)
                    q["institution"] = pick(r["site_org_codes"])
                else:
                    q["institution"] = r["org_code"]
                if kind == "roster" and i >= PER_KIND // 2:
                    q.update(_filters(r, rng))
            elif kind == "site_code":
                q["institution"] = pick(pick(with_sites)["site_org_codes"])
            elif kind == "full_name":
                q["institution"] = r["institution_name"]
            elif kind == "abbreviation":
                q["institution"] = pick(abbreviations)
            elif kind == "partial_name":
                text = r["institution_name"]
                k = pick([2, 3, 4, 6])
                start = rng.randint(0, max(0, len(text) - k))
                q["institution"] = text[start : start + k]
            elif kind == "name_institution":
                q["name"], q["institution"] = [
                    (r["name"], r["org_code"]),
                    (r["name_pinyin"][:2], r["institution_name"][:3]),
                    (r["name_pinyin"], r["institution_name"]),
                ][i % 3]
            else:  # filtered
                r = pick(not_active) if i % 2 else r
                base = [
                    {"name": r["name_pinyin"][:2]},
                    {"institution": r["org_code"]},
                    {"institution": r["institution_name"][:4]},
                ][i % 3]
                q = {**base, **_filters(r, rng)}
            n = len(brute_force(rows, SearchParams.from_query(q), aliases))
            q["limit"] = _limit(n, rng)
            out.append(Asked(kind, q))
    return out


def _strip(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Each sink stamps its own apply time.
    return [{k: v for k, v in item.items() if k != "synced_at"} for item in items]


async def _served_pages(client: TestClient, asked: Asked) -> list[Page]:
    """Every page the hub serves, following next_cursor to the end."""
    query = dict(asked.query)
    path = "/v1/physicians"
    if asked.kind == "roster":
        path = f"/v1/institutions/{query.pop('institution')}/physicians"
    pages: list[Page] = []
    cursor: str | None = None
    while len(pages) < 200:
        resp = await client.get(path, params={**query, **({"cursor": cursor} if cursor else {})})
        body = await resp.json()
        if resp.status != 200:
            return [*pages, Page(resp.status, [body], None)]
        cursor = body["next_cursor"]
        pages.append(Page(resp.status, _strip(body["items"]), cursor))
        if cursor is None:
            break
    return pages


async def _scanned_pages(store: Store, asked: Asked, aliases: AliasTable) -> list[Page]:
    """The same search as DuckDB column scans of the store, page by page with its own cursors,
    as the hub answered it before the index (roster rows with their relation)."""
    pages: list[Page] = []
    cursor: str | None = None
    code = asked.query.get("institution")
    while True:
        params = SearchParams.from_query({**asked.query, **({"cursor": cursor} if cursor else {})})
        rows, cursor = await run_search(store, params, aliases)
        items = []
        for row in rows:
            item = public_item(row)
            if asked.kind == "roster":
                item["relation"] = "primary" if row["org_code"] == code else "practice_site"
            items.append(item)
        pages.append(Page(200, _strip(items), cursor))
        if cursor is None:
            return pages


async def ask_everything(client: TestClient, reg: Registry, rng: random.Random) -> list[Asked]:
    """Pick the queries from the records the hub holds now, and ask the hub and the scans."""
    app = hub_app(client)
    store, aliases = app[STORE], app[ALIASES]
    rows = await store.fetch(ROW_SQL)
    asked = pick_queries(rows, reg, aliases, rng)
    for a in asked:
        a.served = await _served_pages(client, a)
        params = SearchParams.from_query({k: v for k, v in a.query.items() if k != "limit"})
        a.brute = [c for _, c in brute_force(rows, params, aliases)]
        a.scanned = await _scanned_pages(store, a, aliases)
    return asked


def _records(settings: HubSettings) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(cert_no, province, record_version, status) of every shown record: the index file's,
    the DuckDB file's (both closed)."""
    sql = "SELECT cert_no, province, record_version, status FROM records ORDER BY cert_no"
    con = sqlite3.connect(str(settings.serving_index_path))
    try:
        index = [tuple(r) for r in con.execute(sql)]
    finally:
        con.close()
    with duckdb.connect(str(settings.db_path), read_only=True) as duck:
        store = [tuple(r) for r in duck.execute(sql).fetchall()]
    return index, store


def _delete_from_index(settings: HubSettings, certs: Sequence[str]) -> None:
    """Lose rows of the index file (its triggers keep sites and institutions in step)."""
    con = sqlite3.connect(str(settings.serving_index_path))
    try:
        with con:
            con.executemany("DELETE FROM records WHERE cert_no = ?", [(c,) for c in certs])
    finally:
        con.close()


async def _scans_scenario(env: HubEnv, reg: Registry, more_steps: int) -> Scans:
    settings = env.settings()
    rng = random.Random(131)
    sent = {p: len(s) for p, s in reg.streams.items()}
    await send_events(env, interleave(reg.streams, rng))
    total = sum(sent.values())
    async with running_hub(settings) as client:
        await wait_both_sinks(client, total)
        live = await ask_everything(client, reg, rng)
    # Rows the index loses (hub stopped): the first of every live answer; only a rebuild of
    # the index (not a restart, which resumes from the index's offsets) brings them back.
    tampered = sorted({a.served_certs()[0] for a in live if a.served_certs()})
    _delete_from_index(settings, tampered)
    assert await _rebuild(settings, quiet=True) == 0
    index_rows, store_rows = await asyncio.to_thread(_records, settings)
    # More random steps, applied by the restarted hub on top of the rebuilt sinks.
    for _ in range(more_steps):
        reg.step()
    tail = {p: s[sent.get(p, 0) :] for p, s in reg.streams.items()}
    await send_events(env, interleave(tail, rng))
    total += sum(len(s) for s in tail.values())
    async with running_hub(settings) as client:
        await wait_both_sinks(client, total)
        rebuilt = await ask_everything(client, reg, rng)
    return Scans({"live": live, "rebuilt": rebuilt}, tampered, index_rows, store_rows)


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory, bootstrap: str) -> Scans:
    """About 3,000 records after 2,000 random steps, served live; the index loses rows, is
    rebuilt from the topics, the restarted hub applies 1,000 more steps; served again."""
    env = module_env(tmp_path_factory.mktemp("scans"), bootstrap)
    reg = build_registry(env, per_province=1000, steps=2000, seed=1313)
    add_alias_file(env, reg.aliases)  # the registry's abbreviations
    return asyncio.run(_scans_scenario(env, reg, more_steps=1000))


def _cases() -> Iterator[Any]:
    for phase in PHASES:
        for kind in KINDS:
            yield pytest.param(phase, kind, id=f"{phase}-{kind}")


@pytest.mark.parametrize(("phase", "kind"), list(_cases()))
def test_served_pages_are_the_duckdb_scans_pages(scans: Scans, phase: str, kind: str) -> None:
    for a in scans.asked[phase]:
        if a.kind == kind:
            assert a.served == a.scanned, a.query


@pytest.mark.parametrize(("phase", "kind"), list(_cases()))
def test_served_answers_are_what_a_brute_force_filter_finds(
    scans: Scans, phase: str, kind: str
) -> None:
    for a in scans.asked[phase]:
        if a.kind == kind:
            assert a.served_certs() == a.brute, a.query


@pytest.mark.parametrize("phase", PHASES)
def test_every_kind_was_asked_with_answers_and_with_several_pages(scans: Scans, phase: str) -> None:
    asked = scans.asked[phase]
    answered = {a.kind for a in asked if a.brute}
    paged = {a.kind for a in asked if len(a.brute) > int(a.query["limit"])}
    assert (answered, paged) == (set(KINDS), set(KINDS))


def test_the_rebuild_restores_what_the_index_had_lost(scans: Scans) -> None:
    assert scans.tampered
    assert scans.index_after_rebuild == scans.store_after_rebuild


# ---- 2. never older than what was applied --------------------------------------------------------

CERTS = (("50", cert("50", 7001)), ("50", cert("50", 7002)), ("44", cert("44", 7001)))
VERSIONS = 60  # of each certificate
BATCHES = 60  # the events arrive in this many sends, a little apart: as many applies
READERS = 4
TOKEN_READS_AT_ONCE = 8
NAMES = ("张伟", "王芳", "李娜", "欧阳明", "刘洋", "陈静")


@dataclass
class TokenRead:
    token: str
    cert_no: str
    version: int  # the version the token's event wrote
    applied_before: bool  # whether both sinks held the token when the read was sent
    status: int
    served: int | None  # the record_version the lookup served


@dataclass
class Fresh:
    # Per reader, in order: (cert_no, how, status, record_version; 0 while not held).
    seen: list[list[tuple[str, str, int, int]]]
    tokens: list[TokenRead]
    final: dict[str, int]  # cert_no -> record_version served once everything was applied


async def _version(client: TestClient, how: str, cert_no: str) -> tuple[int, int]:
    """(status, record_version) of a lookup, verify or FHIR read; version 0 while the hub
    does not hold the record (404, or a verify's null) or the read failed."""
    if how == "verify":
        body = orjson.dumps({"cert_no": cert_no, "name": "王小明"})
        resp = await client.post("/v1/verify", data=body)
    else:
        resp = await client.get(f"/v1/physicians/{cert_no}" + ("/fhir" if how == "fhir" else ""))
    if resp.status != 200:
        return resp.status, 0
    answer = await resp.json()
    if how == "fhir":
        return 200, int(answer["meta"]["versionId"])
    return 200, int(answer["record_version"] or 0)


async def _reader(
    client: TestClient, n: int, stop: asyncio.Event, seen: list[tuple[str, str, int, int]]
) -> None:
    """Poll lookups, verify and FHIR of every certificate in turn until stopped."""
    i = n
    while not stop.is_set():
        _, cert_no = CERTS[i % len(CERTS)]
        how = ("lookup", "verify", "fhir")[(i // len(CERTS)) % 3]
        seen.append((cert_no, how, *await _version(client, how, cert_no)))
        i += 1


async def _token_read(
    client: TestClient, event: Event, limit: asyncio.Semaphore, out: list[TokenRead]
) -> None:
    token = f"{event.province}:{event.seq}"
    async with limit:
        sinks = hub_app(client)[INGESTOR].sinks
        applied = sinks.is_seq_applied(event.province, event.seq)
        resp = await client.get(
            f"/v1/physicians/{event.cert_no}", params={"min_token": token, "wait": "10"}
        )
        served = int((await resp.json())["record_version"]) if resp.status == 200 else None
    out.append(TokenRead(token, event.cert_no, event.record_version, applied, resp.status, served))


def _change_stream(env: HubEnv, rng: random.Random) -> list[Event]:
    """VERSIONS versions of every certificate (a registration, then changes), interleaved;
    seqs are given in this order, so each province's stream is gap-free in it."""
    out: list[Event] = []
    for v in range(1, VERSIONS + 1):
        for province, cert_no in rng.sample(CERTS, len(CERTS)):
            kind = "registered" if v == 1 else "changed"
            out.append(make_event(env, kind, province, cert_no, v, name=rng.choice(NAMES)))
    return out


async def _fresh_scenario(env: HubEnv) -> Fresh:
    events = _change_stream(env, random.Random(7))
    size = math.ceil(len(events) / BATCHES)
    seen: list[list[tuple[str, str, int, int]]] = [[] for _ in range(READERS)]
    tokens: list[TokenRead] = []
    async with running_hub(env.settings()) as client, producer(env) as kafka:
        stop = asyncio.Event()
        readers = [asyncio.create_task(_reader(client, n, stop, seen[n])) for n in range(READERS)]
        limit = asyncio.Semaphore(TOKEN_READS_AT_ONCE)
        reads: list[asyncio.Task[None]] = []
        try:
            for start in range(0, len(events), size):
                batch = events[start : start + size]
                await send_with(kafka, [signed(env, e) for e in batch])
                reads += [asyncio.create_task(_token_read(client, e, limit, tokens)) for e in batch]
                await asyncio.sleep(0.02)
            await asyncio.gather(*reads)
        finally:
            stop.set()
            await asyncio.gather(*readers)
        final = {c: (await _version(client, "lookup", c))[1] for _, c in CERTS}
    return Fresh(seen, tokens, final)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory, bootstrap: str) -> Fresh:
    """Readers and token reads while the hub applies VERSIONS versions of a few certificates,
    sent to Kafka in BATCHES sends."""
    env = module_env(tmp_path_factory.mktemp("fresh"), bootstrap)
    return asyncio.run(_fresh_scenario(env))


def test_the_readers_ran_while_the_records_changed_and_tokens_were_awaited(
    fresh: Fresh,
) -> None:
    # The premise of the tests below: reads during the apply saw several versions of every
    # certificate, and many token reads were sent before their token was applied.
    seen = {c: {r[3] for reads in fresh.seen for r in reads if r[0] == c} for _, c in CERTS}
    waited = sum(not t.applied_before for t in fresh.tokens)
    assert min(len(v) for v in seen.values()) >= 5 and waited >= 10, (seen, waited)


def test_every_read_during_the_apply_was_answered(fresh: Fresh) -> None:
    # 404 only while the record is not held yet (a 404 after a version is a step back).
    failed = [r for reads in fresh.seen for r in reads if r[2] not in (200, 404)]
    assert failed == []


def test_a_reader_never_sees_a_record_go_back_to_an_older_version(fresh: Fresh) -> None:
    backwards = []
    for n, reads in enumerate(fresh.seen):
        last: dict[str, tuple[str, int]] = {}
        for cert_no, how, _, version in reads:
            before = last.get(cert_no)
            if before is not None and version < before[1]:
                backwards.append((n, cert_no, before, (how, version)))
            last[cert_no] = (how, version)
    assert backwards == []


def test_a_lookup_with_min_token_serves_at_least_the_tokens_version(fresh: Fresh) -> None:
    older = [t for t in fresh.tokens if t.status != 200 or (t.served or 0) < t.version]
    assert (len(fresh.tokens), older) == (VERSIONS * len(CERTS), [])


def test_once_everything_is_applied_every_record_is_served_at_its_last_version(
    fresh: Fresh,
) -> None:
    assert fresh.final == {c: VERSIONS for _, c in CERTS}
