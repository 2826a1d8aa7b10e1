"""Cheap lookups while another client floods expensive reads (issue 12, finding 11).

Fills the topics with --records `registered` events for provinces 50, 11 and 44, runs their
province nodes (the hub asks them about numbers it does not hold) and `national-hub serve`,
waits for the catch-up, then measures record lookups (`GET /v1/physicians/{cert_no}` of held
records) at a steady open-loop --lookup-rate from 127.0.0.2, three times:

* alone: nothing else runs;
* flood: `wrk` (--flood-connections connections, closed loop, from 127.0.0.1, a different
  client for the hub's per-client limits) sends, alternately, explanations without a province
  (`GET /v1/sync/explain?cert_no=…`: every node is asked) of --unknown-pool numbers no province
  holds, and two-letter pinyin searches (`GET /v1/physicians?name=zh`), under the hub's default
  rate limit (50/s, burst 100, per client);
* flood_unlimited: the same flood with the rate limit off (as from many addresses): what the
  hub's isolation of cheap from expensive work does on its own.

The hub is restarted between the limited and the unlimited runs (the rate limit is read at
start). Lookup latency is measured end to end by an aiohttp client; the flood's numbers are
wrk's. Needs Debian's `wrk` (`apt-get install wrk`).

    .venv/bin/python bench/expensive_reads.py [--records 200000] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from common import (
    BIN,
    Federation,
    emit,
    filled_federation,
    percentiles,
    spawn,
    start_node,
    stderr,
    stop_process,
    wait_http,
)

from province_node import synthetic

PROVINCES = ("50", "11", "44")

WRK_SCRIPT = """
local pinyin = {"zh", "wa", "li", "ch", "ha", "we"}
local counter = 0
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) ok = 0; limited = 0; other = 0; explains = 0; searches = 0 end
function request()
  counter = counter + 1
  if counter % 2 == 0 then
    explains = explains + 1
    return wrk.format("GET", string.format("/v1/sync/explain?cert_no=50999%010d",
                                           math.random(1, POOL)))
  end
  searches = searches + 1
  return wrk.format("GET", "/v1/physicians?name=" .. pinyin[math.random(#pinyin)])
end
function response(status, headers, body)
  if status == 200 then ok = ok + 1
  elseif status == 429 then limited = limited + 1
  else other = other + 1 end
end
function done(summary, latency, requests)
  local o, l, x = 0, 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok"); l = l + t:get("limited"); x = x + t:get("other")
  end
  io.write(string.format("STATUS %d %d %d\\n", o, l, x))
  for _, p in ipairs({50, 90, 99}) do
    io.write(string.format("PCT %d %.3f\\n", p, latency:percentile(p) / 1000.0))
  end
end
"""


def held_cert_nos(per_province: int, count: int) -> list[str]:
    """Certificate numbers the hub holds (the first `count` of each province's fill)."""
    out: list[str] = []
    for code in PROVINCES:
        for i, body in enumerate(synthetic.registrations(code, per_province, 0, 0)):
            if i >= count:
                break
            out.append(body["cert_no"])
    return out


def start_hub(fed: Federation, rate_limit: str) -> Any:
    return spawn(
        [str(BIN / "national-hub"), "serve", "--config", str(fed.config)],
        cwd=fed.state,
        log=fed.state / "hub.log",
        env={"REGSYNC_HUB_RATE_LIMIT": rate_limit},
    )


async def wait_caught_up(hub: str, total: int, within: float = 600.0) -> float:
    """Seconds until the hub holds `total` records."""
    t0 = time.monotonic()
    async with aiohttp.ClientSession() as http:
        while time.monotonic() - t0 < within:
            async with http.get(f"{hub}/v1/stats") as resp:
                if resp.status == 200 and (await resp.json())["total"] >= total:
                    return round(time.monotonic() - t0, 1)
            await asyncio.sleep(1.0)
    raise RuntimeError(f"the hub did not hold {total} records within {within:.0f}s")


async def lookups(hub: str, certs: list[str], rate: float, seconds: float) -> dict[str, Any]:
    """Open-loop lookups at `rate`/s from 127.0.0.2 for `seconds`: latency and statuses."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0), limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def one(cert: str) -> None:
            t = time.perf_counter()
            try:
                async with http.get(f"{hub}/v1/physicians/{cert}") as resp:
                    await resp.read()
                    key = str(resp.status)
            except aiohttp.ClientError as exc:
                key = type(exc).__name__
            latencies.append((time.perf_counter() - t) * 1000)
            statuses[key] = statuses.get(key, 0) + 1

        loop = asyncio.get_running_loop()
        start = loop.time()
        tasks = []
        i = 0
        while (due := start + i / rate) < start + seconds:
            await asyncio.sleep(max(0.0, due - loop.time()))
            tasks.append(asyncio.create_task(one(random.choice(certs))))
            i += 1
        await asyncio.gather(*tasks)
    return {"latency_ms": percentiles(latencies), "statuses": statuses}


def flood(hub: str, script: Path, connections: int, seconds: float) -> subprocess.Popen[str]:
    """wrk in the background: the noisy neighbour."""
    return subprocess.Popen(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            hub,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def flood_result(proc: subprocess.Popen[str], seconds: float) -> dict[str, Any]:
    out, _ = proc.communicate(timeout=seconds + 60)
    m = re.search(r"STATUS (\d+) (\d+) (\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    if m is None or total is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    ok, limited, other = (int(g) for g in m.groups())
    pct = {f"p{p}": float(v) for p, v in re.findall(r"PCT (\d+) ([\d.]+)", out)}
    return {
        "requests": int(total.group(1)),
        "ok_per_s": round(ok / seconds, 1),
        "rate_limited_per_s": round(limited / seconds, 1),
        "other_statuses": other,
        "latency_ms": pct,
    }


async def measure(
    hub: str, certs: list[str], args: argparse.Namespace, script: Path | None
) -> dict[str, Any]:
    proc = None
    if script is not None:
        proc = flood(hub, script, args.flood_connections, args.seconds + 2)
        await asyncio.sleep(2.0)  # let the flood build up first
    result: dict[str, Any] = {"lookups": await lookups(hub, certs, args.lookup_rate, args.seconds)}
    if proc is not None:
        result["flood"] = flood_result(proc, args.seconds + 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000, help="records, all provinces")
    parser.add_argument("--seconds", type=float, default=20.0, help="per measurement")
    parser.add_argument("--lookup-rate", type=float, default=40.0, help="lookups per second")
    parser.add_argument("--flood-connections", type=int, default=32)
    parser.add_argument("--unknown-pool", type=int, default=50, help="distinct unknown numbers")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk")

    results: dict[str, Any] = {}
    with filled_federation(PROVINCES, args.records, keep=args.keep) as (fed, fill):
        results["fill"] = fill
        per_province = args.records // len(PROVINCES)
        certs = held_cert_nos(per_province, 300)
        script = Path(tempfile.mkdtemp(prefix="regsync-wrk-")) / "flood.lua"
        script.write_text(f"POOL = {args.unknown_pool}\n" + WRK_SCRIPT)
        nodes = [start_node(fed, code) for code in PROVINCES]
        hub = None
        try:
            for code, node in zip(PROVINCES, nodes, strict=True):
                log = fed.state / f"province-{code}.log"
                wait_http(f"{fed.node_url(code)}/healthz", node, log=log)
            for limit, runs in (("", ("alone", "flood")), ("off", ("flood_unlimited",))):
                hub = start_hub(fed, limit)
                wait_http(f"{fed.hub_url}/readyz", hub, log=fed.state / "hub.log")
                caught = asyncio.run(wait_caught_up(fed.hub_url, per_province * len(PROVINCES)))
                results.setdefault("catchup_seconds", caught)
                for run in runs:
                    stderr.print(f"measuring {run} ...")
                    results[run] = asyncio.run(
                        measure(fed.hub_url, certs, args, None if run == "alone" else script)
                    )
                stop_process(hub)
                hub = None
        finally:
            stop_process(hub)
            for node in nodes:
                stop_process(node)
    emit("expensive_reads", args, results)


if __name__ == "__main__":
    main()
