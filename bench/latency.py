"""Commit-to-queryable latency (issue #6, item 3).

Runs province nodes and the hub as processes (devstack.stack.Stack on a Kafka of our own),
POSTs registrations to the nodes' HTTP APIs at a steady open-loop rate for --seconds, and
reports two latencies:

* hub apply time - province commit time, for every event (from the hub's `history` table,
  read after the hub stops: applied_at - committed_at);
* until a client polling GET /v1/physicians/{cert_no} on the hub sees the record, measured
  from the moment the node's 201 response arrived, for a sample (--poll-fraction) of the
  registrations, polled every --poll-interval-ms.

    .venv/bin/python bench/latency.py [--rate 1000] [--seconds 60] [--provinces 50,11,44]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
from pathlib import Path
from typing import Any

import aiohttp
import duckdb
import orjson
from common import (
    RssSampler,
    emit,
    free_stack_base,
    kafka,
    percentiles,
    progress,
    stderr,
    workdir,
)

from devstack.stack import Stack
from province_node import synthetic


async def load(
    stack: Stack,
    tokens: dict[str, str],
    rate: float,
    seconds: float,
    poll_fraction: float,
    poll_interval: float,
) -> dict[str, Any]:
    """Open-loop POSTs at `rate`/s spread over the provinces; sample polls on the hub."""
    provinces = stack.provinces
    total = int(rate * seconds)
    per = -(-total // len(provinces))
    bodies = {c: synthetic.registrations(c, per, seed=0) for c in provinces}
    hub = stack.url("hub")
    rng = random.Random(1)
    post_ms: list[float] = []
    visible_ms: list[float] = []
    statuses: dict[str, int] = {}
    late = 0
    polls = 0
    pending: set[asyncio.Task[None]] = set()
    conn = aiohttp.TCPConnector(limit=512)
    async with aiohttp.ClientSession(connector=conn) as session:

        async def poll(cert_no: str, t_commit: float) -> None:
            nonlocal polls
            deadline = t_commit + 30
            while time.perf_counter() < deadline:
                polls += 1
                async with session.get(f"{hub}/v1/physicians/{cert_no}") as resp:
                    await resp.read()
                    if resp.status == 200:
                        visible_ms.append((time.perf_counter() - t_commit) * 1000)
                        return
                await asyncio.sleep(poll_interval)
            statuses["never_visible"] = statuses.get("never_visible", 0) + 1

        async def register(code: str, body: dict[str, Any]) -> None:
            url = stack.url(f"province-{code}") + "/v1/registrations"
            headers = {
                "Authorization": f"Bearer {tokens[code]}",
                "Content-Type": "application/json",
            }
            t = time.perf_counter()
            async with session.post(url, data=orjson.dumps(body), headers=headers) as resp:
                await resp.read()
                t_commit = time.perf_counter()
                statuses[str(resp.status)] = statuses.get(str(resp.status), 0) + 1
            post_ms.append((t_commit - t) * 1000)
            if resp.status == 201 and rng.random() < poll_fraction:
                await poll(body["cert_no"], t_commit)

        with progress() as bar:
            task = bar.add_task(f"{rate:g}/s for {seconds:g}s", total=total)
            t0 = time.perf_counter()
            for i in range(total):
                due = t0 + i / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                elif delay < -0.05:
                    late += 1
                code = provinces[i % len(provinces)]
                job = asyncio.create_task(register(code, next(bodies[code])))
                pending.add(job)
                job.add_done_callback(pending.discard)
                if i % 100 == 0:
                    bar.update(task, completed=i)
            offered_s = time.perf_counter() - t0
            bar.update(task, completed=total)
            if pending:
                await asyncio.gather(*pending)
    return {
        "requested": total,
        "offered_seconds": round(offered_s, 3),
        "offered_rate": round(total / offered_s, 1),
        "sent_late_over_50ms": late,
        "statuses": statuses,
        "post_latency_ms": percentiles(post_ms),
        "client_visible_ms": percentiles(visible_ms),
        "client_polls": polls,
    }


def apply_latency(db: Path) -> dict[str, Any]:
    """applied_at - committed_at of every event in the stopped hub's history table."""
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT (epoch_us(applied_at) - epoch_us(committed_at)) / 1000.0 FROM history"
        ).fetchall()
    return percentiles([r[0] for r in rows])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=1000.0, help="registrations/s, all nodes")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--provinces", default="50,11,44", help="comma-separated province codes")
    ap.add_argument("--poll-fraction", type=float, default=0.1, help="share of records polled")
    ap.add_argument("--poll-interval-ms", type=float, default=10.0)
    ap.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = ap.parse_args()
    provinces = [c.strip() for c in args.provinces.split(",") if c.strip()]
    # Stack sets a per-IP limit unless one is given; the poller must not be throttled.
    os.environ.setdefault("REGSYNC_HUB_RATE_LIMIT", "off")

    with workdir(args.keep) as root, kafka(root) as cluster:
        stack = Stack(
            root / "fed",
            provinces,
            records=0,
            base_port=free_stack_base(),
            bootstrap=cluster.bootstrap,
            topic_prefix="bench",
        )
        try:
            stderr.print("starting the nodes and the hub ...")
            sec = stack.start()
            tokens = {c: sec.tokens[c]["registrar"] for c in provinces}
            hub_pid = stack.procs["hub"].pid
            with RssSampler(hub_pid) as rss:
                client = asyncio.run(
                    load(
                        stack,
                        tokens,
                        args.rate,
                        args.seconds,
                        args.poll_fraction,
                        args.poll_interval_ms / 1000,
                    )
                )
                time.sleep(3.0)  # let the tail of the events reach the hub
        finally:
            stack.stop()  # the Kafka is ours (kafka()), Stack.stop() leaves it alone
        applied = apply_latency(stack.state / "var" / "national.duckdb")

    emit(
        "latency",
        args,
        {
            "hub_apply_minus_commit_ms": applied,
            "client": client,
            "hub_peak_rss_mib": round(rss.peak / 2**20, 1),
            "hub_peak_rss_mib_process_tree": round(rss.tree_peak / 2**20, 1),
            "notes": (
                "client_visible_ms is measured from the node's 201 response to the first "
                "200 from the hub, for a sample of records, at the poll interval's resolution"
            ),
        },
    )


if __name__ == "__main__":
    main()
