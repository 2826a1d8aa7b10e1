"""Outbox and relay against a real broker: order, signatures, wake-ups, heartbeats, outages."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.structs import ConsumerRecord
from nodekit import (
    NEXT_YEAR,
    SECOND,
    FedEnv,
    Node,
    cert_no,
    consume,
    eventually,
    id_number,
    registration,
    start_node,
    write_federation,
)

from devstack.kafka import KafkaCluster, free_base_port
from province_node import registry as reg
from province_node.registry import Store
from schemas.events import parse_event, parse_heartbeat
from schemas.person_ref import load_secret
from schemas.signing import Verifier
from schemas.wire import read_signature

Records = list[ConsumerRecord[bytes, bytes]]

LIFECYCLE = [
    {"type": "change_requested", "changes": {"primary_institution": SECOND}},
    {"type": "changed"},
    {
        "type": "site_filed",
        "institution": SECOND | {"org_code": "91110000101623741K"},
        "start_date": "2026-01-01",
    },
    {"type": "assessed", "result": "fail", "assessed_on": "2026-03-01"},
    {"type": "assessed", "result": "pass", "assessed_on": "2026-09-01"},
    {"type": "suspended", "reason": "违反诊疗规范", "until": NEXT_YEAR},
    {"type": "reinstated"},
    {"type": "cancelled", "reason": "voluntary"},
]
EXPECTED_TYPES = [
    "registered",
    "change_requested",
    "changed",
    "site_filed",
    "assessed",
    "assessed",
    "suspended",
    "reinstated",
    "cancelled",
]


async def _run_lifecycle(node: Node) -> int:
    """Register two physicians and walk the first through its lifecycle; return the count."""
    await node.register(registration(1))
    await node.register(registration(2, male=False))
    for step in LIFECYCLE:
        code, body, _ = await node.step(cert_no(1), step)
        assert code == 200, body
    return 2 + len(LIFECYCLE)


async def _published(node: Node, fed: FedEnv, expected: int) -> Records:
    records = await consume(fed.bootstrap, fed.topic(), lambda seen: len(seen) >= expected)
    assert len(records) == expected, f"{len(records)} of {expected} events on Kafka"
    return records


@pytest.fixture
async def lifecycle_records(node: Node, fed: FedEnv) -> Records:
    """The events of a full lifecycle as consumed from the province topic."""
    return await _published(node, fed, await _run_lifecycle(node))


def _seq(record: ConsumerRecord[bytes, bytes]) -> int:
    assert record.value is not None
    return int(json.loads(record.value)["seq"])


async def test_every_committed_event_arrives_once_with_gap_free_seq(
    lifecycle_records: Records,
) -> None:
    assert sorted(_seq(r) for r in lifecycle_records) == list(range(1, 11))


async def test_events_of_one_partition_arrive_in_seq_order(lifecycle_records: Records) -> None:
    by_partition: dict[int, list[int]] = {}
    for r in lifecycle_records:
        by_partition.setdefault(r.partition, []).append(_seq(r))
    assert all(seqs == sorted(seqs) for seqs in by_partition.values())


async def test_event_types_follow_the_lifecycle(lifecycle_records: Records) -> None:
    events = sorted((parse_event(r.value or b"") for r in lifecycle_records), key=lambda e: e.seq)
    assert [e.type for e in events if e.cert_no == cert_no(1)] == EXPECTED_TYPES


async def test_record_version_grows_by_one_per_event(lifecycle_records: Records) -> None:
    events = sorted((parse_event(r.value or b"") for r in lifecycle_records), key=lambda e: e.seq)
    versions = [e.record_version for e in events if e.cert_no == cert_no(1)]
    assert versions == list(range(1, len(EXPECTED_TYPES) + 1))


async def test_events_are_keyed_by_cert_no(lifecycle_records: Records) -> None:
    assert all(r.key == json.loads(r.value or b"")["cert_no"].encode() for r in lifecycle_records)


async def test_events_are_signed_by_the_province_key(
    lifecycle_records: Records, fed: FedEnv
) -> None:
    verifier = Verifier.load(fed.root / "keys" / "50.pub")
    for r in lifecycle_records:
        found = read_signature(r.headers)
        assert found is not None and found[1] == verifier.kid
        assert verifier.verify(r.value or b"", found[0])


async def test_events_never_carry_the_id_number(lifecycle_records: Records) -> None:
    ids = {id_number(1).encode(), id_number(2, male=False).encode()}
    assert not any(i in (r.value or b"") for r in lifecycle_records for i in ids)


async def test_events_carry_the_person_ref(lifecycle_records: Records, fed: FedEnv) -> None:
    secret = load_secret(fed.root / "keys" / "federation.secret")
    expected = hmac.new(secret, id_number(1).encode(), hashlib.sha256).hexdigest()
    refs = {
        parse_event(r.value or b"").record.person_ref
        for r in lifecycle_records
        if r.key == cert_no(1).encode()
    }
    assert refs == {expected}


async def test_kafka_holds_the_exact_outbox_bytes(lifecycle_records: Records, fed: FedEnv) -> None:
    with reg.connect(fed.db, read_only=True) as conn:
        stored = dict(conn.execute("SELECT seq, value FROM outbox").fetchall())
    assert {_seq(r): r.value for r in lifecycle_records} == stored


async def test_relay_records_partition_and_offset(lifecycle_records: Records, node: Node) -> None:
    landed = {(r.partition, r.offset) for r in lifecycle_records if r.key == cert_no(2).encode()}

    async def marked() -> bool:
        _, body, _ = await node.call("GET", f"/v1/sync/records/{cert_no(2)}", role="hub")
        return bool(body["published"])

    await eventually(marked)
    _, body, _ = await node.call("GET", f"/v1/sync/records/{cert_no(2)}", role="hub")
    assert {(body["partition"], body["offset"])} == landed


async def test_topic_is_created_with_infinite_retention(node: Node, fed: FedEnv) -> None:
    await _published(node, fed, await _run_lifecycle(node))
    admin = AIOKafkaAdminClient(bootstrap_servers=fed.bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, fed.topic())]
        )
    finally:
        await admin.close()
    configs = {entry[0]: entry[1] for entry in response.resources[0][4]}
    assert configs["retention.ms"] == "-1"


@pytest.fixture
async def lazy_poll_node(fed: FedEnv) -> AsyncIterator[Node]:
    """A node whose relay would poll only every 60 s: anything faster was a commit's wake-up."""
    n = await start_node(fed.settings(relay_idle_poll_s=60.0), fed.tokens)
    yield n
    await n.client.close()


async def test_a_commit_wakes_the_relay_at_once(lazy_poll_node: Node) -> None:
    node = lazy_poll_node
    await node.register(registration(1))

    async def published(seq: int) -> bool:
        return (await node.status())["published_seq"] >= seq

    await eventually(lambda: published(1))
    started = time.monotonic()
    await node.register(registration(2))
    await eventually(lambda: published(2), within=5.0, interval=0.01)
    assert time.monotonic() - started < 2.0


async def _heartbeats(fed: FedEnv, count: int) -> Records:
    topic = f"{fed.topic_prefix}.heartbeats"
    return await consume(fed.bootstrap, topic, lambda seen: len(seen) >= count, within=20.0)


async def test_heartbeat_is_signed_and_keyed_by_province(node: Node, fed: FedEnv) -> None:
    [beat] = (await _heartbeats(fed, 1))[:1]
    verifier = Verifier.load(fed.root / "keys" / "50.pub")
    found = read_signature(beat.headers)
    assert beat.key == b"50" and found is not None
    assert verifier.verify(beat.value or b"", found[0])


async def test_heartbeat_reports_the_outbox_position(node: Node, fed: FedEnv) -> None:
    await node.register(registration(1))
    await eventually(lambda: _status_is(node, committed=1, backlog=0))
    topic = f"{fed.topic_prefix}.heartbeats"

    def caught_up(seen: Records) -> bool:
        return any(parse_heartbeat(r.value or b"").published_seq == 1 for r in seen)

    beats = [
        parse_heartbeat(r.value or b"")
        for r in await consume(fed.bootstrap, topic, caught_up, within=20.0)
    ]
    last = beats[-1]
    assert (last.province, last.committed_seq, last.published_seq, last.outbox_backlog) == (
        "50",
        1,
        1,
        0,
    )


async def test_heartbeats_come_every_second(node: Node, fed: FedEnv) -> None:
    beats = [parse_heartbeat(r.value or b"") for r in await _heartbeats(fed, 3)]
    gaps = [(b.sent_at - a.sent_at).total_seconds() for a, b in itertools.pairwise(beats)]
    assert all(0.5 < g < 2.0 for g in gaps), gaps


async def _status_is(node: Node, *, committed: int, backlog: int) -> bool:
    s = await node.status()
    return bool(s["committed_seq"] == committed and s["outbox_backlog"] == backlog)


async def test_imported_rows_are_published_when_the_node_serves(fed: FedEnv) -> None:
    settings = fed.settings()
    path = fed.root / "rows.jsonl"
    path.write_text("".join(json.dumps(registration(i)) + "\n" for i in range(1, 51)))
    from province_node.importer import import_file

    store = Store(settings.db_path, "50", settings.load_signer(), settings.load_secret())
    store.open()
    try:
        import_file(store, path)
    finally:
        store.close()
    node = await start_node(settings, fed.tokens)
    try:
        records = await _published(node, fed, 50)
    finally:
        await node.client.close()
    assert sorted(_seq(r) for r in records) == list(range(1, 51))


# -- Kafka outage --------------------------------------------------------------------------------


@pytest.fixture
def own_kafka(tmp_path: Path) -> Any:
    """A broker of this test's own, which it may stop and start."""
    cluster = KafkaCluster(tmp_path / "own-kafka", brokers=1, base_port=free_base_port(1))
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.mark.faults
async def test_writes_survive_a_kafka_outage_and_drain_in_order(
    own_kafka: KafkaCluster, tmp_path: Path, topic_prefix: str
) -> None:
    env = write_federation(tmp_path / "fed", own_kafka.bootstrap, topic_prefix)
    settings = env.settings(backoff_initial_s=0.2, backoff_max_s=1.0, kafka_timeout_s=5.0)
    node = await start_node(settings, env.tokens)
    try:
        await node.register(registration(1))
        await eventually(lambda: _status_is(node, committed=1, backlog=0))
        await asyncio.to_thread(own_kafka.stop)

        for i in range(2, 202):
            code, body, _ = await node.register(registration(i))
            assert code == 201, body

        async def offline_with_backlog() -> bool:
            s = await node.status()
            return bool(s["outbox_backlog"] == 200 and not s["kafka"]["connected"])

        await eventually(offline_with_backlog, within=30.0)

        await asyncio.to_thread(own_kafka.start)
        await eventually(lambda: _status_is(node, committed=201, backlog=0), within=60.0)
    finally:
        await node.client.close()
    records = await consume(own_kafka.bootstrap, env.topic(), lambda seen: len(seen) >= 201)
    seqs = [_seq(r) for r in sorted(records, key=lambda r: (r.partition, r.offset))]
    per_partition: dict[int, list[int]] = {}
    for r in records:
        per_partition.setdefault(r.partition, []).append(_seq(r))
    assert sorted(seqs) == list(range(1, 202))  # all arrived, none twice
    assert all(s == sorted(s) for s in per_partition.values())  # in seq order
