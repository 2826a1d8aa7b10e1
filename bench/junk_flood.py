"""Unsigned junk on a province's topic: what it costs the hub (issue 12, finding 5).

Runs nodes 50 and 11 and the hub as processes (devstack.stack.Stack on a Kafka of our own).
Measures read-your-writes for province 11 (POST a registration to node 11, then GET
/v1/physicians/{cert_no}?min_token=<its sync token>&wait=10 on the hub, timed from the 201)
first with nothing else going on, then while --junk unsigned messages of --junk-kb KB each are
produced onto 50's events topic at --junk-rate per second. Reports both latency
distributions, how much the hub's DuckDB file (with its WAL) grew, and what the hub then
says about province 50 (its public dead-letter count) and counts as unauthenticated.

    .venv/bin/python bench/junk_flood.py [--junk 100] [--junk-kb 900] [--writes 40]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaProducer
from common import emit, free_stack_base, kafka, metric_sum, percentiles, stderr, workdir

from devstack.stack import Stack
from province_node import synthetic


def db_bytes(state: Path) -> int:
    """The hub's DuckDB file and its WAL."""
    total = 0
    for name in ("national.duckdb", "national.duckdb.wal"):
        path = state / "var" / name
        if path.exists():
            total += path.stat().st_size
    return total


async def read_your_writes(
    http: aiohttp.ClientSession,
    node: str,
    hub: str,
    token: str,
    bodies: list[dict[str, Any]],
    interval: float,
) -> list[float]:
    """Milliseconds from each registration's 201 until the hub serves it (min_token wait)."""
    out: list[float] = []
    auth = {"Authorization": f"Bearer {token}"}
    for body in bodies:
        async with http.post(f"{node}/v1/registrations", json=body, headers=auth) as resp:
            assert resp.status == 201, await resp.text()
            sync_token = (await resp.json())["sync_token"]
        t0 = time.perf_counter()
        url = f"{hub}/v1/physicians/{body['cert_no']}"
        async with http.get(url, params={"min_token": sync_token, "wait": "10"}) as resp:
            assert resp.status == 200, await resp.text()
        out.append((time.perf_counter() - t0) * 1000)
        await asyncio.sleep(interval)
    return out


async def flood(bootstrap: str, topic: str, n: int, size: int, rate: float) -> float:
    """Produce n unsigned random messages of `size` bytes at `rate`/s; seconds it took."""
    rng = random.Random(5)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, max_request_size=2 * 1024 * 1024, linger_ms=0
    )
    await producer.start()
    t0 = time.perf_counter()
    try:
        for i in range(n):
            key = f"50{5000 + i:013d}".encode()
            await (await producer.send(topic, rng.randbytes(size), key=key))
            behind = t0 + (i + 1) / rate - time.perf_counter()
            if behind > 0:
                await asyncio.sleep(behind)
    finally:
        await producer.stop()
    return time.perf_counter() - t0


def status_of(hub: str, code: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{hub}/v1/sync/status", timeout=10) as resp:
        body = orjson.loads(resp.read())
    return next(p for p in body["provinces"] if p["province"] == code)


async def run(args: argparse.Namespace, stack: Stack, tokens: dict[str, str]) -> dict[str, Any]:
    hub, node = stack.url("hub"), stack.url("province-11")
    bodies = list(synthetic.registrations("11", 2 * args.writes, seed=91))
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        # Warm up (first requests open connections, the hub's caches fill).
        await read_your_writes(http, node, hub, tokens["11"], bodies[:3], 0.05)
        quiet = await read_your_writes(
            http, node, hub, tokens["11"], bodies[3 : args.writes], args.interval
        )
        before = db_bytes(stack.state)
        stderr.print(f"flooding {args.junk} x {args.junk_kb} KB ...")
        flooding = asyncio.create_task(
            flood(
                stack.bootstrap,
                f"{stack.topic_prefix}.events.50",
                args.junk,
                args.junk_kb * 1024,
                args.junk_rate,
            )
        )
        during: list[float] = []
        rest = bodies[args.writes :]
        while not flooding.done() and rest:
            during += await read_your_writes(http, node, hub, tokens["11"], rest[:1], args.interval)
            rest = rest[1:]
        flood_s = await flooding
        # Let the hub work through what is left, then a checkpoint-free size reading.
        await asyncio.sleep(args.settle)
        after = db_bytes(stack.state)
    status = status_of(hub, "50")
    return {
        "read_your_writes_ms_quiet": percentiles(quiet),
        "read_your_writes_ms_during_flood": percentiles(during),
        "writes_during_flood": len(during),
        "flood_seconds": round(flood_s, 2),
        "db_growth_bytes": after - before,
        "province_50_public_dead_letters": status["dead_letters"],
        "unauthenticated_counted": metric_sum(hub, "regsync_hub_unauthenticated_messages_total"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--junk", type=int, default=100)
    ap.add_argument("--junk-kb", type=int, default=900)
    ap.add_argument("--junk-rate", type=float, default=20.0)
    ap.add_argument("--writes", type=int, default=40)
    ap.add_argument("--interval", type=float, default=0.05)
    ap.add_argument("--settle", type=float, default=5.0)
    args = ap.parse_args()
    with workdir() as root, kafka(root) as cluster:
        stack = Stack(
            root / "fed",
            ["50", "11"],
            records=0,
            base_port=free_stack_base(),
            bootstrap=cluster.bootstrap,
            topic_prefix="bench",
        )
        try:
            stderr.print("starting the nodes and the hub ...")
            sec = stack.start()
            tokens = {c: sec.tokens[c]["registrar"] for c in ("50", "11")}
            results = asyncio.run(run(args, stack, tokens))
        finally:
            stack.stop()
    emit("junk_flood", args, results)


if __name__ == "__main__":
    main()
