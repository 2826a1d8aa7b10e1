"""The fault matrix's shared machinery: scales, the load, killers, the consistency check, rows.

A scenario runs a real federation (three province nodes and the hub as processes, on Kafka of
its own), keeps writes flowing into all three provinces through their HTTP APIs, injects its
faults, lets the hub catch up, and then compares the hub with every registry field by field.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import random
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from devstack.kafka import KafkaCluster, free_base_port
from devstack.stack import Stack
from province_node.synthetic import institutions, registrations
from schemas.samples import suspension_until
from tests.e2e.federation import Federation, connect, stack_running
from tests.e2e.test_nodes_to_hub import public

PROVINCES = ["50", "11", "44"]


@dataclass(frozen=True)
class Scale:
    """How hard a scenario pushes: the reduced form runs in the default suite, full on demand."""

    name: str
    kills: int  # SIGKILLs of the hub or of province nodes
    broker_kills: int  # SIGKILLs of one broker of three
    outage_s: float  # how long all of Kafka stays down
    broker_down_s: float  # how long one broker of three stays dead
    rate: float  # acknowledged-write attempts per second per province
    tail_s: float  # writes keep flowing this long after the last fault


REDUCED = Scale(
    "reduced", kills=2, broker_kills=1, outage_s=10.0, broker_down_s=5.0, rate=15.0, tail_s=2.0
)
FULL = Scale(
    "full", kills=10, broker_kills=3, outage_s=60.0, broker_down_s=20.0, rate=25.0, tail_s=5.0
)

# Every scenario is parametrized by these: `reduced` in the default run, `full` with -m faults.
SCALES = [
    pytest.param(REDUCED, id="reduced"),
    pytest.param(FULL, id="full", marks=[pytest.mark.faults, pytest.mark.timeout(3600)]),
]

LANES = 4  # concurrent writers per province
CATCH_UP_WITHIN = 600.0


# -- the load ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ack:
    """One acknowledged (2xx) write and where the node said its event sits."""

    province: str
    cert_no: str
    type: str
    seq: int
    record_version: int


class _Pacer:
    """Hands out evenly spaced write slots to the lanes of one province."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = 0.0

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        # After a stall the schedule restarts at now: no burst to make up for lost slots.
        slot = max(now, self._next)
        self._next = slot + self._interval
        await asyncio.sleep(slot - now)


def lifecycle(province: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Steps that are each allowed after the previous one, starting from a fresh registration."""
    own = body["primary_institution"]["org_code"]
    other = next(i for i in institutions(province) if i["org_code"] != own)
    return [
        {"type": "assessed", "result": "pass", "assessed_on": "2026-06-01"},
        {"type": "suspended", "reason": "行政处罚", "until": suspension_until()},
        {"type": "reinstated"},
        {
            "type": "change_requested",
            "changes": {
                "primary_institution": {k: other[k] for k in ("org_code", "name", "region_code")}
            },
        },
        {"type": "change_rejected", "reason": "材料不全"},
        {"type": "cancelled", "reason": "voluntary"},
    ]


class Load:
    """Registrations and lifecycle steps from LANES writers per province, at a steady rate.

    A write that fails (node down, connection cut) is retried with the same Idempotency-Key
    until the node answers, so a commit whose answer was lost is acknowledged by the replay.
    Only acknowledged writes are recorded; what a node committed without acknowledging is
    still compared, since the check reads every registry in full.
    """

    def __init__(self, fed: Federation, rate: float, seed: int) -> None:
        self.fed = fed
        self.acks: list[Ack] = []
        self.failed_attempts = 0
        self.abandoned = 0
        self.errors: list[str] = []
        self._rate = rate
        self._rng = random.Random(seed)
        self._seed = seed
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._give_up_at = float("inf")

    def start(self) -> None:
        """Start every lane."""
        for code in PROVINCES:
            pacer = _Pacer(self._rate)
            bodies = registrations(code, 200_000, seed=self._seed % 1000)
            for _ in range(LANES):
                self._tasks.append(asyncio.create_task(self._lane(code, pacer, bodies)))

    async def stop(self, grace: float = 60.0) -> None:
        """Stop starting writes; a write being retried gets `grace` seconds to be answered."""
        self._stopping.set()
        self._give_up_at = asyncio.get_running_loop().time() + grace
        await asyncio.gather(*self._tasks)

    async def _lane(self, code: str, pacer: _Pacer, bodies: Iterator[dict[str, Any]]) -> None:
        while not self._stopping.is_set():
            body = next(bodies)
            cert_no = body["cert_no"]
            if not await self._write(code, pacer, "/v1/registrations", body, cert_no, 1):
                continue
            steps = lifecycle(code, body)[: self._rng.randint(0, 6)]
            for version, step in enumerate(steps, start=2):
                if self._stopping.is_set():
                    return
                path = f"/v1/registrations/{cert_no}/events"
                if not await self._write(code, pacer, path, step, cert_no, version):
                    break

    async def _write(
        self,
        code: str,
        pacer: _Pacer,
        path: str,
        body: dict[str, Any],
        cert_no: str,
        version: int,
    ) -> bool:
        """POST until acknowledged; True once it is, False if abandoned or refused."""
        await pacer.wait()
        headers = {**self.fed.auth(code), "Idempotency-Key": uuid.uuid4().hex}
        url = self.fed.node(code) + path
        loop = asyncio.get_running_loop()
        while True:
            try:
                async with self.fed.http.post(
                    url, json=body, headers=headers, timeout=aiohttp.ClientTimeout(total=15)
                ) as resp:
                    status = resp.status
                    answer = await resp.json(content_type=None) if status < 500 else None
            except (aiohttp.ClientError, TimeoutError):
                status, answer = 0, None
            if status in (200, 201) and answer is not None:
                province, _, seq = answer["sync_token"].partition(":")
                event = "registered" if version == 1 else body["type"]
                self.acks.append(Ack(province, cert_no, event, int(seq), version))
                return True
            if status not in (0, 429, 503) and status < 500:
                # Every step is allowed by construction: a refusal is a finding, not load.
                self.errors.append(f"{code} {path} {body.get('type', 'register')}: {answer}")
                return False
            self.failed_attempts += 1
            if loop.time() > self._give_up_at:
                self.abandoned += 1
                return False
            await asyncio.sleep(0.25)


# -- positions and catch-up ----------------------------------------------------------------------


async def node_committed(fed: Federation) -> dict[str, int]:
    """Every province node's committed_seq (all nodes must be up)."""

    async def one(code: str) -> int:
        async with fed.http.get(
            f"{fed.node(code)}/v1/sync/status", headers=fed.auth(code, "viewer")
        ) as resp:
            assert resp.status == 200, await resp.text()
            return int((await resp.json())["committed_seq"])

    values = await asyncio.gather(*(one(c) for c in PROVINCES))
    return dict(zip(PROVINCES, values, strict=True))


async def hub_applied(fed: Federation) -> dict[str, int] | None:
    """The hub's applied seq per province, or None while it does not answer."""
    try:
        status, body = await fed.hub_get("/v1/sync/status")
    except (aiohttp.ClientError, TimeoutError):
        return None
    if status != 200:
        return None
    return {p["province"]: int(p["applied_seq"]) for p in body["provinces"]}


async def caught_up(fed: Federation, target: dict[str, int], since: float) -> float:
    """Wait until the hub applied every seq in target; seconds from `since` (loop time)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CATCH_UP_WITHIN
    while True:
        applied = await hub_applied(fed)
        if applied is not None and all(applied.get(c, 0) >= s for c, s in target.items()):
            return loop.time() - since
        if loop.time() > deadline:
            raise AssertionError(f"hub did not catch up: applied {applied}, wanted {target}")
        await asyncio.sleep(0.1)


async def recovery_from(fed: Federation, since: float) -> float:
    """From `since` until the hub applied everything the nodes had committed at call time."""
    return await caught_up(fed, await node_committed(fed), since)


# -- the consistency check -----------------------------------------------------------------------


@dataclass
class Verdict:
    """What the hub holds compared with the registries and the acknowledged writes."""

    records: int = 0
    events_committed: int = 0
    lost: list[str] = field(default_factory=list)  # committed events the hub lacks
    acked_lost: list[str] = field(default_factory=list)  # acknowledged writes the hub lacks
    duplicated: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    topic_gaps: list[str] = field(default_factory=list)
    topic_resends: int = 0

    @property
    def clean(self) -> bool:
        return not (
            self.lost or self.acked_lost or self.duplicated or self.mismatched or self.topic_gaps
        )

    def summary(self) -> str:
        return (
            f"lost {self.lost[:10]} ({len(self.lost)}), acknowledged and lost "
            f"{self.acked_lost[:10]} ({len(self.acked_lost)}), duplicated {self.duplicated[:10]} "
            f"({len(self.duplicated)}), mismatched {self.mismatched[:10]} "
            f"({len(self.mismatched)}), topic gaps {self.topic_gaps[:10]}"
        )


async def node_records(fed: Federation, code: str) -> dict[str, tuple[int, dict[str, Any]]]:
    """Every registration of a node: cert_no -> (record_version, public record)."""
    out: dict[str, tuple[int, dict[str, Any]]] = {}
    cursor: str | None = None
    while True:
        params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
        async with fed.http.get(
            f"{fed.node(code)}/v1/registrations", params=params, headers=fed.auth(code, "viewer")
        ) as resp:
            assert resp.status == 200, await resp.text()
            page = await resp.json()
        for item in page["items"]:
            out[item["record"]["cert_no"]] = (item["record_version"], public(item["record"]))
        cursor = page["next_cursor"]
        if cursor is None:
            return out


async def _hub_counts(fed: Federation) -> dict[str, int]:
    status, body = await fed.hub_get("/v1/stats", group_by="province")
    assert status == 200, body
    return {item["province"]: item["count"] for item in body["items"]}


async def check(fed: Federation, acks: list[Ack]) -> Verdict:
    """Compare the hub with every registry record by record, and find each acknowledged write.

    lost: a committed event (record_version) the hub's history lacks; acked_lost: an
    acknowledged write whose seq the history lacks; duplicated: a seq or record_version the
    history holds twice; mismatched: a record whose fields, version or province differ (or that
    the hub lacks, or only the hub has), a history out of order.
    """
    verdict = Verdict()
    acked: dict[tuple[str, str], list[Ack]] = {}
    for a in acks:
        acked.setdefault((a.province, a.cert_no), []).append(a)
    counts = await _hub_counts(fed)
    sem = asyncio.Semaphore(16)

    async def compare(code: str, cert_no: str, version: int, record: dict[str, Any]) -> None:
        async with sem:
            status, hub = await fed.hub_get(f"/v1/physicians/{cert_no}")
            h_status, history = await fed.hub_get(f"/v1/physicians/{cert_no}/history")
        where = f"{code}/{cert_no}"
        if status != 200:
            verdict.mismatched.append(f"{where}: not at the hub")
        elif (
            {k: hub.get(k) for k in record} != record
            or hub["record_version"] != version
            or hub["province"] != code
        ):
            verdict.mismatched.append(f"{where}: hub v{hub['record_version']}, node v{version}")
        items = history["items"] if h_status == 200 else []
        versions = [i["record_version"] for i in items]
        seqs = [i["seq"] for i in items]
        for what, values in (("v", versions), ("seq ", seqs)):
            verdict.duplicated += [
                f"{where} {what}{v} x{n}" for v, n in Counter(values).items() if n > 1
            ]
        verdict.lost += [f"{where} v{v}" for v in range(1, version + 1) if v not in versions]
        if versions != sorted(versions) or seqs != sorted(seqs):
            verdict.mismatched.append(f"{where}: history out of order {versions}")
        held = dict(zip(seqs, versions, strict=True))
        for a in acked.get((code, cert_no), []):
            if a.seq not in held:
                verdict.acked_lost.append(f"{where} seq {a.seq} v{a.record_version}")
            elif held[a.seq] != a.record_version:
                verdict.mismatched.append(f"{where}: seq {a.seq} is v{held[a.seq]} at the hub")

    for code in PROVINCES:
        records = await node_records(fed, code)
        verdict.records += len(records)
        verdict.events_committed += sum(v for v, _ in records.values())
        if counts.get(code, 0) != len(records):
            verdict.mismatched.append(f"{code}: hub holds {counts.get(code, 0)} records")
        await asyncio.gather(*(compare(code, c, v, r) for c, (v, r) in records.items()))
        missing = {c for p, c in acked if p == code} - set(records)
        verdict.acked_lost += [f"{code}/{c}: acknowledged, not in the registry" for c in missing]
    return verdict


async def scan_topics(stack: Stack, committed: dict[str, int], verdict: Verdict) -> None:
    """Read every province topic from the start: seqs 1..committed all there (resends counted)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.bootstrap or stack.kafka.bootstrap,
        enable_auto_commit=False,
        group_id=None,
        auto_offset_reset="earliest",
    )
    topics = {f"{stack.topic_prefix}.events.{code}": code for code in PROVINCES}
    # The stack's federation file has 3 partitions per topic.
    tps = [TopicPartition(t, p) for t in topics for p in range(3)]
    seen: dict[str, Counter[int]] = {code: Counter() for code in PROVINCES}
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        pending = {tp for tp in tps if ends[tp] > 0}
        while pending:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for tp, records in batch.items():
                seen[topics[tp.topic]].update(orjson.loads(r.value)["seq"] for r in records)
                if records and records[-1].offset + 1 >= ends[tp]:
                    pending.discard(tp)
    finally:
        # aiokafka's stop() may re-raise the cancellation of its own background tasks.
        with contextlib.suppress(asyncio.CancelledError):
            await consumer.stop()
    for code, seqs in seen.items():
        gaps = set(range(1, committed[code] + 1)) - set(seqs)
        verdict.topic_gaps += [f"{code} seq {s}" for s in sorted(gaps)]
        verdict.topic_resends += sum(seqs.values()) - len(seqs)


# -- the run of one scenario ---------------------------------------------------------------------


@dataclass(frozen=True)
class ResultRow:
    """One row of the fault matrix (docs/reliability.md)."""

    scenario: str
    scale: str
    load: str
    killed: str
    faults: int
    events_written: int  # acknowledged writes
    events_committed: int  # committed at the nodes (acknowledged or not)
    events_lost: int  # committed events (record versions) missing at the hub
    acknowledged_lost: int  # acknowledged writes whose seq the hub's history lacks
    events_duplicated: int
    records_mismatched: int
    failed_attempts: int  # write attempts refused or cut by the faults, retried
    topic_resends: int  # events the relays sent to Kafka twice (the hub drops them)
    restart_s: list[float]  # per fault: restart command until the component is ready again
    recovery_s: list[float]  # component back until the hub applied all committed by then
    catch_up_s: float  # the same for the last fault: the scenario's catch-up time
    duration_s: float
    date: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M:%S"))

    def as_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), ensure_ascii=False)


class FaultRun:
    """One scenario's load, faults, clock and figures."""

    def __init__(self, fed: Federation, scale: Scale, scenario: str) -> None:
        seed = random.randrange(1, 1_000_000)
        self.fed = fed
        self.scale = scale
        self.scenario = scenario
        self.rng = random.Random(seed)
        self.load = Load(fed, scale.rate, seed)
        self.killed: Counter[str] = Counter()
        self.recoveries: list[float] = []
        self.restarts: list[float] = []
        self.verdict = Verdict()
        self._started = time.monotonic()

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    async def pause(self, low: float, high: float) -> None:
        """Sleep a random time: the next fault lands at a random moment of the load."""
        await asyncio.sleep(self.rng.uniform(low, high))

    @asynccontextmanager
    async def writes(self) -> AsyncIterator[None]:
        """Writes flowing from all three provinces for the life of the block, then the check."""
        self.load.start()
        try:
            await caught_up(self.fed, dict.fromkeys(PROVINCES, 1), self.now())
            yield
            await asyncio.sleep(self.scale.tail_s)
        finally:
            await self.load.stop()
        assert not self.load.errors, self.load.errors[:5]
        committed = await node_committed(self.fed)
        await caught_up(self.fed, committed, self.now())
        self.verdict = await check(self.fed, self.load.acks)
        await scan_topics(self.fed.stack, committed, self.verdict)

    async def kill_cycles(
        self,
        targets: list[str],
        kill: Callable[[str], object],
        restart: Callable[[str], object],
        *,
        down: tuple[float, float],
        count: int | None = None,
        measure_each: bool = True,
    ) -> None:
        """Kill a random target at a random moment, restart it after `down` s; `count` times.

        With measure_each, every restart is followed by waiting until the hub caught up (the
        recovery time, counted from the target being back); otherwise half of the kills land
        while the hub is still catching up with the backlog of the previous one, and only the
        last recovery is measured.
        """
        count = self.scale.kills if count is None else count
        measured = True
        for i in range(count):
            await self.pause(*((0.5, 3.0) if measured else (0.0, 1.0)))
            target = self.rng.choice(targets)
            await blocking(kill, target)
            self.killed[target] += 1
            await self.pause(*down)
            self.restarts.append(await blocking(restart, target))
            at = self.now()
            measured = measure_each or i == count - 1 or self.rng.random() < 0.5
            if measured:
                self.recoveries.append(await recovery_from(self.fed, at))

    def row(self, how: str) -> ResultRow:
        v = self.verdict
        killed = ", ".join(f"{t} x{n}" for t, n in sorted(self.killed.items()))
        return ResultRow(
            scenario=self.scenario,
            scale=self.scale.name,
            load=f"3 provinces x {self.scale.rate:g} writes/s ({LANES} writers each)",
            killed=f"{killed} ({how})",
            faults=sum(self.killed.values()),
            events_written=len(self.load.acks),
            events_committed=v.events_committed,
            events_lost=len(v.lost),
            acknowledged_lost=len(v.acked_lost),
            events_duplicated=len(v.duplicated),
            records_mismatched=len(v.mismatched),
            failed_attempts=self.load.failed_attempts,
            topic_resends=v.topic_resends,
            restart_s=[round(r, 2) for r in self.restarts],
            recovery_s=[round(r, 2) for r in self.recoveries],
            catch_up_s=round(self.recoveries[-1], 2) if self.recoveries else 0.0,
            duration_s=round(time.monotonic() - self._started, 1),
        )


@asynccontextmanager
async def federation(
    state: Path, *, bootstrap: str | None = None, replication_factor: int = 1
) -> AsyncIterator[Federation]:
    """The three provinces and the hub as processes; their own Kafka unless bootstrap is given."""
    with stack_running(
        state, PROVINCES, bootstrap=bootstrap, replication_factor=replication_factor
    ) as running:
        async with connect(running) as fed:
            yield fed


async def play(
    state: Path,
    scale: Scale,
    scenario: str,
    faults: Callable[[FaultRun], Awaitable[None]],
    record: Callable[[ResultRow], None],
    *,
    how: str,
    bootstrap: str | None = None,
    replication_factor: int = 1,
) -> Verdict:
    """A federation, writes from three provinces, the faults, the check; records the row."""
    async with federation(state, bootstrap=bootstrap, replication_factor=replication_factor) as fed:
        run = FaultRun(fed, scale, scenario)
        async with run.writes():
            await faults(run)
    record(run.row(how))
    return run.verdict


@contextmanager
def three_brokers(state: Path) -> Iterator[KafkaCluster]:
    """A 3-broker KRaft cluster of the test's own (replication 3, min ISR 2)."""
    cluster = KafkaCluster(state, brokers=3, base_port=free_base_port(3))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


async def blocking(fn: Callable[..., Any], *args: Any) -> float:
    """Run a blocking stack operation off the loop (the load keeps going); seconds it took."""
    started = time.monotonic()
    await asyncio.to_thread(fn, *args)
    return time.monotonic() - started
