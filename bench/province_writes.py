"""Province writes (issue #6, item 5).

Registrations/s through one node's HTTP API (POST /v1/registrations) at a given concurrency,
with the node's relay publishing to a Kafka of our own; and `province-node import` rows/s
from a JSON Lines file into a fresh province database.

    .venv/bin/python bench/province_writes.py [--requests 20000] [--concurrency 32]
        [--import-rows 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from common import (
    BIN,
    cpu_seconds,
    emit,
    federation,
    kafka,
    metric_sum,
    percentiles,
    progress,
    start_node,
    stderr,
    stop_process,
    wait_http,
    workdir,
)

from province_node import synthetic

HTTP_PROVINCE = "50"
IMPORT_PROVINCE = "44"


async def post_all(
    url: str, token: str, bodies: list[dict[str, Any]], concurrency: int, idem: bool
) -> dict[str, Any]:
    """POST every body with `concurrency` workers; latency per request in ms."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for b in bodies:
        queue.put_nowait(b)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn) as session:
        with progress() as bar:
            task = bar.add_task("POST /v1/registrations", total=len(bodies))

            async def worker() -> None:
                while True:
                    try:
                        body = queue.get_nowait()
                    except asyncio.QueueEmpty:
                        return
                    h = dict(headers)
                    if idem:
                        h["Idempotency-Key"] = str(uuid.uuid4())
                    t = time.perf_counter()
                    async with session.post(
                        f"{url}/v1/registrations", data=orjson.dumps(body), headers=h
                    ) as resp:
                        await resp.read()
                        statuses[resp.status] = statuses.get(resp.status, 0) + 1
                    latencies.append((time.perf_counter() - t) * 1000)
                    bar.advance(task)

            t0 = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            elapsed = time.perf_counter() - t0
    ok = statuses.get(201, 0)
    return {
        "requests": len(bodies),
        "concurrency": concurrency,
        "seconds": round(elapsed, 3),
        "registrations_per_s": round(ok / elapsed, 1),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "latency_ms": percentiles(latencies),
    }


def run_import(state: Path, config: Path, rows: int) -> dict[str, Any]:
    """Time `province-node import` of `rows` synthetic JSON Lines rows into a fresh DB."""
    import subprocess

    data = state / f"import-{IMPORT_PROVINCE}.jsonl"
    synthetic.write_jsonl(data, synthetic.registrations(IMPORT_PROVINCE, rows, seed=1))
    cmd = [
        str(BIN / "province-node"),
        "import",
        "--config",
        str(config),
        "--province",
        IMPORT_PROVINCE,
        "--no-progress",
        str(data),
    ]
    stderr.print(f"importing {rows} rows ...")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=state, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"import failed: {proc.stdout}{proc.stderr}")
    return {
        "rows": rows,
        "seconds": round(elapsed, 3),
        "rows_per_s": round(rows / elapsed, 1),
        "note": "wall time of the whole CLI process, including interpreter start-up",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=20_000, help="registrations to POST")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--import-rows", type=int, default=100_000, help="0 skips the import run")
    ap.add_argument("--idempotency-key", action="store_true", help="send Idempotency-Key")
    ap.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = ap.parse_args()

    with workdir(args.keep) as root, kafka(root) as cluster:
        fed = federation(root / "fed", [HTTP_PROVINCE, IMPORT_PROVINCE], cluster.bootstrap)
        results: dict[str, Any] = {}
        node = start_node(fed, HTTP_PROVINCE)
        try:
            url = fed.node_url(HTTP_PROVINCE)
            wait_http(f"{url}/healthz", node, log=fed.state / f"province-{HTTP_PROVINCE}.log")
            bodies = list(synthetic.registrations(HTTP_PROVINCE, args.requests, seed=0))
            token = fed.secrets.tokens[HTTP_PROVINCE]["registrar"]
            cpu0 = cpu_seconds(node.pid)
            http = asyncio.run(post_all(url, token, bodies, args.concurrency, args.idempotency_key))
            http["node_cpu_seconds"] = round(cpu_seconds(node.pid) - cpu0, 2)
            # How far the relay got publishing those events to Kafka by the end.
            time.sleep(1.0)
            http["published_after_1s"] = _published(url)
            results["http"] = http
        finally:
            stop_process(node)
        if args.import_rows:
            results["import"] = run_import(fed.state, fed.config, args.import_rows)
    emit("province_writes", args, results)


def _published(url: str) -> Any:
    try:
        return metric_sum(url, "regsync_node_events_published_total")
    except Exception as exc:
        return f"unavailable: {exc}"


if __name__ == "__main__":
    main()
