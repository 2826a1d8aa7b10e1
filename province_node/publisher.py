"""The relay: ships the outbox to Kafka in seq order, and keeps shipping through outages.

Woken by every commit, it reads the next events after the last acknowledged one, sends them
with an idempotent acks=all producer (one in-flight batch per partition keeps their order),
records partition and offset, and moves on. While Kafka is unreachable it backs off and
retries from the first unacknowledged event; an event that did reach Kafka before a failure
may be sent again (same seq, same bytes), which consumers drop by record_version.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import for_code

from province_node import outbox
from province_node.config import NodeSettings
from province_node.errors import RegistryBehindTopic
from province_node.metrics import NodeMetrics
from province_node.registry import Registry, WriteContext
from province_node.restore_guard import check_before_publish
from schemas.errors import RegsyncError
from schemas.tasks import cancel_task
from schemas.timestamps import utc_now
from schemas.wire import signature_headers

log = logging.getLogger(__name__)

# TOPIC_ALREADY_EXISTS: another node (or an earlier run) created it; that is success.
_TOPIC_EXISTS = 36


class PublishError(RegsyncError):
    """Kafka did not acknowledge every event of a batch."""


@dataclass
class KafkaHealth:
    """What the node last saw of Kafka, shared by the relay and the heartbeat."""

    connected: bool = False
    last_error: str | None = None
    last_success_at: datetime | None = None

    def succeeded(self) -> None:
        """Kafka acknowledged something just now."""
        if not self.connected:
            log.info("Kafka reachable")
        self.connected = True
        self.last_success_at = utc_now()

    def failed(self, error: BaseException | str) -> None:
        """An interaction with Kafka failed."""
        text = error if isinstance(error, str) else describe_error(error)
        # Log the start of an outage once; the status endpoint has the latest error meanwhile.
        if self.connected or self.last_error is None:
            log.warning("Kafka unreachable: %s", text)
        self.connected = False
        self.last_error = text


def describe_error(exc: BaseException) -> str:
    """A one-line description of a Kafka failure."""
    if isinstance(exc, TimeoutError):
        return "timed out waiting for Kafka"
    name, text = type(exc).__name__, str(exc)
    if not text:
        return name
    return text if text.startswith(name) else f"{name}: {text}"


def new_producer(settings: NodeSettings, **extra: Any) -> AIOKafkaProducer:
    """The producer every node message goes through: idempotent, acks=all."""
    timeout_ms = int(settings.kafka_timeout_s * 1000)
    return AIOKafkaProducer(
        **settings.kafka.client_kwargs(),
        enable_idempotence=True,
        acks="all",
        request_timeout_ms=timeout_ms,
        retry_backoff_ms=100,
        **extra,
    )


async def ensure_topics(settings: NodeSettings) -> None:
    """Create the province topic (infinite retention) and the heartbeat topic if missing."""
    kafka = settings.kafka
    admin = AIOKafkaAdminClient(
        **kafka.client_kwargs(), request_timeout_ms=int(settings.kafka_timeout_s * 1000)
    )
    await admin.start()
    try:
        response = await admin.create_topics(
            [
                NewTopic(
                    settings.events_topic,
                    num_partitions=kafka.partitions,
                    replication_factor=kafka.replication_factor,
                    topic_configs={"retention.ms": "-1", "retention.bytes": "-1"},
                ),
                NewTopic(
                    kafka.heartbeats_topic,
                    num_partitions=kafka.partitions,
                    replication_factor=kafka.replication_factor,
                ),
            ]
        )
    finally:
        await admin.close()
    for topic, code, *rest in response.topic_errors:
        if code not in (0, _TOPIC_EXISTS):
            message = rest[0] if rest and rest[0] else ""
            raise for_code(code)(f"creating topic {topic}: {message}")


@dataclass(frozen=True, slots=True)
class RelayState:
    """What the relay is doing, for the console's health page."""

    # Its task is alive (it stops only with the node, or on a bug).
    running: bool
    # It holds a Kafka producer (it connects when it has something to send).
    connected: bool
    # After a restore without Kafka, it first compares the registry with its topic
    # (restore_guard); until then it sends nothing.
    topic_checked: bool


class Relay:
    """Publishes committed events in seq order; owns the events producer."""

    def __init__(
        self,
        settings: NodeSettings,
        registry: Registry,
        kid: str,
        health: KafkaHealth,
        metrics: NodeMetrics,
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._kid = kid.encode("ascii")
        self._health = health
        self._metrics = metrics
        self._topic = settings.events_topic
        self._producer: AIOKafkaProducer | None = None
        self._topics_ready = False
        self._topic_checked = not settings.check_topic_before_publish
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.published_seq = 0

    async def start(self) -> None:
        """Start relaying from the first event Kafka has not acknowledged."""
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self.published_seq = await self._registry.read(outbox.published_seq)
        self._task = asyncio.create_task(self._run(), name="relay")

    async def stop(self) -> None:
        """Stop relaying and close the producer; safe to call twice."""
        task, self._task = self._task, None
        await cancel_task(task)
        await self._drop_producer(3.0)

    def wake(self) -> None:
        """Tell the relay there is something new; callable from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._wake.set)

    def state(self) -> RelayState:
        """Whether the relay runs, holds a producer and may send (RelayState)."""
        return RelayState(
            running=self._task is not None and not self._task.done(),
            connected=self._producer is not None,
            topic_checked=self._topic_checked,
        )

    async def stats(self) -> outbox.OutboxStats:
        """Committed and published positions, counting acknowledgements not yet recorded."""
        return await self._registry.read(outbox.stats, self.published_seq)

    async def _run(self) -> None:
        settings = self._settings
        backoff = settings.backoff_initial_s
        while True:
            shipping = False
            try:
                # Clear before reading: a commit landing after the read sets it again, so the
                # wait below returns at once instead of missing that commit.
                self._wake.clear()
                batch = await self._registry.read(
                    outbox.read_after, self.published_seq, settings.relay_batch
                )
                shipping = bool(batch)
                # Connect when there is something to ship, and once at start to create topics.
                if self._producer is None and (batch or not self._topics_ready):
                    await self._connect()
                if not batch:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            self._wake.wait(), timeout=settings.relay_idle_poll_s
                        )
                    continue
                await self._publish(batch)
                backoff = settings.backoff_initial_s
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if shipping:
                    self._metrics.publish_errors.inc()
                self._health.failed(exc)
                log.debug("relay attempt failed", exc_info=True)
                await self._drop_producer(settings.kafka_timeout_s * 2)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, settings.backoff_max_s)

    async def _connect(self) -> None:
        # A short linger and large batches let a backlog drain in few requests.
        producer = new_producer(self._settings, linger_ms=2, max_batch_size=512 * 1024)
        try:
            async with asyncio.timeout(self._settings.kafka_timeout_s):
                await producer.start()
            if not self._topics_ready:
                async with asyncio.timeout(self._settings.kafka_timeout_s):
                    await ensure_topics(self._settings)
                self._topics_ready = True
            if not self._topic_checked:
                await self._check_topic()
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), timeout=self._settings.kafka_timeout_s)
            raise
        self._producer = producer

    async def _check_topic(self) -> None:
        """Publish nothing until the registry is known not to be behind its topic."""
        registry_seq = await self._registry.read(outbox.last_seq)
        try:
            async with asyncio.timeout(self._settings.kafka_timeout_s * 3):
                await check_before_publish(self._settings, registry_seq)
        except RegistryBehindTopic as exc:
            log.error("%s", exc)
            raise
        log.info("topic checked: registry at seq %d is not behind it", registry_seq)
        self._topic_checked = True

    async def _drop_producer(self, wait_s: float) -> None:
        producer, self._producer = self._producer, None
        if producer is None:
            return
        # stop() waits until queued batches are delivered or expire (request_timeout), so an
        # old producer cannot deliver late, behind the resent events of its successor.
        try:
            await asyncio.wait_for(producer.stop(), timeout=wait_s)
        except Exception:
            log.warning("Kafka producer did not stop within %.0f s", wait_s)

    async def _publish(self, batch: list[outbox.OutboxRow]) -> None:
        producer = self._producer
        assert producer is not None
        futures: list[asyncio.Future[Any]] = []
        error: BaseException | None = None
        try:
            async with asyncio.timeout(self._settings.kafka_timeout_s * 2):
                for row in batch:
                    futures.append(
                        await producer.send(
                            self._topic,
                            value=row.value,
                            key=row.cert_no.encode(),
                            headers=signature_headers(row.sig, self._kid),
                        )
                    )
                await asyncio.wait(futures)
        except Exception as exc:
            error = exc
        acked = _acked_prefix(batch, futures)
        if acked:
            # Recorded before published_seq moves, so the database never claims less than a
            # restart would need to resend.
            await self._registry.write(_marker(acked), internal=True)
            self.published_seq = acked[-1].seq
            self._metrics.events_published.inc(len(acked))
            self._health.succeeded()
        if error is not None:
            raise error
        if len(acked) < len(batch):
            raise PublishError(f"Kafka acknowledged {len(acked)} of {len(batch)} events")


def _acked_prefix(
    batch: list[outbox.OutboxRow], futures: list[asyncio.Future[Any]]
) -> list[outbox.Published]:
    """The leading run of acknowledged events: only a prefix may count as published."""
    now = utc_now()
    acked: list[outbox.Published] = []
    broken = False
    for row, future in zip(batch, futures, strict=False):
        if not future.done():
            future.add_done_callback(_retrieve)
            broken = True
            continue
        failed = future.cancelled() or future.exception() is not None
        broken = broken or failed
        if not broken:
            meta = future.result()
            acked.append(outbox.Published(row.seq, meta.partition, meta.offset, now))
    return acked


def _retrieve(future: asyncio.Future[Any]) -> None:
    # A late failure of an abandoned send is already handled by resending; reading it here
    # keeps asyncio from logging "exception was never retrieved".
    if not future.cancelled():
        future.exception()


def _marker(published: list[outbox.Published]) -> Any:
    def mark(ctx: WriteContext) -> None:
        outbox.mark_published(ctx.conn, published)

    return mark
