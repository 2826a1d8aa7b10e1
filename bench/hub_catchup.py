"""Hub catch-up apply rate (issue #6, item 1).

Pre-fills the province topics (31 provinces, 3 partitions each) with signed `registered`
events, then in the same run drains them three ways and reports the rates and ratios:

* raw aiokafka: a bare AIOKafkaConsumer over every partition, no validation, no store;
* kcat: `kcat -C -G` over every topic, output discarded;
* the hub: `national-hub serve` started against the full topics, timed until its
  `regsync_hub_events_applied_total` + `..._rejected_total` reach the number of events.

    .venv/bin/python bench/hub_catchup.py [--events 1000000] [--provinces 31]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from common import (
    PARTITIONS,
    PROVINCES_31,
    RssSampler,
    cpu_seconds,
    emit,
    filled_federation,
    metric_sum,
    progress,
    start_hub,
    stderr,
    stop_process,
    tree_cpu_seconds,
    wait_http,
)


async def drain_aiokafka(bootstrap: str, topics: list[str], total: int) -> dict[str, Any]:
    """Read every message of the topics from offset 0 with a bare consumer; count them."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 << 20,
        fetch_max_bytes=64 << 20,
    )
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]
        ends = await consumer.end_offsets(tps)
        expected = sum(ends.values())
        n = 0
        nbytes = 0
        t0 = time.perf_counter()
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        while n < expected:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for msgs in batch.values():
                n += len(msgs)
                for m in msgs:
                    nbytes += len(m.value or b"")
        elapsed = time.perf_counter() - t0
    finally:
        await consumer.stop()
    return {
        "messages": n,
        "expected": total,
        "seconds": round(elapsed, 3),
        "events_per_s": round(n / elapsed, 1),
        "mib_per_s": round(nbytes / elapsed / 2**20, 1),
    }


def drain_kcat(bootstrap: str, topics: list[str], total: int) -> dict[str, Any]:
    """`kcat -C -G` (balanced consumer, from the beginning, exit at end) over every topic."""
    kcat = shutil.which("kcat") or "/usr/bin/kcat"
    cmd = [
        kcat,
        "-C",
        "-b",
        bootstrap,
        "-G",
        f"kcat-bench-{uuid.uuid4().hex[:8]}",
        "-X",
        "auto.offset.reset=earliest",
        "-o",
        "beginning",
        "-e",
        "-q",
        "-f",
        "%o\\n",
        *topics,
    ]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    n = 0
    t_first = t_last = 0.0
    assert proc.stdout is not None
    for _ in proc.stdout:
        if n == 0:
            t_first = time.perf_counter()
        n += 1
    t_last = time.perf_counter()
    proc.wait()
    elapsed = time.perf_counter() - t0
    streaming = max(t_last - t_first, 1e-9)
    err = proc.stderr.read().decode(errors="replace")[-500:] if proc.stderr else ""
    out: dict[str, Any] = {
        "messages": n,
        "expected": total,
        "seconds": round(elapsed, 3),
        "seconds_first_to_last": round(streaming, 3),
        "events_per_s": round(max(n - 1, 1) / streaming, 1),
        "events_per_s_incl_startup": round(n / elapsed, 1),
        "note": "events_per_s counts from the first message out (group join excluded)",
    }
    if proc.returncode != 0 or n != total:
        out["error"] = f"exit {proc.returncode}: {err}"
    return out


def run_hub(fed: Any, total: int) -> dict[str, Any]:
    """Start the hub on the full topics; time it until every event is applied or rejected."""
    t_spawn = time.perf_counter()
    hub = start_hub(fed)
    try:
        with RssSampler(hub.pid) as rss:
            wait_http(f"{fed.hub_url}/readyz", hub, timeout=120, log=fed.state / "hub.log")
            t_ready = time.perf_counter()
            done = 0.0
            with progress() as bar:
                task = bar.add_task("hub applying", total=total)
                while done < total:
                    if hub.poll() is not None:
                        raise RuntimeError(f"hub exited with {hub.returncode}")
                    applied = metric_sum(fed.hub_url, "regsync_hub_events_applied_total")
                    rejected = metric_sum(fed.hub_url, "regsync_hub_events_rejected_total")
                    done = applied + rejected
                    bar.update(task, completed=done)
                    if done < total:
                        # Each scrape costs the hub CPU (every labelled series is rendered).
                        time.sleep(0.5)
            t_done = time.perf_counter()
            cpu_main = cpu_seconds(hub.pid)
            cpu = tree_cpu_seconds(hub.pid)
        return {
            "events": total,
            "applied": int(applied),
            "rejected": int(rejected),
            "seconds_from_spawn": round(t_done - t_spawn, 3),
            "seconds_to_ready": round(t_ready - t_spawn, 3),
            "events_per_s": round(total / (t_done - t_spawn), 1),
            "events_per_s_after_ready": round(total / (t_done - t_ready), 1),
            "hub_cpu_seconds_main_process": round(cpu_main, 2),
            "hub_cpu_seconds_incl_decode_workers": round(cpu, 2),
            "hub_cpu_us_per_event": round(cpu / total * 1e6, 1),
            "hub_peak_rss_mib_main_process": round(rss.peak / 2**20, 1),
            "hub_peak_rss_mib_process_tree": round(rss.tree_peak / 2**20, 1),
        }
    finally:
        stop_process(hub)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000, help="events on the topics")
    ap.add_argument("--provinces", type=int, default=31, help="how many provinces (1-31)")
    ap.add_argument("--skip-kcat", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = ap.parse_args()
    provinces = PROVINCES_31[: args.provinces]

    with filled_federation(provinces, args.events, args.keep) as (fed, fill):
        topics = [fed.topic(c) for c in provinces]

        stderr.print("draining with aiokafka ...")
        raw = asyncio.run(drain_aiokafka(fed.bootstrap, topics, args.events))
        kc: dict[str, Any] | None = None
        if not args.skip_kcat:
            stderr.print("draining with kcat ...")
            kc = drain_kcat(fed.bootstrap, topics, args.events)
        stderr.print("starting the hub ...")
        hub = run_hub(fed, args.events)

    results: dict[str, Any] = {
        "fill": fill,
        "hub": hub,
        "raw_aiokafka": raw,
        "hub_over_raw_aiokafka": round(hub["events_per_s"] / raw["events_per_s"], 3),
    }
    if kc is not None:
        results["kcat"] = kc
        results["hub_over_kcat"] = round(hub["events_per_s"] / kc["events_per_s"], 4)
    emit("hub_catchup", args, results)


if __name__ == "__main__":
    main()
