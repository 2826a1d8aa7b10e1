"""Hub ingest benchmarks on a real broker and DuckDB file.

Catch-up: pre-produce N signed events, then time the hub until it has stored them all.
    .venv/bin/python tests/national_hub/bench_apply.py --events 100000 [--bootstrap HOST:PORT]
Live: produce at a steady rate while the hub runs; report commit-to-applied percentiles.
    .venv/bin/python tests/national_hub/bench_apply.py --live-rate 1000 --seconds 20

Without --bootstrap a throwaway single-node Kafka is started (devstack.kafka).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from hubkit import LIFECYCLE, HubEnv, create_topics, make_event, producer, signed, write_federation

from devstack.kafka import KafkaCluster, free_base_port
from national_hub.ingest.ingestor import Ingestor, measure_offsets
from national_hub.store.store import Store
from schemas.events import Event


def build_events(env: HubEnv, total: int, provinces: tuple[str, ...]) -> list[Event]:
    """About 70% first registrations, the rest later lifecycle steps of random records."""
    rng = random.Random(7)
    n_records = max(1, int(total * 0.7))
    versions: dict[tuple[str, str], int] = {}
    events: list[Event] = []
    for i in range(n_records):
        p = provinces[i % len(provinces)]
        c = f"{p}{i:013d}"
        versions[(p, c)] = 1
        name = rng.choice("张王李赵刘陈") + "伟"
        events.append(make_event(env, "registered", p, c, 1, name=name))
    keys = list(versions)
    kinds = [k for k in LIFECYCLE if k not in ("registered", "cancelled")]
    for _ in range(total - n_records):
        p, c = rng.choice(keys)
        versions[(p, c)] += 1
        events.append(make_event(env, rng.choice(kinds), p, c, versions[(p, c)]))
    return events


async def produce(env: HubEnv, events: list[Event]) -> None:
    async with producer(env) as p:
        futs = []
        for e in events:
            m = signed(env, e)
            futs.append(await p.send(m.topic, m.value, key=m.key, headers=m.headers))
            if len(futs) >= 5000:
                await asyncio.gather(*futs)
                futs.clear()
        await asyncio.gather(*futs)


async def run(bootstrap: str, total: int, root: Path) -> None:
    provinces = ("50", "44", "11")
    env = write_federation(root, bootstrap, f"bench{int(time.time())}", provinces)
    await create_topics(env)
    t0 = time.monotonic()
    events = build_events(env, total, provinces)
    await produce(env, events)
    print(f"produced {total} events in {time.monotonic() - t0:.1f}s", flush=True)
    settings = env.settings()
    ends = await measure_offsets(settings)
    target = {tp: end for tp, (_, end) in ends.items()}
    store = Store.open(settings.db_path)
    ingestor = Ingestor(settings, store)
    t0 = time.monotonic()
    await ingestor.start()
    while True:
        stored = store.offsets()
        if all(stored.get(tp, 0) >= end for tp, end in target.items()):
            break
        await asyncio.sleep(0.05)
    elapsed = time.monotonic() - t0
    await ingestor.stop()
    n = store.fetch_sync("SELECT count(*) AS n FROM records")[0]["n"]
    h = store.fetch_sync("SELECT count(*) AS n FROM history")[0]["n"]
    store.close()
    print(
        f"caught up {total} events in {elapsed:.2f}s = {total / elapsed:,.0f} events/s "
        f"({n} records, {h} history rows, {ingestor.batches_applied} batches)"
    )


async def run_live(bootstrap: str, rate: int, seconds: float, root: Path) -> None:
    provinces = ("50", "44", "11")
    env = write_federation(root, bootstrap, f"live{int(time.time())}", provinces)
    await create_topics(env)
    settings = env.settings()
    store = Store.open(settings.db_path)
    ingestor = Ingestor(settings, store)
    await ingestor.start()
    await ingestor.wait_ready(30)
    versions: dict[str, int] = {}
    n = 0
    async with producer(env) as p:
        t0 = time.monotonic()
        tick = 0.01
        while time.monotonic() - t0 < seconds:
            due = int((time.monotonic() - t0) * rate)
            futs = []
            while n < due:
                province = provinces[n % 3]
                c = f"{province}{n % 20000:013d}"
                v = versions.get(c, 0) + 1
                versions[c] = v
                kind = "registered" if v == 1 else ("suspended", "reinstated")[v % 2]
                m = signed(env, make_event(env, kind, province, c, v))
                futs.append(await p.send(m.topic, m.value, key=m.key, headers=m.headers))
                n += 1
            if futs:
                await asyncio.gather(*futs)
            await asyncio.sleep(tick)
    await asyncio.sleep(2)
    await ingestor.stop()
    rows = store.fetch_sync(
        "SELECT quantile_cont(d, [0.5, 0.9, 0.99, 1.0]) AS q, count(*) AS n FROM ("
        " SELECT epoch_ms(applied_at) - epoch_ms(committed_at) AS d FROM history)"
    )
    store.close()
    q = rows[0]["q"]
    print(
        f"{rows[0]['n']} events at {rate}/s: commit-to-applied ms "
        f"p50={q[0]:.0f} p90={q[1]:.0f} p99={q[2]:.0f} max={q[3]:.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--bootstrap")
    parser.add_argument("--live-rate", type=int)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    cluster = None
    try:
        bootstrap = args.bootstrap
        if bootstrap is None:
            cluster = KafkaCluster(root / "kafka", brokers=1, base_port=free_base_port(1))
            cluster.start()
            bootstrap = cluster.bootstrap
        if args.live_rate:
            asyncio.run(run_live(bootstrap, args.live_rate, args.seconds, root / "fed"))
        else:
            asyncio.run(run(bootstrap, args.events, root / "fed"))
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
