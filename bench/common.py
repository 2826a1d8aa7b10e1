"""Shared pieces of the benchmarks: a throwaway Kafka and federation, fast signed events,
percentiles, RSS sampling, machine facts and the one-JSON-object output.

Every benchmark prints exactly one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from devstack.kafka import KafkaCluster, free_base_port
from devstack.stack import Ports, Secrets, write_federation
from province_node import lifecycle, synthetic
from province_node import requests as rq
from schemas.canonical import canonical_bytes
from schemas.events import DETAILS_BY_TYPE
from schemas.person_ref import load_secret, person_ref
from schemas.signing import Signer
from schemas.timestamps import format_utc, utc_now
from schemas.vocab import PROVINCES
from schemas.wire import signed_headers

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parent.parent
# The 31 mainland provinces (11..65); 66 (XPCC) is left out.
PROVINCES_31: tuple[str, ...] = tuple(c for c in PROVINCES if c != "66")[:31]
PARTITIONS = 3

stderr = Console(stderr=True)


# ---- output and machine facts ----------------------------------------------------------------


def machine() -> dict[str, Any]:
    """nproc, RAM, CPU model and versions: what docs/performance.md records per run."""
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    return {
        "nproc": os.cpu_count(),
        "ram_gib": round(mem_kib / 1024 / 1024, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def emit(name: str, args: Any, results: dict[str, Any]) -> None:
    """Print the one JSON object of a run on stdout."""
    out = {
        "benchmark": name,
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "params": vars(args),
        "machine": machine(),
        **results,
    }
    print(json.dumps(out, ensure_ascii=False, indent=2), flush=True)


def progress() -> Progress:
    """A rich progress bar on stderr, so stdout stays one JSON object."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr,
        transient=False,
    )


def percentiles(values: Sequence[float], ps: Sequence[float] = (50, 90, 99)) -> dict[str, Any]:
    """Nearest-rank percentiles plus max and count of a list of numbers (e.g. ms)."""
    if not values:
        return {"n": 0}
    s = sorted(values)
    n = len(s)
    out: dict[str, Any] = {"n": n}
    for p in ps:
        k = max(0, min(n - 1, math.ceil(p / 100 * n) - 1))
        out[f"p{p:g}"] = round(s[k], 3)
    out["max"] = round(s[-1], 3)
    out["mean"] = round(sum(s) / n, 3)
    return out


# ---- processes and memory --------------------------------------------------------------------


def rss_bytes(pid: int) -> int:
    """Resident set size of a process now, from /proc (0 if it is gone)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def hwm_bytes(pid: int) -> int:
    """Peak resident set size (VmHWM) of a live process."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    with contextlib.suppress(OSError, IndexError, ValueError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def tree_pids(pid: int) -> list[int]:
    """The process and all its live descendants (e.g. the hub's decode workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, ()))
    return out


def tree_rss_bytes(pid: int) -> int:
    """Summed RSS of a process tree now."""
    return sum(rss_bytes(p) for p in tree_pids(pid))


def tree_cpu_seconds(pid: int) -> float:
    """Summed CPU seconds of a process tree's live members."""
    return sum(cpu_seconds(p) for p in tree_pids(pid))


class RssSampler:
    """Samples RSS every `interval` seconds in a thread; keeps the peak of the main process
    (`peak`, VmHWM included) and of the whole process tree (`tree_peak`, sampled)."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self.tree_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid), hwm_bytes(self.pid))
            self.tree_peak = max(self.tree_peak, tree_rss_bytes(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def spawn(cmd: list[str], cwd: Path, log: Path, env: dict[str, str] | None = None) -> Any:
    """Start a process in its own session, output to a log file."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    with log.open("ab") as fh:
        return subprocess.Popen(
            cmd,
            cwd=cwd,
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=full_env,
            start_new_session=True,
        )


def stop_process(proc: Any, timeout: float = 20.0) -> None:
    """SIGTERM a process group we started, SIGKILL if it lingers."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_http(url: str, proc: Any = None, timeout: float = 90.0, log: Path | None = None) -> None:
    """Poll a URL until it answers 200; fail early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log else ""
            raise RuntimeError(f"process exited with {proc.returncode} before {url}:\n{tail}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f}s")


def metric_sum(base_url: str, name: str) -> float:
    """Sum of every sample of one Prometheus metric on /metrics."""
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and (line[len(name)] in "{ "):
            total += float(line.rsplit(" ", 1)[1])
    return total


# ---- Kafka and the federation ----------------------------------------------------------------


@contextlib.contextmanager
def workdir(keep: bool = False) -> Iterator[Path]:
    """A temporary directory, removed afterwards unless `keep`."""
    root = Path(tempfile.mkdtemp(prefix="regsync-bench-"))
    try:
        yield root
    finally:
        if keep:
            stderr.print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def kafka(root: Path, heap: str = "1g") -> Iterator[KafkaCluster]:
    """A single-broker KRaft Kafka of our own, stopped on exit."""
    cluster = KafkaCluster(root / "kafka", brokers=1, base_port=free_base_port(1), heap=heap)
    try:
        stderr.print("starting Kafka ...")
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@dataclass
class Federation:
    """A federation.toml (as `./dev up` writes it) on a given Kafka."""

    state: Path
    provinces: tuple[str, ...]
    ports: Ports
    secrets: Secrets
    bootstrap: str
    prefix: str

    @property
    def config(self) -> Path:
        return self.state / "federation.toml"

    @property
    def hub_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.hub}"

    def node_url(self, code: str) -> str:
        return f"http://127.0.0.1:{self.ports.province(code)}"

    def topic(self, code: str) -> str:
        return f"{self.prefix}.events.{code}"

    @property
    def heartbeats_topic(self) -> str:
        return f"{self.prefix}.heartbeats"

    def signer(self, code: str) -> Signer:
        return Signer.load(self.state / "keys" / f"{code}.key")

    @property
    def person_secret(self) -> bytes:
        return load_secret(self.state / "keys" / "federation.secret")

    @property
    def db(self) -> Path:
        return self.state / "var" / "national.duckdb"


def free_stack_base() -> int:
    """A base port for devstack.stack.Ports whose hub and province ports are free."""
    from devstack.kafka import port_free

    for base in range(21000, 39000, 211):
        ports = Ports(base)
        wanted = [ports.hub] + [ports.province(c) for c in PROVINCES]
        if all(port_free(p) for p in wanted):
            return base
    raise RuntimeError("no free port range for the federation")


def federation(state: Path, provinces: Sequence[str], bootstrap: str) -> Federation:
    """Keys, tokens and federation.toml, via devstack.stack.write_federation."""
    ports = Ports(free_stack_base())
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    sec = write_federation(state, list(provinces), ports, bootstrap=bootstrap, topic_prefix=prefix)
    return Federation(state, tuple(provinces), ports, sec, bootstrap, prefix)


async def create_topics(fed: Federation) -> None:
    """The province topics (infinite retention) and heartbeats, as the nodes create them."""
    admin = AIOKafkaAdminClient(bootstrap_servers=fed.bootstrap)
    await admin.start()
    try:
        topics = [
            NewTopic(
                fed.topic(c),
                num_partitions=PARTITIONS,
                replication_factor=1,
                topic_configs={"retention.ms": "-1", "retention.bytes": "-1"},
            )
            for c in fed.provinces
        ]
        topics.append(NewTopic(fed.heartbeats_topic, num_partitions=1, replication_factor=1))
        await admin.create_topics(topics)
    finally:
        await admin.close()


# ---- events ----------------------------------------------------------------------------------


def registered_value(province: str, seq: int, body: dict[str, Any], secret: bytes) -> bytes:
    """The canonical bytes of a `registered` event, built as the province node builds them."""
    req = rq.parse_registration(body)
    t = lifecycle.register(
        None, None, req, province=province, person_ref=person_ref(secret, req.id_number)
    )
    record = t.record.model_dump(mode="json")
    details = DETAILS_BY_TYPE[t.type].model_validate(t.details).model_dump(mode="json")
    return canonical_bytes(
        {
            "schema_version": 1,
            "event_id": str(uuid.uuid4()),
            "province": province,
            "seq": seq,
            "type": t.type.value,
            "cert_no": t.record.cert_no,
            "record_version": 1,
            "committed_at": format_utc(utc_now()),
            "actor": "bench",
            "details": details,
            "record": record,
        }
    )


def split(total: int, parts: int) -> list[int]:
    """`total` spread over `parts` as evenly as possible."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def fill_producer(fed: Federation) -> AIOKafkaProducer:
    """The producer the fills use: idempotent, acks=all, large batches."""
    return AIOKafkaProducer(
        bootstrap_servers=fed.bootstrap,
        enable_idempotence=True,
        acks="all",
        linger_ms=20,
        max_batch_size=1 << 20,
        max_request_size=8 << 20,
    )


async def send_registered(
    producer: AIOKafkaProducer,
    fed: Federation,
    code: str,
    n: int,
    *,
    seed: int,
    start: int,
    secret: bytes,
    advance: Callable[[int], object],
) -> int:
    """Records start..start+n-1 of `code` as seqs start+1..start+n on its topic, awaited in
    chunks of 5,000 (`advance` is told each chunk's size); returns how many were sent."""
    signer = fed.signer(code)
    topic = fed.topic(code)
    futures = []
    built = 0
    for i, body in enumerate(synthetic.registrations(code, n, seed, start), 1):
        value = registered_value(code, start + i, body, secret)
        fut = await producer.send(
            topic,
            value,
            key=body["cert_no"].encode(),
            headers=signed_headers(signer, value),
        )
        futures.append(fut)
        built += 1
        if len(futures) >= 5000:
            await asyncio.gather(*futures)
            advance(len(futures))
            futures.clear()
    await asyncio.gather(*futures)
    advance(len(futures))
    return built


async def produce_registered(
    fed: Federation, total: int, *, seed: int = 0, start: int = 0, label: str = "producing"
) -> dict[str, Any]:
    """Put `total` signed `registered` events on the province topics (seq 1..n per province).

    Records come from province_node.synthetic; keys are cert_no as the nodes publish them.
    Returns timing of the fill (not part of any figure under test).
    """
    counts = split(total, len(fed.provinces))
    secret = fed.person_secret
    producer = fill_producer(fed)
    await producer.start()
    t0 = time.monotonic()
    built = 0
    try:
        with progress() as bar:
            task = bar.add_task(label, total=total)
            for code, n in zip(fed.provinces, counts, strict=True):
                built += await send_registered(
                    producer,
                    fed,
                    code,
                    n,
                    seed=seed,
                    start=start,
                    secret=secret,
                    advance=lambda k: bar.advance(task, k),
                )
    finally:
        await producer.stop()
    elapsed = time.monotonic() - t0
    return {"events": built, "seconds": round(elapsed, 2)}


# Licensed physicians and assistant physicians per province, in units of 10,000: rounded,
# approximate figures for about 2021 (national health statistics yearbook; DOMAIN.md: 广东
# 320,923 in 2021), with 兵团 (66) estimated. Only their shape is used: weights that give a
# synthetic registry the real skew (at 5M: 广东 ≈ 370k, 山东/河南/江苏/四川 ≈ 300-350k, 西藏,
# 青海, 宁夏 and 兵团 ≈ 15-25k).
PHYSICIANS_10K: dict[str, float] = {
    "11": 11.3, "12": 5.6, "13": 22.0, "14": 10.8, "15": 8.2, "21": 12.0, "22": 8.0,
    "23": 9.4, "31": 8.3, "32": 26.5, "33": 22.6, "34": 17.0, "35": 11.0, "36": 10.5,
    "37": 30.0, "41": 28.5, "42": 16.3, "43": 19.0, "44": 32.1, "45": 12.9, "46": 2.9,
    "50": 9.0, "51": 25.5, "52": 10.2, "53": 13.3, "54": 1.3, "61": 11.6, "62": 7.2,
    "63": 1.9, "64": 2.0, "65": 6.3, "66": 1.7,
}  # fmt: skip


def skewed_counts(total: int, provinces: Sequence[str] = tuple(PROVINCES)) -> dict[str, int]:
    """`total` records spread over `provinces` by PHYSICIANS_10K (largest remainder: the
    counts sum to `total` exactly)."""
    weights = [PHYSICIANS_10K[c] for c in provinces]
    scale = total / sum(weights)
    exact = [w * scale for w in weights]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: counts[i] - exact[i])
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return dict(zip(provinces, counts, strict=True))


def metric_by_label(base_url: str, name: str, label: str) -> dict[str, float]:
    """One Prometheus metric on /metrics summed per value of one label (e.g. province)."""
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    needle = f'{label}="'
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        labels, value = line.rsplit(" ", 1)
        start = labels.find(needle)
        if start < 0:
            continue
        start += len(needle)
        key = labels[start : labels.index('"', start)]
        out[key] = out.get(key, 0.0) + float(value)
    return out


async def _produce_share(
    fed: Federation,
    counts: Sequence[tuple[str, int, int]],
    seed: int,
    sent: Any,
) -> None:
    """Produce (province, count, start) shares in turn; add to the shared `sent` counter."""

    def advance(k: int) -> None:
        with sent.get_lock():
            sent.value += k

    secret = fed.person_secret
    producer = fill_producer(fed)
    await producer.start()
    try:
        for code, n, start in counts:
            await send_registered(
                producer, fed, code, n, seed=seed, start=start, secret=secret, advance=advance
            )
    finally:
        await producer.stop()


def _produce_worker(
    fed: Federation, counts: Sequence[tuple[str, int, int]], seed: int, sent: Any
) -> None:
    asyncio.run(_produce_share(fed, counts, seed, sent))


def produce_registered_counts(
    fed: Federation,
    counts: Mapping[str, int],
    *,
    seed: int = 0,
    starts: Mapping[str, int] | None = None,
    workers: int = 1,
    label: str = "producing",
) -> dict[str, Any]:
    """Like produce_registered, with a count per province (e.g. skewed_counts) instead of an
    even spread: province c gets records starts[c]..starts[c]+counts[c]-1 of
    synthetic.registrations(c, seed) as seqs starts[c]+1.. (so a second call with
    starts = the first call's counts continues every topic). `workers` processes share the
    provinces (largest first, to the least loaded), each with its own producer.
    """
    starts = starts or {}
    shares: list[list[tuple[str, int, int]]] = [[] for _ in range(max(1, workers))]
    loads = [0] * len(shares)
    for code, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        if n <= 0:
            continue
        w = loads.index(min(loads))
        shares[w].append((code, n, starts.get(code, 0)))
        loads[w] += n
    total = sum(loads)
    ctx = multiprocessing.get_context("spawn")
    sent = ctx.Value("q", 0)
    procs = [
        ctx.Process(target=_produce_worker, args=(fed, share, seed, sent), daemon=True)
        for share in shares
        if share
    ]
    t0 = time.monotonic()
    for p in procs:
        p.start()
    try:
        with progress() as bar:
            task = bar.add_task(label, total=total)
            while any(p.is_alive() for p in procs):
                bar.update(task, completed=sent.value)
                time.sleep(0.5)
            bar.update(task, completed=sent.value)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
            p.join()
    failed = [p.exitcode for p in procs if p.exitcode != 0]
    if failed or sent.value != total:
        raise RuntimeError(f"producing failed (exit codes {failed}, {sent.value} of {total} sent)")
    elapsed = time.monotonic() - t0
    return {
        "events": total,
        "seconds": round(elapsed, 2),
        "events_per_s": round(total / elapsed, 1),
        "workers": len(procs),
    }


def hub_env() -> dict[str, str]:
    """Environment of a benchmarked hub: no per-IP rate limit."""
    return {"REGSYNC_HUB_RATE_LIMIT": "off"}


def start_hub(fed: Federation, log_name: str = "hub.log") -> Any:
    """`national-hub serve` as its own process, as deployed.

    With REGSYNC_BENCH_PROFILE=FILE, `py-spy record` samples the hub (decode workers
    included) until it exits and writes collapsed stacks to FILE.
    """
    hub = spawn(
        [str(BIN / "national-hub"), "serve", "--config", str(fed.config)],
        cwd=fed.state,
        log=fed.state / log_name,
        env=hub_env(),
    )
    profile = os.environ.get("REGSYNC_BENCH_PROFILE")
    if profile:
        spy = [str(BIN / "py-spy"), "record", "--subprocesses", "--format", "raw"]
        spy += ["--rate", "200", "--output", profile, "--pid", str(hub.pid)]
        spawn(spy, cwd=fed.state, log=fed.state / "py-spy.log")
    return hub


def start_node(fed: Federation, code: str) -> Any:
    """`province-node serve` for one province."""
    return spawn(
        [str(BIN / "province-node"), "serve", "--config", str(fed.config), "--province", code],
        cwd=fed.state,
        log=fed.state / f"province-{code}.log",
    )


@contextlib.contextmanager
def filled_federation(
    provinces: Sequence[str], events: int, keep: bool = False
) -> Iterator[tuple[Federation, dict[str, Any]]]:
    """A temporary federation on its own Kafka, its topics filled with `events` events."""
    with workdir(keep) as root, kafka(root, heap="1g") as cluster:
        fed = federation(root / "fed", provinces, cluster.bootstrap)
        asyncio.run(create_topics(fed))
        fill = asyncio.run(produce_registered(fed, events))
        stderr.print(f"filled {fill['events']} events in {fill['seconds']}s")
        yield fed, fill


def run_rebuild(fed: Federation, records: int) -> dict[str, Any]:
    """`national-hub rebuild` over the federation's topics: wall time, RSS, CPU, file size."""
    cmd = [str(BIN / "national-hub"), "rebuild", "--config", str(fed.config), "--quiet"]
    t0 = time.perf_counter()
    proc = spawn(cmd, cwd=fed.state, log=fed.state / "rebuild.log")
    try:
        with RssSampler(proc.pid, interval=0.2) as rss:
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - t0
    finally:
        stop_process(proc)
    if proc.returncode != 0:
        tail = (fed.state / "rebuild.log").read_text(errors="replace")[-3000:]
        raise SystemExit(f"rebuild failed with {proc.returncode}:\n{tail}")
    with duckdb.connect(str(fed.db), read_only=True) as con:
        row = con.execute("SELECT count(*) FROM records").fetchone()
    return {
        "records": records,
        "records_held": row[0] if row else None,
        "wall_seconds": round(elapsed, 2),
        "events_per_s": round(records / elapsed, 1),
        "ru_maxrss_mib": round(usage.ru_maxrss / 1024, 1),
        "peak_rss_mib_process_tree_sampled": round(rss.tree_peak / 2**20, 1),
        "cpu_seconds_wait4": round(usage.ru_utime + usage.ru_stime, 2),
        "duckdb_file_mib": round(fed.db.stat().st_size / 2**20, 1),
    }
