"""Helpers of the hub tests: a federation on disk, signed events on Kafka, a running hub."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import duckdb
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import RecordMetadata

from national_hub.config import HubSettings
from national_hub.web.app import create_app
from national_hub.web.appkeys import INGESTOR
from schemas.canonical import canonical_bytes
from schemas.events import Event
from schemas.record import ProvinceCert, Transfer
from schemas.samples import sample_event
from schemas.signing import Signer, write_keypair
from schemas.timestamps import utc_now
from schemas.vocab import PROVINCES

T = TypeVar("T")

LIFECYCLE = (
    "registered",
    "change_requested",
    "changed",
    "site_filed",
    "change_requested",
    "change_rejected",
    "site_withdrawn",
    "assessed",
    "suspended",
    "reinstated",
    "cancelled",
)

_names = itertools.cycle(["张伟", "王芳", "李娜", "买买提·艾力", "欧阳明", "刘洋", "陈静", "赵磊"])


@dataclass
class HubEnv:
    """A federation file with keys for several provinces, topics under one prefix."""

    root: Path
    config: Path
    bootstrap: str
    prefix: str
    provinces: tuple[str, ...]
    signers: dict[str, Signer]
    ops_token: str
    db: Path
    port: int
    seqs: dict[str, itertools.count[int]] = field(default_factory=dict)

    def settings(self) -> HubSettings:
        """Settings as `national-hub serve --config` builds them."""
        return HubSettings.load(self.config)

    def topic(self, province: str) -> str:
        """The province's events topic."""
        return f"{self.prefix}.events.{province}"

    @property
    def heartbeats_topic(self) -> str:
        """The heartbeats topic."""
        return f"{self.prefix}.heartbeats"

    def next_seq(self, province: str) -> int:
        """The province's next gap-free seq."""
        return next(self.seqs.setdefault(province, itertools.count(1)))


def write_federation(
    root: Path,
    bootstrap: str,
    prefix: str,
    provinces: Sequence[str] = ("50", "44", "11"),
    *,
    partitions: int = 3,
) -> HubEnv:
    """Keys, ops token and federation.toml for a hub test."""
    keys = root / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    write_keypair(keys / "hub")
    signers: dict[str, Signer] = {}
    for code in provinces:
        key, _ = write_keypair(keys / code)
        signers[code] = Signer.load(key)
    ops_token = secrets.token_urlsafe(16)
    port = free_port()
    lines = [
        "[kafka]",
        f'bootstrap = "{bootstrap}"',
        f'topic_prefix = "{prefix}"',
        f"partitions = {partitions}",
        "replication_factor = 1",
        "",
        "[hub]",
        f'listen = "127.0.0.1:{port}"',
        'db = "var/national.duckdb"',
        'signing_key = "keys/hub.key"',
        f'ops_token_sha256 = "{hashlib.sha256(ops_token.encode()).hexdigest()}"',
    ]
    for code in provinces:
        lines += [
            "",
            "[[province]]",
            f'code = "{code}"',
            f"name = {json.dumps(PROVINCES[code], ensure_ascii=False)}",
            f'node_url = "http://127.0.0.1:{9000 + int(code)}"',
            f'public_key = "keys/{code}.pub"',
        ]
    config = root / "federation.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return HubEnv(
        root=root,
        config=config,
        bootstrap=bootstrap,
        prefix=prefix,
        provinces=tuple(provinces),
        signers=signers,
        ops_token=ops_token,
        db=root / "var" / "national.duckdb",
        port=port,
    )


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def create_topics(env: HubEnv, partitions: int = 3, extra: Iterable[str] = ()) -> None:
    """Create every province topic (and heartbeats) as the nodes would, and `extra` ones."""
    admin = AIOKafkaAdminClient(bootstrap_servers=env.bootstrap)
    await admin.start()
    try:
        names = [env.topic(c) for c in env.provinces] + [env.heartbeats_topic, *extra]
        await admin.create_topics(
            [NewTopic(n, num_partitions=partitions, replication_factor=1) for n in names]
        )
    finally:
        await admin.close()


# ---- events ------------------------------------------------------------------------------------


def make_event(
    env: HubEnv,
    kind: str,
    province: str,
    cert_no: str,
    version: int,
    *,
    name: str | None = None,
    seq: int | None = None,
    **details: Any,
) -> Event:
    """A valid event of a type for one record, with the province's next seq."""
    seq = env.next_seq(province) if seq is None else seq
    kw: dict[str, Any] = {
        "cert_no": cert_no,
        "record_version": version,
        "event_id": uuid.uuid4(),
        "committed_at": utc_now(),
    }
    if details:
        kw["details"] = details
    ev = sample_event(kind, seq=seq, province=province, **kw)
    updates: dict[str, Any] = {"name": name or "王小明"}
    if kind == "registered" and "transfer_from" in details:
        tf = ProvinceCert.model_validate(details["transfer_from"])
        updates["transfer"] = Transfer(from_province=tf.province, from_cert_no=tf.cert_no)
    if kind == "transferred_out" and "to_province" in details:
        updates["transfer"] = Transfer(to_province=details["to_province"])
    return ev.model_copy(update={"record": ev.record.model_copy(update=updates)})


def lifecycle(
    env: HubEnv, province: str, cert_no: str, kinds: Iterable[str] = LIFECYCLE
) -> list[Event]:
    """A record's whole story: one event per kind, versions 1..n."""
    name = next(_names)
    return [
        make_event(env, kind, province, cert_no, v, name=name)
        for v, kind in enumerate(kinds, start=1)
    ]


def cert(province: str, n: int) -> str:
    """A 15-digit certificate number unique per (province, n)."""
    return f"{province}{n:013d}"


@dataclass
class Message:
    """One message to put on a topic, signed unless told otherwise."""

    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


def signed(
    env: HubEnv, event: Event, *, signer: Signer | None = None, topic: str | None = None
) -> Message:
    """The event as the province node publishes it (architecture.md's wire format)."""
    value = canonical_bytes(event)
    s = signer or env.signers[event.province]
    return Message(
        topic=topic or env.topic(event.province),
        key=event.cert_no.encode(),
        value=value,
        headers=[("sig", base64.b64encode(s.sign(value))), ("kid", s.kid.encode())],
    )


def heartbeat(
    env: HubEnv, province: str, committed: int, published: int, sent_at: datetime | None = None
) -> Message:
    """A signed heartbeat of the province, sent now (or at sent_at, by its clock)."""
    body = {
        "province": province,
        "committed_seq": committed,
        "published_seq": published,
        "outbox_backlog": committed - published,
        "oldest_unpublished_at": None,
        "sent_at": sent_at or utc_now(),
    }
    value = canonical_bytes(body)
    s = env.signers[province]
    return Message(
        topic=env.heartbeats_topic,
        key=province.encode(),
        value=value,
        headers=[("sig", base64.b64encode(s.sign(value))), ("kid", s.kid.encode())],
    )


@asynccontextmanager
async def producer(env: HubEnv) -> AsyncIterator[AIOKafkaProducer]:
    """An idempotent acks=all producer, as the nodes use."""
    p = AIOKafkaProducer(
        bootstrap_servers=env.bootstrap, enable_idempotence=True, acks="all", linger_ms=5
    )
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


async def send(env: HubEnv, messages: Iterable[Message]) -> list[RecordMetadata]:
    """Produce messages in order and wait for every ack; where each one landed."""
    async with producer(env) as p:
        return await send_with(p, messages)


async def send_with(p: AIOKafkaProducer, messages: Iterable[Message]) -> list[RecordMetadata]:
    """Produce with an existing producer and wait for every ack; where each one landed."""
    futures = [await p.send(m.topic, m.value, key=m.key, headers=m.headers) for m in messages]
    return list(await asyncio.gather(*futures))


async def send_events(env: HubEnv, events: Iterable[Event]) -> None:
    """Sign and produce events."""
    await send(env, [signed(env, e) for e in events])


# ---- the hub -----------------------------------------------------------------------------------


async def wait_for(
    probe: Callable[[], Awaitable[T | None]], seconds: float = 20.0, interval: float = 0.05
) -> T:
    """Poll until probe returns something truthy; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {seconds}s (last: {last!r})")


def hub_app(client: TestClient) -> web.Application:
    """The application behind a test client."""
    app = client.app
    assert app is not None
    return app


@asynccontextmanager
async def running_hub(settings: HubSettings) -> AsyncIterator[TestClient]:
    """The hub app in this process (store + ingest + routes), ready to answer."""
    app = create_app(settings)
    async with TestClient(TestServer(app)) as client:

        async def ready() -> bool:
            return (await client.get("/readyz")).status == 200

        await wait_for(ready, seconds=30)
        yield client


async def get_json(client: TestClient, path: str, status: int = 200, **kw: Any) -> Any:
    """GET and check the status."""
    resp = await client.get(path, **kw)
    text = await resp.text()
    assert resp.status == status, f"{path}: {resp.status} {text}"
    return json.loads(text)


async def wait_version(
    client: TestClient, cert_no: str, version: int, seconds: float = 20.0
) -> dict[str, Any]:
    """Wait until the lookup shows at least this record_version."""

    async def probe() -> dict[str, Any] | None:
        resp = await client.get(f"/v1/physicians/{cert_no}")
        if resp.status != 200:
            return None
        body: dict[str, Any] = await resp.json()
        return body if body["record_version"] >= version else None

    return await wait_for(probe, seconds)


async def wait_offsets(client: TestClient, env: HubEnv, total: int, seconds: float = 30.0) -> None:
    """Wait until both of the hub's sinks (store and serving index) have stored offsets
    covering `total` messages on the event topics."""
    sinks = hub_app(client)[INGESTOR].sinks

    async def probe() -> bool:
        done = sum(n for (t, _), n in sinks.offsets().items() if ".events." in t)
        return done >= total

    await wait_for(probe, seconds)


def table_dump(db: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a query on a closed store file (select timestamps as epoch_ms: no pytz)."""
    with duckdb.connect(str(db), read_only=True) as con:
        return [tuple(r) for r in con.execute(sql).fetchall()]


def expected_state(events: Iterable[Event]) -> dict[str, Event]:
    """The last event per cert_no: what the hub must hold."""
    last: dict[str, Event] = {}
    for e in events:
        prev = last.get(e.cert_no)
        if prev is None or e.record_version > prev.record_version:
            last[e.cert_no] = e
    return last


SNAPSHOT_ORDER = {
    "records": "cert_no",
    "history": "apply_id",
    "dead_letters": 'topic, partition, "offset"',
    "progress": "province",
    "progress_pending": "province, seq",
    "applied_counts": "province, type",
    "transfer_links": "old_province, old_cert_no, new_province, new_cert_no",
    "unshown_records": "province, cert_no",
    "rejected_seqs": "province, seq",
    "offsets": "topic, partition",
}


def snapshot(db: Path, tables: Iterable[str] = SNAPSHOT_ORDER) -> dict[str, list[dict[str, Any]]]:
    """Every row of the ingest tables of a closed store file, in a stable order."""
    with duckdb.connect(str(db), read_only=True) as con:
        return {
            t: con.sql(f"SELECT * FROM {t} ORDER BY {SNAPSHOT_ORDER[t]}")
            .to_arrow_table()
            .to_pylist()
            for t in tables
        }


@contextmanager
def store_held_elsewhere(db: Path) -> Iterator[None]:
    """Another process holds the DuckDB file open for the duration (DuckDB allows one)."""
    db.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb,sys,time; c=duckdb.connect(sys.argv[1]); print('ok', flush=True);"
            " time.sleep(30)",
            str(db),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"ok"
        yield
    finally:
        holder.kill()
        holder.wait()
