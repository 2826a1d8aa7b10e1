"""`national-hub notify`: the process that derives notifications and delivers them.

Any number may run; the one holding the lease (notify.lease) reads the province topics and
delivers, the others wait to take over (docs/architecture.md, "Employer monitoring").
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import re
import time
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from national_hub.config import HubSettings
from national_hub.ingest.decode import Decoder, DecoderSpec
from national_hub.ingest.messages import EventMsg
from national_hub.notify.dbthread import DbThread
from national_hub.notify.delivery import AttemptListener, Deliverer
from national_hub.notify.journal import Journal
from national_hub.notify.lease import Fenced, Lease
from national_hub.notify.metrics import NotifyMetrics
from national_hub.notify.outbox import Outbox
from schemas.errors import SchemaError
from schemas.events import Event, parse_event

log = logging.getLogger(__name__)

# How often a standby asks for the lease, and the active one looks for new province topics.
STANDBY_POLL_S = 1.0
DISCOVER_S = 5.0
# How often the delivery-state gauges are read from the store.
COUNTS_S = 5.0
# How often the assessment reminders are looked for (each due date is reminded of once).
REMIND_S = 60.0
# Due dates are Chinese civil dates: "today" is Beijing's.
BEIJING = timezone(timedelta(hours=8))


def beijing_today() -> date:
    """Today's date in Beijing, where due dates are civil dates."""
    return datetime.now(BEIJING).date()


def _consumer(settings: HubSettings) -> AIOKafkaConsumer:
    # No group: positions are stored with the notifications derived from them (notify.journal).
    return AIOKafkaConsumer(
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id="regsync-notify",
        # As ingest: Kafka holds a fetch at most this long, which is what it adds to the
        # commit → webhook latency (aiokafka's default is 500 ms).
        fetch_max_wait_ms=settings.tuning.ingest.fetch_max_wait_ms,
        metadata_max_age_ms=5_000,
        request_timeout_ms=15_000,
        **settings.kafka.client_kwargs(),
    )


async def _partitions(consumer: AIOKafkaConsumer, settings: HubSettings) -> set[TopicPartition]:
    """Every partition of every province events topic there is now."""
    cluster = await consumer._client.fetch_all_metadata()
    pattern = re.compile(settings.kafka.events_topic_pattern)
    found: set[TopicPartition] = set()
    for topic in cluster.topics():
        if pattern.match(topic):
            found.update(
                TopicPartition(topic, p) for p in cluster.partitions_for_topic(topic) or ()
            )
    return found


class Notifier:
    """One notifier process: standby until it holds the lease, then active until it loses it."""

    def __init__(
        self,
        settings: HubSettings,
        holder: str | None = None,
        on_attempt: AttemptListener | None = None,
    ) -> None:
        self._settings = settings
        self._tuning = settings.tuning.notify
        self._db = DbThread(settings.notify_store_path)
        # The pid in the name lets an operator (and the takeover test) see which process it is.
        name = holder or f"notify-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._lease = Lease(self._db.conn, name)
        self._journal = Journal(self._db.conn)
        self._outbox = Outbox(self._db.conn)
        self._decoder = Decoder(DecoderSpec.from_settings(settings))
        self.metrics = NotifyMetrics()
        self._on_attempt = on_attempt or self.metrics.attempted
        self.active = asyncio.Event()

    @property
    def holder(self) -> str:
        """This process's name in the lease."""
        return self._lease.holder

    async def run(self) -> None:
        """Wait for the lease, work while it is held, and again; until cancelled."""
        try:
            while True:
                if await self._db.run(self._acquire):
                    log.info("%s: active (epoch %s)", self.holder, self._lease.epoch)
                    await self._active()
                    log.warning("%s: stopped working; asking for the lease again", self.holder)
                await asyncio.sleep(STANDBY_POLL_S)
        finally:
            with contextlib.suppress(Exception):
                await self._db.run(self._lease.release)
            self.active.clear()
            self._db.close()

    async def _active(self) -> None:
        """Derive and deliver while the lease is renewed; return when it is lost."""
        self.active.set()
        self.metrics.active.set(1)
        deliverer = Deliverer(self._outbox, self._db, self._tuning, self._on_attempt)
        tasks = [
            asyncio.create_task(self._renew(), name="notify-lease"),
            asyncio.create_task(self._consume(deliverer.wake), name="notify-consume"),
            asyncio.create_task(deliverer.run(), name="notify-deliver"),
            asyncio.create_task(self._count(), name="notify-count"),
            asyncio.create_task(self._remind(deliverer.wake), name="notify-remind"),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if not task.cancelled() and (exc := task.exception()) is not None:
                    if not isinstance(exc, Fenced):
                        log.error("%s: %s stopped", self.holder, task.get_name(), exc_info=exc)
        finally:
            self.active.clear()
            self.metrics.active.set(0)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _acquire(self) -> bool:
        return self._lease.acquire(time.time(), self._tuning.lease_s)

    async def _remind(self, wake: Callable[[], None]) -> None:
        while True:
            told = await self._db.run(
                functools.partial(self._journal.remind, self._lease, beijing_today())
            )
            if told:
                wake()
            await asyncio.sleep(REMIND_S)

    async def _count(self) -> None:
        while True:
            self.metrics.set_counts(await self._db.run(self._outbox.counts))
            await asyncio.sleep(COUNTS_S)

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self._tuning.lease_s / 3)
            if not await self._db.run(self._acquire):
                raise Fenced("the lease ran out before it was renewed")

    async def _consume(self, wake: Callable[[], None]) -> None:
        """Read the province topics from the stored offsets and apply each fetch at once."""
        consumer = _consumer(self._settings)
        await consumer.start()
        try:
            stored = await self._db.run(self._journal.offsets)
            assigned: set[TopicPartition] = set()
            discovered_at = 0.0
            while True:
                if time.monotonic() - discovered_at > DISCOVER_S:
                    found = await _partitions(consumer, self._settings)
                    if found != assigned:
                        consumer.assign(sorted(found))
                        for tp in found - assigned:
                            if (tp.topic, tp.partition) in stored:
                                consumer.seek(tp, stored[(tp.topic, tp.partition)])
                        assigned = found
                    discovered_at = time.monotonic()
                if not assigned:
                    await asyncio.sleep(0.2)
                    continue
                fetched = await consumer.getmany(
                    timeout_ms=200, max_records=self._tuning.fetch_records
                )
                if not fetched:
                    continue
                events, offsets = self._decode(fetched)
                told = await self._db.run(
                    functools.partial(
                        self._journal.apply, events, offsets, self._lease, beijing_today()
                    )
                )
                stored.update(offsets)
                if told:
                    wake()
        finally:
            await consumer.stop()

    def _decode(
        self,
        fetched: dict[TopicPartition, list[Any]],
    ) -> tuple[list[Event], dict[tuple[str, int], int]]:
        """The authentic events of a fetch, in order, and the next offset of each partition."""
        events: list[Event] = []
        offsets: dict[tuple[str, int], int] = {}
        for tp, messages in fetched.items():
            for msg in messages:
                offsets[(tp.topic, tp.partition)] = msg.offset + 1
                decoded = self._decoder.decode(msg)
                if not isinstance(decoded, EventMsg):
                    # Not authentic or not an event: the hub's ingest keeps it as a dead
                    # letter; nobody is told of it.
                    continue
                try:
                    events.append(parse_event(msg.value))
                except SchemaError:
                    continue
        return events, offsets
