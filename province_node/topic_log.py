"""Reading the province's own event topic back: its highest seq, and every event on it.

The topic is the province's log as the hub sees it (infinite retention). After a restore from
an older backup it is also the only copy of the events committed after the backup, so the
node reads it to decide whether it may start (`restore_guard`) and to catch up (`recover`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from province_node.config import NodeSettings
from schemas.errors import RegsyncError
from schemas.wire import decode_signature

T = TypeVar("T")


class TopicUnreadable(RegsyncError):
    """Kafka did not answer, or a message on the topic is not one of our events."""


@dataclass(frozen=True, slots=True)
class TopicEvent:
    """One event as it sits on the topic: exact bytes, signature and position."""

    seq: int
    event_id: str
    cert_no: str
    type: str
    record_version: int
    committed_at: str
    value: bytes
    sig: bytes
    partition: int
    offset: int


def _consumer(settings: NodeSettings) -> AIOKafkaConsumer:
    timeout_ms = int(settings.kafka_timeout_s * 1000)
    return AIOKafkaConsumer(
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id=f"regsync-node-{settings.province}-topic-check",
        request_timeout_ms=max(timeout_ms, 5000),
        # It reads a range that already exists: a broker holding a fetch open for more data
        # (500 ms by default) would only add to the node's start.
        fetch_max_wait_ms=20,
        **settings.kafka.client_kwargs(),
    )


def _parse(
    value: bytes | None, headers: list[tuple[str, bytes]], partition: int, offset: int
) -> TopicEvent:
    try:
        doc = orjson.loads(value or b"")
        sig_raw = dict(headers).get("sig", b"")
        sig = decode_signature(sig_raw) or b""
        return TopicEvent(
            seq=int(doc["seq"]),
            event_id=str(doc["event_id"]),
            cert_no=str(doc["cert_no"]),
            type=str(doc["type"]),
            record_version=int(doc["record_version"]),
            committed_at=str(doc["committed_at"]),
            value=bytes(value or b""),
            sig=sig,
            partition=partition,
            offset=offset,
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise TopicUnreadable(
            f"message at partition {partition} offset {offset} is not an event: {exc}"
        ) from None


async def _with_consumer(
    settings: NodeSettings,
    work: Callable[[AIOKafkaConsumer, list[TopicPartition]], Awaitable[T]],
) -> T:
    consumer = _consumer(settings)
    try:
        async with asyncio.timeout(settings.kafka_timeout_s):
            await consumer.start()
    except (Exception, TimeoutError) as exc:
        await consumer.stop()
        raise TopicUnreadable(
            f"Kafka at {settings.kafka.bootstrap} did not answer: {exc or type(exc).__name__}"
        ) from None
    try:
        # As the hub does: a consumer's own metadata only covers topics it already uses.
        cluster = await consumer._client.fetch_all_metadata()
        parts = cluster.partitions_for_topic(settings.events_topic)
        tps = [TopicPartition(settings.events_topic, p) for p in sorted(parts or ())]
        if tps:
            consumer.assign(tps)
        return await work(consumer, tps)
    finally:
        await consumer.stop()


async def highest_seq(settings: NodeSettings) -> int:
    """The highest seq on the topic, 0 when it is empty or absent.

    Within a partition the relay publishes in seq order (a resend repeats a suffix, never goes
    below it), so the last message of each partition holds that partition's highest seq.
    """

    async def work(consumer: AIOKafkaConsumer, tps: list[TopicPartition]) -> int:
        if not tps:
            return 0
        ends = await consumer.end_offsets(tps)
        starts = await consumer.beginning_offsets(tps)
        wanted = {tp for tp in tps if ends[tp] > starts[tp]}
        best = 0
        for tp in wanted:
            consumer.seek(tp, ends[tp] - 1)
        async with asyncio.timeout(settings.kafka_timeout_s * 3):
            while wanted:
                batches = await consumer.getmany(*wanted, timeout_ms=500)
                for tp, messages in batches.items():
                    for m in messages:
                        best = max(
                            best, _parse(m.value, list(m.headers), tp.partition, m.offset).seq
                        )
                        if m.offset >= ends[tp] - 1:
                            wanted.discard(tp)
        return best

    try:
        return await _with_consumer(settings, work)
    except TimeoutError:
        raise TopicUnreadable(f"reading the tail of {settings.events_topic} timed out") from None


async def read_all(
    settings: NodeSettings, progress: Callable[[int, int], None] | None = None
) -> list[TopicEvent]:
    """Every event on the topic, all partitions, as of now; progress(done, total) as it reads."""

    async def work(consumer: AIOKafkaConsumer, tps: list[TopicPartition]) -> list[TopicEvent]:
        if not tps:
            return []
        ends = await consumer.end_offsets(tps)
        starts = await consumer.beginning_offsets(tps)
        total = sum(ends[tp] - starts[tp] for tp in tps)
        for tp in tps:
            consumer.seek(tp, starts[tp])
        pending = {tp for tp in tps if ends[tp] > starts[tp]}
        events: list[TopicEvent] = []
        while pending:
            async with asyncio.timeout(settings.kafka_timeout_s * 3):
                batches = await consumer.getmany(*pending, timeout_ms=1000, max_records=5000)
            for tp, messages in batches.items():
                for m in messages:
                    if m.offset < ends[tp]:
                        events.append(_parse(m.value, list(m.headers), tp.partition, m.offset))
                    if m.offset >= ends[tp] - 1:
                        pending.discard(tp)
            if progress is not None:
                progress(len(events), total)
        return events

    try:
        return await _with_consumer(settings, work)
    except TimeoutError:
        raise TopicUnreadable(f"reading {settings.events_topic} timed out") from None
