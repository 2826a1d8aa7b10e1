"""Queries on a full hub while ingest runs (issue #6, item 4).

Fills the topics with --records `registered` events over 31 provinces, lets `national-hub
serve` catch up, then keeps producing --ingest-rate new events/s while, for each query kind in
turn, --concurrency clients issue requests for --seconds: lookup, name + province search,
pinyin search, institution roster, verify, stats. Afterwards (the hub stopped, since DuckDB
lets one process hold the file) the same queries go straight to DuckDB from Python, through
the hub's own reads (national_hub.query.search.run_search; national_hub.store.reads for
the lookup/verify record and the stats GROUP BY), one at a time: the floor. The report gives
HTTP p50 / floor p50 per kind.

    .venv/bin/python bench/queries.py [--records 5000000] [--seconds 20] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import duckdb
import orjson
from aiokafka import AIOKafkaProducer
from common import (
    PROVINCES_31,
    Federation,
    RssSampler,
    emit,
    filled_federation,
    metric_sum,
    percentiles,
    progress,
    registered_value,
    run_rebuild,
    split,
    start_hub,
    stderr,
    stop_process,
    wait_http,
)

from national_hub.config import HubSettings
from national_hub.ingest.names import pinyin_key
from national_hub.query.aliases import AliasTable
from national_hub.query.search import SearchParams, run_search
from national_hub.store import reads
from province_node import synthetic
from schemas.wire import signed_headers

KINDS = ("lookup", "name_province", "pinyin", "roster", "verify", "stats")
STATS_GROUPS = "province,category,status"


@dataclass(frozen=True)
class Sample:
    cert_no: str
    name: str
    province: str
    org_code: str
    institution: str
    category: str


def samples(provinces: Sequence[str], counts: Sequence[int], per: int = 300) -> list[Sample]:
    """Records known to be on the topics (the first `per` of each province)."""
    out = []
    for code, n in zip(provinces, counts, strict=True):
        for r in synthetic.registrations(code, min(per, n), seed=0):
            out.append(
                Sample(
                    r["cert_no"],
                    r["name"],
                    code,
                    r["primary_institution"]["org_code"],
                    r["primary_institution"]["name"],
                    r["category"],
                )
            )
    return out


def http_request(kind: str, s: Sample) -> tuple[str, str, bytes | None]:
    """(method, path, body) of one query of a kind about one sample record."""
    if kind == "lookup":
        return "GET", f"/v1/physicians/{s.cert_no}", None
    if kind == "name_province":
        return "GET", f"/v1/physicians?name={s.name}&province={s.province}", None
    if kind == "pinyin":
        return "GET", f"/v1/physicians?name={pinyin_key(s.name)}", None
    if kind == "roster":
        return "GET", f"/v1/institutions/{s.org_code}/physicians", None
    if kind == "verify":
        body = {
            "cert_no": s.cert_no,
            "name": s.name,
            "institution": s.institution,
            "category": s.category,
        }
        return "POST", "/v1/verify", orjson.dumps(body)
    return "GET", f"/v1/stats?group_by={STATS_GROUPS}", None


async def http_kind(
    base: str, kind: str, pool: list[Sample], concurrency: int, seconds: float
) -> dict[str, Any]:
    """`concurrency` closed-loop clients issuing one kind of query for `seconds`."""
    lat: list[float] = []
    statuses: dict[str, int] = {}
    rng = random.Random(kind)
    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn) as session:
        end = time.perf_counter() + seconds

        async def client() -> None:
            while time.perf_counter() < end:
                method, path, body = http_request(kind, rng.choice(pool))
                headers = {"Content-Type": "application/json"} if body else None
                t = time.perf_counter()
                async with session.request(method, base + path, data=body, headers=headers) as resp:
                    await resp.read()
                    lat.append((time.perf_counter() - t) * 1000)
                    key = str(resp.status)
                    statuses[key] = statuses.get(key, 0) + 1

        t0 = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    return {
        "requests_per_s": round(len(lat) / elapsed, 1),
        "latency_ms": percentiles(lat),
        "statuses": statuses,
    }


class DuckFetcher:
    """national_hub.query.search.Fetcher over a read-only DuckDB connection (synchronous inside)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cur = self.con.execute(sql, list(params))
        cols = [d[0] for d in cur.description or ()]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    async def fetch_one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        rows = await self.fetch(sql, params)
        return rows[0] if rows else None


async def floor_kind(
    f: DuckFetcher, aliases: AliasTable, kind: str, pool: list[Sample], seconds: float
) -> dict[str, Any]:
    """The same query straight on DuckDB, sequentially, for `seconds`."""
    rng = random.Random(kind)
    lat: list[float] = []
    end = time.perf_counter() + seconds
    t0 = time.perf_counter()
    while time.perf_counter() < end:
        s = rng.choice(pool)
        t = time.perf_counter()
        if kind in ("lookup", "verify"):
            await reads.record(f, s.cert_no)
        elif kind == "stats":
            await reads.stats_counts(f, reads.STATS_GROUPS)
        else:
            q = {
                "name_province": {"name": s.name, "province": s.province},
                "pinyin": {"name": pinyin_key(s.name)},
                "roster": {"institution": s.org_code},
            }[kind]
            await run_search(f, SearchParams.from_query(q), aliases)
        lat.append((time.perf_counter() - t) * 1000)
    elapsed = time.perf_counter() - t0
    return {"queries_per_s_1_thread": round(len(lat) / elapsed, 1), "latency_ms": percentiles(lat)}


_SPAWN = multiprocessing.get_context("spawn")


class Ingest(_SPAWN.Process):  # type: ignore[name-defined,misc]
    """Produces new `registered` events at a steady rate, continuing each province's seq.

    Its own process: as a thread it shared the GIL with the HTTP clients and fell short of
    the rate.
    """

    def __init__(self, fed: Federation, counts: Sequence[int], rate: float) -> None:
        super().__init__(daemon=True)
        self.fed = fed
        self.next = dict(zip(fed.provinces, counts, strict=True))
        self.rate = rate
        self.sent_count = _SPAWN.Value("q", 0)
        self.stop_flag = _SPAWN.Event()

    @property
    def sent(self) -> int:
        return int(self.sent_count.value)

    def run(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        fed = self.fed
        secret = fed.person_secret
        signers = {c: fed.signer(c) for c in fed.provinces}
        producer = AIOKafkaProducer(
            bootstrap_servers=fed.bootstrap, enable_idempotence=True, acks="all", linger_ms=5
        )
        await producer.start()
        try:
            t0 = time.perf_counter()
            i = 0
            while not self.stop_flag.is_set():
                due = int((time.perf_counter() - t0) * self.rate)
                futures = []
                while i < due:
                    code = fed.provinces[i % len(fed.provinces)]
                    n = self.next[code]
                    body = next(synthetic.registrations(code, 1, seed=0, start=n))
                    value = registered_value(code, n + 1, body, secret)
                    futures.append(
                        await producer.send(
                            fed.topic(code),
                            value,
                            key=body["cert_no"].encode(),
                            headers=signed_headers(signers[code], value),
                        )
                    )
                    self.next[code] = n + 1
                    i += 1
                if futures:
                    await asyncio.gather(*futures)
                    with self.sent_count.get_lock():
                        self.sent_count.value += len(futures)
                await asyncio.sleep(0.01)
        finally:
            await producer.stop()


def wait_caught_up(fed: Federation, hub: Any, total: int) -> float:
    """Wait until the hub has applied (or rejected) `total` events; return seconds taken."""
    t0 = time.perf_counter()
    done = 0.0
    with progress() as bar:
        task = bar.add_task("hub catching up", total=total)
        while done < total:
            if hub.poll() is not None:
                raise RuntimeError(f"hub exited with {hub.returncode}")
            done = metric_sum(fed.hub_url, "regsync_hub_events_applied_total") + metric_sum(
                fed.hub_url, "regsync_hub_events_rejected_total"
            )
            bar.update(task, completed=done)
            time.sleep(0.5)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=5_000_000, help="records on the hub")
    ap.add_argument("--provinces", type=int, default=31)
    ap.add_argument("--ingest-rate", type=float, default=1000.0, help="events/s during queries")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=20.0, help="per query kind (HTTP)")
    ap.add_argument("--floor-seconds", type=float, default=5.0, help="per query kind (DuckDB)")
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument(
        "--fill-with",
        choices=("serve", "rebuild"),
        default="serve",
        help="how the hub takes in the records: `national-hub serve` catching up, or "
        "`national-hub rebuild` first (its figures are then reported as item 2's too)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = ap.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    provinces = PROVINCES_31[: args.provinces]
    counts = split(args.records, len(provinces))
    pool = samples(provinces, counts)

    http: dict[str, Any] = {}
    floor: dict[str, Any] = {}
    with filled_federation(provinces, args.records, args.keep) as (fed, fill):
        rebuild = run_rebuild(fed, args.records) if args.fill_with == "rebuild" else None
        hub = start_hub(fed)
        ingest: Ingest | None = None
        try:
            with RssSampler(hub.pid) as rss:
                wait_http(f"{fed.hub_url}/readyz", hub, timeout=300, log=fed.state / "hub.log")
                # After a rebuild the store already holds every event (and the serving
                # hub's counters start at zero, so there is nothing to wait for).
                catchup_s = 0.0 if rebuild else wait_caught_up(fed, hub, args.records)
                if args.ingest_rate > 0:
                    ingest = Ingest(fed, counts, args.ingest_rate)
                    ingest.start()
                t_ingest = time.perf_counter()
                for kind in kinds:
                    stderr.print(f"HTTP {kind} at concurrency {args.concurrency} ...")
                    http[kind] = asyncio.run(
                        http_kind(fed.hub_url, kind, pool, args.concurrency, args.seconds)
                    )
                ingest_s = time.perf_counter() - t_ingest
                if ingest is not None:
                    ingest.stop_flag.set()
                    ingest.join()
        finally:
            if ingest is not None:
                ingest.stop_flag.set()
            stop_process(hub)
        settings = HubSettings.load(fed.config)
        aliases = AliasTable.load(settings.aliases_file)
        with duckdb.connect(str(fed.db), read_only=True) as con:
            held = con.execute("SELECT count(*) FROM records").fetchone()
            f = DuckFetcher(con)
            for kind in kinds:
                stderr.print(f"DuckDB floor {kind} ...")
                floor[kind] = asyncio.run(floor_kind(f, aliases, kind, pool, args.floor_seconds))

    ratios = {
        k: round(http[k]["latency_ms"]["p50"] / floor[k]["latency_ms"]["p50"], 2)
        for k in kinds
        if floor[k]["latency_ms"].get("p50")
    }
    emit(
        "queries",
        args,
        {
            "fill": fill,
            "rebuild": rebuild,
            "catchup_seconds": round(catchup_s, 2),
            "records_held_at_end": held[0] if held else None,
            "ingest": {
                "events_sent": ingest.sent if ingest else 0,
                "rate_achieved": round(ingest.sent / ingest_s, 1) if ingest else 0,
            },
            "hub_peak_rss_mib": round(rss.peak / 2**20, 1),
            "hub_peak_rss_mib_process_tree": round(rss.tree_peak / 2**20, 1),
            "http": http,
            "duckdb_floor": floor,
            "http_p50_over_floor_p50": ratios,
            "notes": (
                "floor: one query at a time after the hub stopped (DuckDB locks the file), "
                "no concurrent ingest; HTTP: concurrency clients while ingest runs"
            ),
        },
    )


if __name__ == "__main__":
    main()
