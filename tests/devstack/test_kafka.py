"""The Kafka launcher: a real 3-node KRaft cluster survives a SIGKILLed broker."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from devstack.kafka import KafkaCluster, free_base_port


@pytest.fixture(scope="module")
def cluster3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    """One 3-node cluster for this module; each test leaves every broker running."""
    state = tmp_path_factory.mktemp("kafka3")
    cluster = KafkaCluster(state, brokers=3, base_port=free_base_port(3))
    cluster.start()
    yield cluster
    cluster.stop()


async def _create_topic(bootstrap: str, topic: str, rf: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=rf)])
    finally:
        await admin.close()


async def _read_all(bootstrap: str, topic: str, expected: int, within: float = 60) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    seen: list[bytes] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while len(seen) < expected and loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                seen.extend(r.value for r in records if r.value is not None)
    finally:
        await consumer.stop()
    return seen


async def test_acked_writes_survive_a_sigkilled_broker(cluster3: KafkaCluster) -> None:
    topic = "fault-acks"
    await _create_topic(cluster3.bootstrap, topic, rf=3)
    producer = AIOKafkaProducer(
        bootstrap_servers=cluster3.bootstrap,
        enable_idempotence=True,
        acks="all",
        request_timeout_ms=15000,
    )
    await producer.start()
    acked: list[bytes] = []
    failed = 0
    try:
        for i in range(600):
            if i == 200:
                cluster3.kill(2)
            value = f"m-{i}".encode()
            try:
                await producer.send_and_wait(topic, value, key=str(i % 17).encode())
                acked.append(value)
            except KafkaError:
                failed += 1
    finally:
        await producer.stop()

    cluster3.restart(2)
    assert len(acked) >= 590, f"only {len(acked)} acknowledged, {failed} failed"
    seen = set(await _read_all(cluster3.bootstrap, topic, expected=len(acked)))
    missing = [v for v in acked if v not in seen]
    assert missing == []


async def test_restarted_broker_rejoins_with_its_data(cluster3: KafkaCluster) -> None:
    topic = "restart-data"
    await _create_topic(cluster3.bootstrap, topic, rf=3)
    producer = AIOKafkaProducer(bootstrap_servers=cluster3.bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(50):
            await producer.send_and_wait(topic, f"r-{i}".encode())
    finally:
        await producer.stop()
    cluster3.kill(3)
    cluster3.restart(3)
    values = await _read_all(f"127.0.0.1:{cluster3.broker(3).port}", topic, expected=50)
    assert sorted(values) == sorted(f"r-{i}".encode() for i in range(50))


def test_cluster_ids_never_start_with_a_dash(tmp_path: Path) -> None:
    # The storage tool would read such an id as an option; Kafka's own ids avoid it too.
    clusters = [KafkaCluster(tmp_path / str(i), brokers=1) for i in range(400)]
    for c in clusters:
        c.state_dir.mkdir()
    ids = [c._cluster_id() for c in clusters]
    assert not [cid for cid in ids if cid.startswith("-")]
