"""National reads at registry scale (issue 13, item 5).

    .venv/bin/python bench/national_reads.py [--records 5000000] [--seconds 60] \\
        [--connections 16] [--rate 100] [--mode steady|catchup|both] [--backlog 1000000] \\
        > bench/results/national_reads_5m.json

What it builds: a Kafka of its own and a federation of all 32 provinces (the 31 and 兵团,
code 66), with --records records spread by the real skew (bench/common.skewed_counts: 广东
≈ 387k, 山东/河南/江苏/四川 ≈ 300-360k, 西藏/青海/宁夏/兵团 ≈ 15-25k at 5M).

Who writes which topic. One province node runs, for 重庆 (NODE = "50"), and every event on
its topic comes from that node: its share of the registry is generated and imported into the
node's own SQLite registry with `province-node generate` / `import` (the `./dev up --records`
path), so the node assigns seqs 1..n in its outbox and its relay publishes them; the 100
registrations/s later get seqs n+1, n+2, ... from the same node. The bench never produces onto
that topic, so no seq can collide. No node runs for the other 31 provinces: the bench produces
their `registered` events itself, signed with their keys, as seqs 1..n per province
(common.produce_registered_counts), and the catch-up backlog continues those seqs (n+1..).
Records are province_node.synthetic's, deterministic per (province, seed 0, index), so the
bench regenerates the names, cert_nos and institutions it queries without asking the hub.

Then `national-hub rebuild` loads the topics (its events/s, wall time and peak RSS are
reported: the index must not make rebuild slower than 7,700 events/s), and the phases run:

* steady: `national-hub serve` on the rebuilt store; for --seconds, --connections closed-loop
  connections (each sends its next request when the last is answered) send the public mix
  (MIX: 60% lookups uniform over every record; name, name + province, toneless pinyin,
  institution/roster (4% + 4%) and verify 8% each), while --rate registrations/s are POSTed
  to the node (open loop) and each is awaited at the hub with
  GET /v1/physicians/{cert_no}?min_token=<sync_token>&wait=<s>: commit → visible is from the
  node's 201 to the hub's 200.
* catchup: the hub is stopped, --backlog more `registered` events (same skew, the 31 topics
  without a node) are produced, the hub is started again, and the same reads (and
  registrations) run from /readyz until the hub has applied the whole backlog
  (regsync_hub_events_applied_total + rejected, per province, the node's province left out);
  catch-up events/s is the backlog over the time from the hub's start.

Then the engine floor: with the hub still up and idle, the same queries (the same prepared
list, and lookups drawn the same way) run straight on the serving index in this process, one
at a time (ServingIndex.open(path, readers=1); record_sync for lookup and verify, search_sync
of query.indexed.index_query for the searches and rosters). SQLite's WAL lets it read while
the hub holds the file. When the index file does not exist (a hub that still answers from
DuckDB) the floor is skipped and the JSON says so.

Method of the reads (also in the JSON as "method"): Debian's `wrk` with -tN -cN, one
connection per wrk thread, and bench/wrk/national_reads.lua. With one connection per thread a
thread's Lua state sees request() and response() strictly alternate, so the script times each
request itself (CLOCK_MONOTONIC via LuaJIT's FFI, next to where wrk starts and stops its own
clock) and files it under the kind it chose: p50/p99 per kind come from those samples, total
reads/s and the overall distribution from wrk's own summary (--latency). Statuses are counted
per kind (wrk calls 4xx/5xx "non-2xx"; the overload shedding may answer 503). The registrations
and their waits run in this Python process (asyncio, about 200 requests/s); the CPU seconds of
wrk (wait4) and of this process are reported against the wall time, so a saturated load
generator shows.

Progress goes to stderr; stdout gets one JSON object (bench/common.emit). Needs `wrk`
(apt-get install wrk). Scale, on this 2-core VM: the fill runs at about 6,000-8,000 events/s
with two producer processes (--fill-workers), so 5M takes 10-15 minutes, and the rebuild
about 11 more at 7,700 events/s; test with `--records 50000 --seconds 10 --backlog 20000`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import resource
import shutil
import signal
import subprocess
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from common import (
    BIN,
    Federation,
    RssSampler,
    create_topics,
    emit,
    federation,
    kafka,
    metric_by_label,
    percentiles,
    produce_registered_counts,
    progress,
    rss_bytes,
    run_rebuild,
    skewed_counts,
    spawn,
    start_hub,
    start_node,
    stderr,
    stop_process,
    tree_rss_bytes,
    wait_http,
    workdir,
)

from national_hub.config import HubSettings
from national_hub.ingest.names import pinyin_key
from national_hub.query.aliases import AliasTable
from province_node import synthetic
from schemas.vocab import PROVINCES

HERE = Path(__file__).resolve().parent
LUA = HERE / "wrk" / "national_reads.lua"
NODE = "50"  # the province whose node runs and takes the registrations
SEED = 0
# The serving index's file when the hub's settings do not name it (HubSettings has no
# serving_index_path): next to the DuckDB file.
INDEX_FILE_NAME = "index.sqlite3"
# The public mix, percent of requests. "institution" searches by credit code, full name or
# abbreviation; "roster" is GET /v1/institutions/{org_code}/physicians.
MIX: dict[str, float] = {
    "lookup": 60,
    "name": 8,
    "name_province": 8,
    "pinyin": 8,
    "institution": 4,
    "roster": 4,
    "verify": 8,
}
WAIT_S = 10  # ?wait= of each min_token read
VISIBLE_DEADLINE_S = 60.0  # a registration not visible by then counts as never visible


# ---- the queries ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """One prepared request, and the same query as the floor runs it."""

    kind: str
    method: str
    path: str
    body: bytes = b""
    params: Mapping[str, str] = field(default_factory=dict)  # SearchParams query (searches)
    cert_no: str = ""  # lookups and verify


def cert_no_of(code: str, index: int) -> str:
    """Record `index` of `code`'s synthetic registry (its documented cert_no layout)."""
    return f"{code}{SEED % 1000:03d}{index:010d}"


def sample_records(counts: Mapping[str, int], n: int, rng: random.Random) -> list[dict[str, Any]]:
    """About n records from all over the registry: runs of 32 at random places in each
    province, as many runs as its share."""
    total = sum(counts.values())
    out: list[dict[str, Any]] = []
    for code, count in counts.items():
        runs = max(1, round(n * count / total / 32))
        for _ in range(runs):
            length = min(32, count)
            start = rng.randrange(0, count - length + 1)
            for row in synthetic.registrations(code, length, SEED, start):
                row["province"] = code
                out.append(row)
    rng.shuffle(out)
    return out


def build_queries(counts: Mapping[str, int], per_kind: int, seed: int = 13) -> list[Query]:
    """per_kind prepared queries of every kind but lookup (drawn on the fly, uniformly)."""
    rng = random.Random(seed)
    for code, count in counts.items():  # the layout lookups rely on, checked
        probe = next(synthetic.registrations(code, 1, SEED, count - 1))
        assert probe["cert_no"] == cert_no_of(code, count - 1), probe["cert_no"]
    rows = sample_records(counts, per_kind * (len(MIX) - 1), rng)
    abbreviations = {
        i["org_code"]: i["abbreviation"]
        for code in counts
        for i in synthetic.institutions(code)
        if i["abbreviation"]
    }
    q = urllib.parse.quote
    out: list[Query] = []
    kinds = [k for k in MIX if k != "lookup"]
    for i, row in enumerate(rows):
        kind = kinds[i % len(kinds)]
        inst = row["primary_institution"]
        org = inst["org_code"]
        if kind == "name":
            p = {"name": row["name"]}
        elif kind == "name_province":
            p = {"name": row["name"], "province": row["province"]}
        elif kind == "pinyin":
            p = {"name": pinyin_key(row["name"])}
        elif kind == "institution":
            ways = [org, inst["name"]] + ([abbreviations[org]] if org in abbreviations else [])
            p = {"institution": ways[(i // len(kinds)) % len(ways)]}
        elif kind == "roster":
            p = {"institution": org}
            out.append(Query(kind, "GET", f"/v1/institutions/{org}/physicians", params=p))
            continue
        else:  # verify
            body = {
                "cert_no": row["cert_no"],
                "name": row["name"],
                "institution": inst["name"],
                "category": row["category"],
            }
            out.append(
                Query(kind, "POST", "/v1/verify", orjson.dumps(body), cert_no=row["cert_no"])
            )
            continue
        path = "/v1/physicians?" + urllib.parse.urlencode(p, quote_via=q)
        out.append(Query(kind, "GET", path, params=p))
    return out


def write_query_file(path: Path, queries: Sequence[Query], counts: Mapping[str, int]) -> None:
    """The file bench/wrk/national_reads.lua reads (its header describes the format)."""
    lines = [f"@weight\t{k}\t{w:g}" for k, w in MIX.items()]
    lines += [f"@lookup\t{c}\t{n}" for c, n in counts.items() if n > 0]
    lines += [f"{x.kind}\t{x.method}\t{x.path}\t{x.body.decode()}" for x in queries]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def random_lookup(counts: Mapping[str, int], rng: random.Random) -> str:
    """A cert_no drawn uniformly over every record, as the Lua script draws lookups."""
    codes = [c for c, n in counts.items() if n > 0]
    code = rng.choices(codes, weights=[counts[c] for c in codes])[0]
    return cert_no_of(code, rng.randrange(counts[code]))


# ---- filling ----------------------------------------------------------------------------------


def province_node_cli(fed: Federation, *args: str) -> None:
    cmd = [str(BIN / "province-node"), *args, "--config", str(fed.config), "--province", NODE]
    proc = subprocess.run(cmd, cwd=fed.state, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"province-node {args[0]} failed:\n{proc.stdout}\n{proc.stderr}")


def seed_node(fed: Federation, count: int) -> dict[str, Any]:
    """The node's share, generated and imported into its own registry (seqs 1..count)."""
    t0 = time.perf_counter()
    data = fed.state / f"seed-{NODE}.jsonl"
    stderr.print(f"node {NODE}: generating and importing {count} registrations ...")
    province_node_cli(fed, "generate", "--records", str(count), "--out", str(data))
    province_node_cli(fed, "import", "--no-progress", str(data))
    data.unlink()
    return {"records": count, "seconds": round(time.perf_counter() - t0, 2)}


async def node_published(fed: Federation) -> int:
    headers = {"Authorization": f"Bearer {fed.secrets.hub_token}"}
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{fed.node_url(NODE)}/v1/sync/status", headers=headers) as resp:
            resp.raise_for_status()
            return int((await resp.json())["published_seq"])


def wait_node_published(fed: Federation, node: Any, count: int) -> float:
    """Wait until the node's relay has published its first `count` events."""
    t0 = time.perf_counter()
    with progress() as bar:
        task = bar.add_task(f"node {NODE} publishing", total=count)
        while True:
            if node.poll() is not None:
                raise SystemExit(f"province node {NODE} exited with {node.returncode}")
            done = asyncio.run(node_published(fed))
            bar.update(task, completed=done)
            if done >= count:
                return time.perf_counter() - t0
            time.sleep(0.5)


# ---- registrations through the node, awaited at the hub ---------------------------------------


@dataclass
class Writes:
    """Registrations at a steady rate through the node, each awaited at the hub."""

    fed: Federation
    rate: float
    next_index: int  # next synthetic record of NODE to register
    post_ms: list[float] = field(default_factory=list)
    visible_ms: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    late: int = 0
    offered_s: float = 0.0

    def _count(self, key: str) -> None:
        self.statuses[key] = self.statuses.get(key, 0) + 1

    async def _one(self, session: aiohttp.ClientSession, body: dict[str, Any]) -> None:
        fed = self.fed
        headers = {
            "Authorization": f"Bearer {fed.secrets.tokens[NODE]['registrar']}",
            "Content-Type": "application/json",
        }
        t = time.perf_counter()
        url = f"{fed.node_url(NODE)}/v1/registrations"
        async with session.post(url, data=orjson.dumps(body), headers=headers) as resp:
            answer = await resp.read()
            t_commit = time.perf_counter()
            self._count(f"post_{resp.status}")
        self.post_ms.append((t_commit - t) * 1000)
        if resp.status != 201:
            return
        token = orjson.loads(answer)["sync_token"]
        url = f"{fed.hub_url}/v1/physicians/{body['cert_no']}"
        query = {"min_token": token, "wait": str(WAIT_S)}
        while time.perf_counter() - t_commit < VISIBLE_DEADLINE_S:
            async with session.get(url, params=query) as resp:
                await resp.read()
                self._count(f"get_{resp.status}")
                if resp.status == 200:
                    self.visible_ms.append((time.perf_counter() - t_commit) * 1000)
                    return
                if resp.status == 503:
                    retry = float(resp.headers.get("Retry-After", "1") or 1)
                    await asyncio.sleep(min(retry, 5.0))
                elif resp.status != 409:  # 409: not applied within `wait`: ask again
                    return
        self._count("never_visible")

    async def run(self, stop: asyncio.Event) -> None:
        """Open loop at `rate` until `stop`; then wait for the outstanding ones."""
        pending: set[asyncio.Task[None]] = set()
        bodies = synthetic.registrations(NODE, 10**7, SEED, self.next_index)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            t0 = time.perf_counter()
            i = 0
            while not stop.is_set():
                delay = t0 + i / self.rate - time.perf_counter()
                if delay > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), delay)
                    continue
                if delay < -0.05:
                    self.late += 1
                job = asyncio.create_task(self._one(session, next(bodies)))
                pending.add(job)
                job.add_done_callback(pending.discard)
                self.next_index += 1
                i += 1
            self.offered_s = time.perf_counter() - t0
            if pending:
                await asyncio.gather(*pending)

    def report(self) -> dict[str, Any]:
        n = len(self.post_ms)
        seconds = self.offered_s
        out = {
            "registrations": n,
            "offered_seconds": round(seconds, 2),
            "rate_achieved": round(n / seconds, 1) if seconds else 0,
            "sent_late_over_50ms": self.late,
            "statuses": dict(sorted(self.statuses.items())),
            "post_ms": percentiles(self.post_ms),
            "commit_to_visible_ms": percentiles(self.visible_ms),
        }
        self.post_ms, self.visible_ms, self.statuses, self.late = [], [], {}, 0
        return out


# ---- wrk --------------------------------------------------------------------------------------


def parse_wrk_out(path: Path) -> dict[str, Any]:
    """What national_reads.lua's done() wrote: wrk's summary and per-kind samples."""
    lat: dict[str, list[float]] = {}
    statuses: dict[str, dict[str, int]] = {}
    out: dict[str, Any] = {"latency_us": {}}
    names: dict[int, str] = {}
    samples: list[tuple[int, str, float]] = []
    for line in path.read_text().splitlines():
        head, _, rest = line.partition(" ")
        if head == "summary":
            v = [int(x) for x in rest.split()]
            out["duration_s"] = v[0] / 1e6
            out["requests"] = v[1]
            out["bytes"] = v[2]
            out["errors"] = dict(
                zip(("connect", "read", "write", "non_2xx_3xx", "timeout"), v[3:], strict=True)
            )
        elif head == "latency":
            p, us = rest.split()
            out["latency_us"][f"p{p}"] = int(us)
        elif head == "latency_max":
            out["latency_us"]["max"] = int(rest)
        elif head == "kind":
            i, kind = rest.split()
            names[int(i)] = kind
        elif head == "s":
            tag, us = rest.split()
            position, status = divmod(int(tag), 1000)
            samples.append((position, str(status), int(us) / 1000))
    for position, code, ms in samples:
        name = names[position]
        lat.setdefault(name, []).append(ms)
        per = statuses.setdefault(name, {})
        per[code] = per.get(code, 0) + 1
    out["lat_ms"] = lat
    out["statuses"] = statuses
    return out


def reads_report(w: dict[str, Any]) -> dict[str, Any]:
    """Per-kind p50/p99 and statuses, totals from wrk's summary."""
    seconds = w["duration_s"]
    kinds: dict[str, Any] = {}
    for kind in MIX:
        lat = w["lat_ms"].get(kind, [])
        st = w["statuses"].get(kind, {})
        kinds[kind] = {
            "requests": len(lat),
            "per_s": round(len(lat) / seconds, 1) if seconds else 0,
            "latency_ms": percentiles(lat),
            "statuses": dict(sorted(st.items())),
            "not_2xx": sum(n for code, n in st.items() if not code.startswith("2")),
        }
    lw = w["latency_us"]
    return {
        "seconds": round(seconds, 2),
        "reads": w["requests"],
        "reads_per_s": round(w["requests"] / seconds, 1) if seconds else 0,
        "latency_ms_all": {k: round(v / 1000, 3) for k, v in lw.items()},
        "wrk_errors": w["errors"],
        "kinds": kinds,
    }


class Wrk:
    """wrk with the Lua mix in the background; wait() returns its output and CPU."""

    def __init__(self, fed: Federation, query_file: Path, connections: int, seconds: float):
        self.out = fed.state / f"wrk-{time.monotonic_ns()}.txt"
        self.log = fed.state / "wrk.log"
        env = {
            "REGSYNC_WRK_QUERIES": str(query_file),
            "REGSYNC_WRK_THREADS": str(connections),
            "REGSYNC_WRK_OUT": str(self.out),
        }
        cmd = ["wrk", f"-t{connections}", f"-c{connections}", f"-d{max(1, round(seconds))}s"]
        cmd += ["--timeout", "30s", "--latency", "-s", str(LUA), fed.hub_url]
        self.t0 = time.perf_counter()
        self.proc = spawn(cmd, cwd=fed.state, log=self.log, env=env)

    def interrupt(self) -> None:
        """Stop early; wrk still reports what it measured."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGINT)

    def wait(self) -> dict[str, Any]:
        _, status, usage = os.wait4(self.proc.pid, 0)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - self.t0
        if self.proc.returncode != 0 or not self.out.exists():
            tail = self.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"wrk failed ({self.proc.returncode}):\n{tail}")
        result = parse_wrk_out(self.out)
        cpu = usage.ru_utime + usage.ru_stime
        result["cpu"] = {
            "wall_seconds": round(wall, 2),
            "cpu_seconds": round(cpu, 2),
            "cores_used": round(cpu / wall, 3),
        }
        return result


# ---- phases -----------------------------------------------------------------------------------


def self_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def applied_outside_node(fed: Federation) -> float:
    """Events the hub applied or rejected since it started, the node's province left out."""
    total = 0.0
    for metric in ("regsync_hub_events_applied_total", "regsync_hub_events_rejected_total"):
        per = metric_by_label(fed.hub_url, metric, "province")
        total += sum(v for code, v in per.items() if code != NODE)
    return total


async def run_reads(
    fed: Federation,
    hub: Any,
    writes: Writes,
    query_file: Path,
    args: argparse.Namespace,
    *,
    label: str,
    until: Callable[[], float] | None = None,
    target: float = 0,
) -> dict[str, Any]:
    """wrk and the registrations together: for --seconds, or (catch-up) until until()
    reaches target. Returns reads, writes, bench-side CPU and, for catch-up, the series."""
    stop = asyncio.Event()
    cpu0 = self_cpu()
    t0 = time.perf_counter()
    seconds = args.catchup_timeout if until else args.seconds
    wrk = Wrk(fed, query_file, args.connections, seconds)
    writer = asyncio.create_task(writes.run(stop))
    wrk_done = asyncio.create_task(asyncio.to_thread(wrk.wait))
    series: list[tuple[float, float]] = []
    reached_at: float | None = None
    # Scrapes of the hub's /metrics that failed (it did not answer within the timeout): the
    # series then keeps the last value, and the count says how unresponsive the hub was.
    scrape_failures = 0
    try:
        with progress() as bar:
            task = bar.add_task(label, total=target if until else seconds)
            done = 0.0
            while not wrk_done.done():
                await asyncio.wait({wrk_done}, timeout=0.5)
                if hub.poll() is not None:
                    raise RuntimeError(f"the hub exited with {hub.returncode}")
                elapsed = time.perf_counter() - t0
                if until is None:
                    bar.update(task, completed=min(elapsed, seconds))
                    continue
                try:
                    done = await asyncio.to_thread(until)
                except (OSError, TimeoutError):
                    scrape_failures += 1
                    continue
                series.append((round(elapsed, 2), done))
                bar.update(task, completed=done)
                if done >= target and reached_at is None:
                    reached_at = elapsed
                    wrk.interrupt()
    except BaseException:
        # Never leave wrk running: asyncio.run would wait for its thread for the whole -d.
        wrk.interrupt()
        stop.set()
        raise
    stop.set()
    w = await wrk_done
    await writer
    wall = time.perf_counter() - t0
    out: dict[str, Any] = {
        "reads": reads_report(w),
        "registrations": writes.report(),
        "load_generator_cpu": {
            "wrk": w["cpu"],
            "bench_process": {  # the registrations, their waits and the RSS sampler
                "wall_seconds": round(wall, 2),
                "cpu_seconds": round(self_cpu() - cpu0, 2),
            },
        },
    }
    if until is not None:
        out["metrics_scrape_failures"] = scrape_failures
        out["caught_up_after_reads_s"] = round(reached_at, 2) if reached_at else None
        step = max(1, len(series) // 60)
        out["applied_series"] = series[::step]
    return out


def hub_memory(hub: Any, rss: RssSampler) -> dict[str, Any]:
    return {
        "peak_mib_main": round(rss.peak / 2**20, 1),
        "peak_mib_process_tree": round(rss.tree_peak / 2**20, 1),
        "end_mib_main": round(rss_bytes(hub.pid) / 2**20, 1),
        "end_mib_process_tree": round(tree_rss_bytes(hub.pid) / 2**20, 1),
    }


def wait_settled(fed: Federation, hub: Any, counts: Mapping[str, int]) -> float:
    """After the rebuild: wait until the hub reports no consumer lag and 50 random lookups
    all answer 200 (a sink it builds at start would otherwise still be catching up)."""
    rng = random.Random(3)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 1800:
        if hub.poll() is not None:
            raise RuntimeError(f"the hub exited with {hub.returncode}")
        lag = sum(
            metric_by_label(fed.hub_url, "regsync_hub_consumer_lag_messages", "province").values()
        )
        if lag == 0 and asyncio.run(
            all_found(fed, [random_lookup(counts, rng) for _ in range(50)])
        ):
            return time.perf_counter() - t0
        time.sleep(1.0)
    raise RuntimeError("the hub did not settle within 30 minutes of its start")


async def all_found(fed: Federation, certs: Sequence[str]) -> bool:
    async with aiohttp.ClientSession() as s:
        for cert_no in certs:
            async with s.get(f"{fed.hub_url}/v1/physicians/{cert_no}") as resp:
                await resp.read()
                if resp.status != 200:
                    return False
    return True


def steady(
    fed: Federation, hub: Any, writes: Writes, qfile: Path, args: argparse.Namespace
) -> dict[str, Any]:
    with RssSampler(hub.pid, interval=0.5) as rss:
        result = asyncio.run(run_reads(fed, hub, writes, qfile, args, label="steady reads"))
    result["hub_rss"] = hub_memory(hub, rss)
    return result


def catchup(
    fed: Federation,
    counts: Mapping[str, int],
    writes: Writes,
    qfile: Path,
    args: argparse.Namespace,
) -> tuple[Any, dict[str, Any]]:
    """Hub stopped, backlog produced, hub started, reads until the backlog is applied.

    `counts`: the records each province holds already (the backlog's certificates follow).
    """
    others = [c for c in counts if c != NODE]
    backlog = skewed_counts(args.backlog, others)
    fill = produce_registered_counts(
        fed, backlog, seed=SEED, starts=counts, workers=args.fill_workers, label="backlog"
    )
    t_start = time.perf_counter()
    hub = start_hub(fed, log_name="hub-catchup.log")
    with RssSampler(hub.pid, interval=0.5) as rss:
        wait_http(f"{fed.hub_url}/readyz", hub, timeout=600, log=fed.state / "hub-catchup.log")
        ready_s = time.perf_counter() - t_start
        already = applied_outside_node(fed)
        result = asyncio.run(
            run_reads(
                fed,
                hub,
                writes,
                qfile,
                args,
                label="catch-up reads",
                until=lambda: applied_outside_node(fed),
                target=args.backlog,
            )
        )
    caught = result.pop("caught_up_after_reads_s")
    total_s = ready_s + caught if caught is not None else None
    result["catchup"] = {
        "backlog_events": args.backlog,
        "produce": fill,
        "hub_ready_seconds": round(ready_s, 2),
        "applied_by_ready": already,
        "caught_up": caught is not None,
        "seconds_from_hub_start": round(total_s, 2) if total_s else None,
        "events_per_s_from_hub_start": round(args.backlog / total_s, 1) if total_s else None,
        "events_per_s_after_ready": (
            round((args.backlog - already) / caught, 1) if caught else None
        ),
        "applied_series": result.pop("applied_series"),
    }
    result["hub_rss"] = hub_memory(hub, rss)
    result["catchup"]["backlog_per_province"] = backlog
    return hub, result


def catchup_with_tuning(
    fed: Federation,
    counts: Mapping[str, int],
    writes: Writes,
    qfile: Path,
    args: argparse.Namespace,
    tuning_toml: str,
) -> tuple[Any, dict[str, Any], dict[str, int]]:
    """catchup() with extra TOML in federation.toml for its hub (then taken out again); also
    the records each province holds afterwards, where the next backlog starts."""
    original = fed.config.read_text(encoding="utf-8")
    fed.config.write_text(original + "\n" + tuning_toml.replace("\\n", "\n") + "\n", "utf-8")
    try:
        hub, result = catchup(fed, counts, writes, qfile, args)
    finally:
        fed.config.write_text(original, encoding="utf-8")
    result["catchup"]["hub_tuning_toml"] = tuning_toml
    added = result["catchup"]["backlog_per_province"]
    return hub, result, {c: n + added.get(c, 0) for c, n in counts.items()}


# ---- the floor --------------------------------------------------------------------------------


def index_path(fed: Federation, settings: HubSettings, override: str | None) -> Path:
    if override:
        return Path(override)
    named = getattr(settings, "serving_index_path", None)
    return Path(named) if named is not None else fed.db.parent / INDEX_FILE_NAME


def floor(
    path: Path,
    settings: HubSettings,
    queries: Sequence[Query],
    counts: Mapping[str, int],
    seconds: float,
) -> dict[str, Any]:
    """The same queries on the serving index, one at a time, `seconds` per kind."""
    if not path.exists():
        return {
            "skipped": f"no serving index at {path}: the hub does not answer from it (yet); "
            "the floor runs on the index only"
        }
    from national_hub.index.index import ServingIndex
    from national_hub.query.indexed import index_query
    from national_hub.query.search import SearchParams

    aliases = AliasTable.load(settings.aliases_file)
    index = ServingIndex.open(path, readers=1)
    rng = random.Random(5)
    by_kind: dict[str, list[Query]] = {}
    for x in queries:
        by_kind.setdefault(x.kind, []).append(x)
    out: dict[str, Any] = {"engine": "sqlite serving index", "path": str(path)}
    try:
        for kind in MIX:
            lat: list[float] = []
            rows = 0
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                if kind == "lookup":
                    cert_no = random_lookup(counts, rng)
                    t = time.perf_counter()
                    rows += index.record_sync(cert_no) is not None
                elif kind == "verify":
                    cert_no = rng.choice(by_kind[kind]).cert_no
                    t = time.perf_counter()
                    rows += index.record_sync(cert_no) is not None
                else:
                    params = rng.choice(by_kind[kind]).params
                    t = time.perf_counter()
                    q = index_query(SearchParams.from_query(params), aliases)
                    rows += len(index.search_sync(q).rows)
                lat.append((time.perf_counter() - t) * 1000)
            out[kind] = {
                "queries_per_s_1_thread": round(len(lat) / seconds, 1),
                "latency_ms": percentiles(lat),
                "rows_per_query": round(rows / len(lat), 2) if lat else 0,
            }
    finally:
        index.close()
    return out


# ---- summary ----------------------------------------------------------------------------------

# Issue 13's targets at 5M on this 2-core machine, beside the figures they apply to.
TARGETS = {
    "lookup_p99_ms": 10,
    "search_p99_ms": 30,
    "verify_p99_ms": 10,
    "reads_per_s": 1500,
    "commit_to_visible_p99_ms": 250,
    "catchup_reads_p99_ms": 100,
    "hub_rss_process_tree_mib": 2048,
    "catchup_and_rebuild_events_per_s": 7700,
}


def summarize(results: Mapping[str, Any]) -> dict[str, Any]:
    """The headline figures of a run, with the targets they are held against."""
    out: dict[str, Any] = {}
    for phase in ("steady", "catchup_before", "catchup"):
        if phase not in results:
            continue
        p = results[phase]
        reads, regs = p["reads"], p["registrations"]
        visible = regs["commit_to_visible_ms"]
        out[phase] = {
            "reads_per_s": reads["reads_per_s"],
            "p50_p99_ms": {
                k: [v["latency_ms"].get("p50"), v["latency_ms"].get("p99")]
                for k, v in reads["kinds"].items()
            },
            "not_2xx": {k: v["not_2xx"] for k, v in reads["kinds"].items() if v["not_2xx"]},
            "commit_to_visible_p50_p99_ms": [visible.get("p50"), visible.get("p99")],
            "registrations_per_s": regs["rate_achieved"],
            "hub_rss_mib_process_tree_peak_end": [
                p["hub_rss"]["peak_mib_process_tree"],
                p["hub_rss"]["end_mib_process_tree"],
            ],
            "wrk_cores_used": p["load_generator_cpu"]["wrk"]["cores_used"],
        }
        if phase != "steady":
            out[phase]["events_per_s"] = p["catchup"]["events_per_s_from_hub_start"]
    out["rebuild_events_per_s"] = results["rebuild"]["events_per_s"]
    out["targets"] = TARGETS
    return out


def print_summary(summary: Mapping[str, Any]) -> None:
    """The headline figures on stderr, for whoever watches the run."""
    for phase in ("steady", "catchup_before", "catchup"):
        if phase not in summary:
            continue
        p = summary[phase]
        stderr.print(f"[bold]{phase}[/]: {p['reads_per_s']} reads/s; p50/p99 ms:")
        for kind, (p50, p99) in p["p50_p99_ms"].items():
            stderr.print(f"  {kind:<14} {p50} / {p99}")
        stderr.print(
            f"  not 2xx {p['not_2xx'] or 0}; commit→visible p50/p99 "
            f"{p['commit_to_visible_p50_p99_ms']} ms; hub RSS tree peak/end "
            f"{p['hub_rss_mib_process_tree_peak_end']} MiB; wrk {p['wrk_cores_used']} cores"
        )
        if "events_per_s" in p:
            stderr.print(f"  catch-up {p['events_per_s']} events/s")
    stderr.print(f"rebuild {summary['rebuild_events_per_s']} events/s")


# ---- main -------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].strip())
    ap.add_argument("--records", type=int, default=5_000_000, help="records before the run")
    ap.add_argument("--seconds", type=float, default=60.0, help="steady reads")
    ap.add_argument("--connections", type=int, default=16, help="closed-loop read connections")
    ap.add_argument("--rate", type=float, default=100.0, help="registrations/s through the node")
    ap.add_argument("--mode", choices=("steady", "catchup", "both"), default="both")
    ap.add_argument("--backlog", type=int, default=1_000_000, help="catch-up events")
    ap.add_argument("--catchup-timeout", type=float, default=1800.0, help="stop reads after")
    ap.add_argument("--floor-seconds", type=float, default=3.0, help="per kind")
    ap.add_argument("--queries-per-kind", type=int, default=4000, help="prepared queries")
    ap.add_argument("--fill-workers", type=int, default=2, help="producer processes")
    ap.add_argument("--index-path", default=None, help="the hub's serving index file")
    ap.add_argument("--keep", action="store_true", help="keep the temp directory")
    ap.add_argument(
        "--before-tuning",
        default=None,
        help="TOML (\\n for newlines) for a first catch-up run before the one with the "
        "configured tuning, e.g. '[hub.tuning.ingest]\\nserving_batch = 50000\\nworker_nice = 0'",
    )
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk")

    provinces = tuple(PROVINCES)  # 31 provinces and 兵团 (66)
    counts = skewed_counts(args.records, provinces)
    stderr.print(f"preparing {args.queries_per_kind} queries per kind ...")
    queries = build_queries(counts, args.queries_per_kind)
    results: dict[str, Any] = {"records_per_province": counts, "node_province": NODE}
    with workdir(args.keep) as root, kafka(root) as cluster:
        fed = federation(root / "fed", provinces, cluster.bootstrap)
        qfile = fed.state / "queries.tsv"
        write_query_file(qfile, queries, counts)
        asyncio.run(create_topics(fed))
        node = None
        hub = None
        try:
            results["node_seed"] = seed_node(fed, counts[NODE])
            others = {c: n for c, n in counts.items() if c != NODE}
            results["fill"] = produce_registered_counts(
                fed, others, seed=SEED, workers=args.fill_workers, label="filling"
            )
            node = start_node(fed, NODE)
            node_log = fed.state / f"province-{NODE}.log"
            wait_http(f"{fed.node_url(NODE)}/healthz", node, log=node_log)
            results["node_seed"]["publish_seconds"] = round(
                wait_node_published(fed, node, counts[NODE]), 2
            )
            stderr.print("national-hub rebuild ...")
            results["rebuild"] = run_rebuild(fed, args.records)
            built = index_path(fed, HubSettings.load(fed.config), args.index_path)
            if built.exists():
                results["rebuild"]["index_file_mib"] = round(built.stat().st_size / 2**20, 1)
            stderr.print(f"rebuild: {results['rebuild']}")
            writes = Writes(fed, args.rate, next_index=counts[NODE])
            if args.mode in ("steady", "both"):
                hub = start_hub(fed)
                wait_http(f"{fed.hub_url}/readyz", hub, timeout=600, log=fed.state / "hub.log")
                results["settle_seconds"] = round(wait_settled(fed, hub, counts), 2)
                results["steady"] = steady(fed, hub, writes, qfile, args)
            if args.mode in ("catchup", "both"):
                held = counts
                if args.before_tuning:
                    # The comparison asked for, in one run: the same catch-up with the tuning
                    # that restores the behaviour before (e.g. reads-first off), then as is.
                    stop_process(hub)
                    hub, results["catchup_before"], held = catchup_with_tuning(
                        fed, counts, writes, qfile, args, args.before_tuning
                    )
                stop_process(hub)
                hub, results["catchup"] = catchup(fed, held, writes, qfile, args)
            settings = HubSettings.load(fed.config)
            path = index_path(fed, settings, args.index_path)
            stderr.print("engine floor ...")
            results["floor"] = floor(path, settings, queries, counts, args.floor_seconds)
            if path.exists():
                results["index_file_mib"] = round(path.stat().st_size / 2**20, 1)
        finally:
            stop_process(hub)
            stop_process(node)
        results["duckdb_file_mib"] = round(fed.db.stat().st_size / 2**20, 1)
    results["method"] = {
        "reads": (
            f"wrk -t{args.connections} -c{args.connections} (one connection per thread, closed "
            "loop) with bench/wrk/national_reads.lua: the kind of each request drawn by MIX, "
            "its latency timed in the thread's Lua state (request() to response(), "
            "CLOCK_MONOTONIC); totals and latency_ms_all from wrk's summary"
        ),
        "mix_percent": MIX,
        "lookups": "cert_no uniform over every pre-filled record",
        "searches": f"{args.queries_per_kind} prepared per kind from records all over the "
        "registry; institution by credit code, full name or abbreviation in turn",
        "registrations": (
            f"{args.rate:g}/s open loop to node {NODE}, each awaited with GET "
            f"/v1/physicians/{{cert_no}}?min_token=..&wait={WAIT_S} (409 asked again, 503 after "
            "Retry-After); commit_to_visible from the node's 201 to the hub's 200"
        ),
        "floor": "same prepared queries on the serving index, one at a time, hub idle",
    }
    summary = summarize(results)
    print_summary(summary)
    emit("national_reads", args, {"summary": summary, **results})


if __name__ == "__main__":
    main()
