"""Hub replicas behind HAProxy under the public read mix: a replica killed, a rolling restart,
every replica killed at once (issue 16, items 2, 3 and the drill of item 6).

    .venv/bin/python bench/replicas.py [--records 150000] [--hubs 2] [--seconds 40] \\
        [--connections 16] > bench/results/replicas_150k.json

What it builds: a Kafka of its own and a federation of all 32 provinces with --records
`registered` events spread by the real skew (common.skewed_counts), produced straight onto the
topics (no province node runs: this measures reads). `national-hub rebuild` loads them once and
each replica starts on its own copy of that store (var/hub-N/, as `./dev up --hubs N` lays them
out), then consumes every topic itself. HAProxy (Debian's package) listens on the hub's
address with the configuration `./dev up --hubs N` writes (devstack.balancer): health checks
on /readyz every 500 ms, fall 2 / rise 2, `retry-on conn-failure empty-response
junk-response` with `option redispatch` for reads.

Reads: Debian's `wrk`, -tN -cN, with bench/wrk/national_reads.lua and the query file of
bench/national_reads.py (the same public mix: 60% lookups, names, pinyin, institutions,
rosters, verify), all through the balancer. Failed reads are wrk's non-2xx answers plus its
socket errors (connect, read, write, timeout), over all requests. Beside wrk, this process runs
a client that retries once (2 connections, the same mix): it counts reads whose first attempt
failed and reads that failed twice.

Phases, each --seconds of reads:
* kill: at a third of the phase one replica gets SIGKILL; --restart-after seconds later it is
  started again from its recorded command (what stack.json's cmd does) and the time until its
  /readyz answers 200 is its rejoin time.
* rolling: every replica in turn gets SIGTERM (it answers /readyz 503 for drain_s, still
  serving, then stops listening and finishes what is in flight), is started again, and the next
  one follows once the balancer has it back (its /readyz 200, then rise x inter).
* all_killed (no load): every replica gets SIGKILL at once, all are started again at once; the
  time from the kill until the balancer answers a lookup 200 again.

Progress on stderr; one JSON object on stdout (common.emit). Modest scale on purpose (2 cores,
other work on the machine): 150k records fill in about half a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
from common import (
    BIN,
    Federation,
    create_topics,
    emit,
    federation,
    hub_env,
    kafka,
    produce_registered_counts,
    run_rebuild,
    skewed_counts,
    spawn,
    stderr,
    stop_process,
    wait_http,
    workdir,
)
from national_reads import (
    MIX,
    SEED,
    Query,
    Wrk,
    build_queries,
    random_lookup,
    reads_report,
    write_query_file,
)

from devstack.balancer import CHECK_INTER_MS, CHECK_RISE, Backend, haproxy_config
from national_hub.config import HubSettings
from schemas.vocab import PROVINCES

# How long the retry-once client waits for one answer before it counts the attempt failed.
CLIENT_TIMEOUT_S = 30.0


class Replicas:
    """N `national-hub serve` processes, each on its own store, and HAProxy in front."""

    def __init__(self, fed: Federation, n: int) -> None:
        self.fed = fed
        self.n = n
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.balancer: subprocess.Popen[bytes] | None = None

    def port(self, i: int) -> int:
        return self.fed.ports.replica(i)

    def url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.port(i)}"

    def db(self, i: int) -> Path:
        return self.fed.state / "var" / f"hub-{i}" / "national.duckdb"

    def cmd(self, i: int) -> list[str]:
        return [
            str(BIN / "national-hub"),
            "serve",
            "--config",
            str(self.fed.config),
            "--listen",
            f"127.0.0.1:{self.port(i)}",
            "--db",
            str(self.db(i)),
        ]

    def seed_from(self, db: Path, index: Path) -> None:
        """Every replica's store a copy of the rebuilt one (its offsets included)."""
        for i in range(1, self.n + 1):
            self.db(i).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(db, self.db(i))
            shutil.copyfile(index, self.db(i).with_name("national.index.sqlite3"))

    def start(self, i: int) -> None:
        log = self.fed.state / f"hub-{i}.log"
        self.procs[i] = spawn(self.cmd(i), cwd=self.fed.state, log=log, env=hub_env())

    def wait_ready(self, i: int, timeout: float = 300.0) -> None:
        log = self.fed.state / f"hub-{i}.log"
        wait_http(f"{self.url(i)}/readyz", self.procs[i], timeout=timeout, log=log)

    def start_balancer(self) -> None:
        backends = [Backend(f"hub-{i}", "127.0.0.1", self.port(i)) for i in range(1, self.n + 1)]
        cfg = self.fed.state / "haproxy.cfg"
        cfg.write_text(haproxy_config("127.0.0.1", self.fed.ports.hub, backends))
        haproxy = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")
        if haproxy is None:
            raise SystemExit("haproxy not found: apt-get install haproxy")
        self.balancer = spawn(
            [haproxy, "-db", "-f", str(cfg)], cwd=self.fed.state, log=self.fed.state / "lb.log"
        )

    def signal(self, i: int, sig: int) -> None:
        os.killpg(self.procs[i].pid, sig)

    def reap(self, i: int, timeout: float = 60.0) -> float:
        """Wait for replica i to exit; seconds waited."""
        t0 = time.perf_counter()
        self.procs[i].wait(timeout=timeout)
        return time.perf_counter() - t0

    def stop(self) -> None:
        for proc in self.procs.values():
            stop_process(proc)
        stop_process(self.balancer)


def status_of(url: str, timeout: float = 5.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def wait_status(url: str, status: int, timeout: float = 300.0, every: float = 0.05) -> float:
    """Seconds until url answers `status`."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if status_of(url, timeout=2.0) == status:
            return time.perf_counter() - t0
        time.sleep(every)
    raise RuntimeError(f"{url} did not answer {status} within {timeout:g}s")


class RetryOnceClient:
    """Closed-loop reads of the same mix through the balancer; a failed read is sent once more.

    Counts reads, reads whose first attempt failed (non-2xx or no answer) and reads that failed
    on the retry too."""

    def __init__(self, base: str, queries: Sequence[Query], counts: Mapping[str, int]) -> None:
        self.base = base
        self.queries = queries
        self.counts = counts
        self.reads = 0
        self.first_failed = 0
        self.failed_after_retry = 0
        self.first_failures: dict[str, int] = {}

    def _draw(self, rng: random.Random) -> tuple[str, str, bytes]:
        kinds = list(MIX)
        kind = rng.choices(kinds, weights=[MIX[k] for k in kinds])[0]
        if kind == "lookup":
            return "GET", f"/v1/physicians/{random_lookup(self.counts, rng)}", b""
        q = rng.choice([x for x in self.queries if x.kind == kind] or list(self.queries))
        return q.method, q.path, q.body

    async def _once(
        self, session: aiohttp.ClientSession, method: str, path: str, body: bytes
    ) -> str:
        headers = {"Content-Type": "application/json"} if body else None
        try:
            async with session.request(
                method, self.base + path, data=body or None, headers=headers
            ) as resp:
                await resp.read()
                return "ok" if 200 <= resp.status < 300 else str(resp.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return type(exc).__name__

    async def _worker(self, stop: asyncio.Event, seed: int) -> None:
        rng = random.Random(seed)
        timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while not stop.is_set():
                method, path, body = self._draw(rng)
                self.reads += 1
                first = await self._once(session, method, path, body)
                if first == "ok":
                    continue
                self.first_failed += 1
                self.first_failures[first] = self.first_failures.get(first, 0) + 1
                if await self._once(session, method, path, body) != "ok":
                    self.failed_after_retry += 1

    def run_in_thread(self, connections: int = 2) -> tuple[threading.Thread, asyncio.Event, Any]:
        loop = asyncio.new_event_loop()
        stop = asyncio.Event()

        async def main() -> None:
            await asyncio.gather(*(self._worker(stop, 1000 + i) for i in range(connections)))

        thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
        thread.start()
        return thread, stop, loop

    def report(self) -> dict[str, Any]:
        return {
            "reads": self.reads,
            "first_attempt_failed": self.first_failed,
            "first_attempt_failures_by_kind": dict(sorted(self.first_failures.items())),
            "failed_after_one_retry": self.failed_after_retry,
        }


def failed(report: Mapping[str, Any]) -> dict[str, Any]:
    errors = report["wrk_errors"]
    sockets = errors["connect"] + errors["read"] + errors["write"] + errors["timeout"]
    non2xx = sum(k["not_2xx"] for k in report["kinds"].values())
    total = report["reads"]
    return {
        "reads": total,
        "non_2xx": non2xx,
        "socket_errors": sockets,
        "failed": non2xx + sockets,
        "failed_percent": round(100 * (non2xx + sockets) / total, 4) if total else None,
    }


def under_load(
    fed: Federation,
    qfile: Path,
    queries: Sequence[Query],
    counts: Mapping[str, int],
    args: argparse.Namespace,
    action: Any,
) -> dict[str, Any]:
    """wrk and the retry-once client for --seconds while action() runs; both reports."""
    client = RetryOnceClient(fed.hub_url, queries, counts)
    thread, stop, loop = client.run_in_thread()
    # wrk runs until the action is over and at least --seconds have passed: a rolling restart
    # may take longer than the phase, and every restart must happen under load.
    wrk = Wrk(fed, qfile, args.connections, 3600)
    t0 = time.perf_counter()
    try:
        events = action(t0)
        sleep_until(t0, args.seconds)
    finally:
        wrk.interrupt()
        w = wrk.wait()
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=CLIENT_TIMEOUT_S + 5)
    reads = reads_report(w)
    return {
        "events": events,
        "failed_reads": failed(reads),
        "retry_once_client": client.report(),
        "reads": reads,
    }


def sleep_until(t0: float, at: float) -> None:
    time.sleep(max(0.0, t0 + at - time.perf_counter()))


def kill_phase(reps: Replicas, args: argparse.Namespace) -> Any:
    def action(t0: float) -> dict[str, Any]:
        sleep_until(t0, args.seconds / 3)
        killed_at = time.perf_counter() - t0
        reps.signal(1, signal.SIGKILL)
        reps.reap(1)
        time.sleep(args.restart_after)
        restarted_at = time.perf_counter() - t0
        reps.start(1)
        rejoin = wait_status(f"{reps.url(1)}/readyz", 200)
        return {
            "killed": "hub-1",
            "killed_at_s": round(killed_at, 2),
            "restarted_at_s": round(restarted_at, 2),
            "ready_after_restart_s": round(rejoin, 2),
            "rejoined_at_s": round(time.perf_counter() - t0, 2),
        }

    return action


def rolling_phase(reps: Replicas, args: argparse.Namespace) -> Any:
    back_in = CHECK_RISE * CHECK_INTER_MS / 1000 + 0.5

    def action(t0: float) -> list[dict[str, Any]]:
        time.sleep(2.0)
        steps = []
        for i in range(1, reps.n + 1):
            at = time.perf_counter() - t0
            reps.signal(i, signal.SIGTERM)
            exit_s = reps.reap(i)
            reps.start(i)
            ready = wait_status(f"{reps.url(i)}/readyz", 200)
            # The balancer takes it back after `rise` good checks.
            time.sleep(back_in)
            steps.append(
                {
                    "replica": f"hub-{i}",
                    "sigterm_at_s": round(at, 2),
                    "exited_after_s": round(exit_s, 2),
                    "ready_after_restart_s": round(ready, 2),
                }
            )
        return steps

    return action


def all_killed(reps: Replicas, counts: Mapping[str, int]) -> dict[str, Any]:
    """Every replica SIGKILLed at once and started again at once; seconds until a lookup
    through the balancer answers 200 again."""
    probe = f"{reps.fed.hub_url}/v1/physicians/{random_lookup(counts, random.Random(7))}"
    assert status_of(probe) == 200
    t0 = time.perf_counter()
    for i in range(1, reps.n + 1):
        reps.signal(i, signal.SIGKILL)
    for i in range(1, reps.n + 1):
        reps.reap(i)
    down = status_of(probe)
    for i in range(1, reps.n + 1):
        reps.start(i)
    back = wait_status(probe, 200, every=0.02)
    return {
        "replicas": reps.n,
        "balancer_answer_while_all_down": down,
        "seconds_from_kill_to_serving": round(time.perf_counter() - t0, 2),
        "seconds_from_restart_to_serving": round(back, 2),
        "probe": "GET /v1/physicians/{cert_no} through the balancer, every 20 ms",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].strip())
    ap.add_argument("--records", type=int, default=150_000)
    ap.add_argument("--hubs", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=40.0, help="reads per phase")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--restart-after", type=float, default=3.0, help="kill phase: seconds down")
    ap.add_argument("--queries-per-kind", type=int, default=1000)
    ap.add_argument("--fill-workers", type=int, default=2)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk")

    provinces = tuple(PROVINCES)
    counts = skewed_counts(args.records, provinces)
    queries = build_queries(counts, args.queries_per_kind)
    results: dict[str, Any] = {"records": args.records, "hubs": args.hubs}
    with workdir(args.keep) as root, kafka(root) as cluster:
        fed = federation(root / "fed", provinces, cluster.bootstrap)
        qfile = fed.state / "queries.tsv"
        write_query_file(qfile, queries, counts)
        asyncio.run(create_topics(fed))
        results["fill"] = produce_registered_counts(
            fed, counts, seed=SEED, workers=args.fill_workers, label="filling"
        )
        stderr.print("national-hub rebuild ...")
        results["rebuild"] = run_rebuild(fed, args.records)
        reps = Replicas(fed, args.hubs)
        reps.seed_from(fed.db, HubSettings.load(fed.config).serving_index_path)
        try:
            for i in range(1, reps.n + 1):
                reps.start(i)
            for i in range(1, reps.n + 1):
                reps.wait_ready(i)
            reps.start_balancer()
            wait_http(f"{fed.hub_url}/readyz", reps.balancer, log=fed.state / "lb.log")
            stderr.print("kill phase ...")
            results["kill"] = under_load(fed, qfile, queries, counts, args, kill_phase(reps, args))
            stderr.print(f"kill: {results['kill']['failed_reads']}")
            stderr.print("rolling restart ...")
            results["rolling"] = under_load(
                fed, qfile, queries, counts, args, rolling_phase(reps, args)
            )
            stderr.print(f"rolling: {results['rolling']['failed_reads']}")
            stderr.print("all replicas killed ...")
            results["all_killed"] = all_killed(reps, counts)
            stderr.print(f"all killed: {results['all_killed']}")
            results["balancer_log"] = (fed.state / "lb.log").read_text()[-4000:]
        finally:
            reps.stop()
    results["haproxy_config"] = haproxy_config(
        "127.0.0.1", 0, [Backend(f"hub-{i}", "127.0.0.1", 0) for i in range(1, args.hubs + 1)]
    )
    emit("replicas", args, results)


if __name__ == "__main__":
    main()
