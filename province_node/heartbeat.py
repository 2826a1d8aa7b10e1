"""The signed heartbeat: every second, the node's outbox position on `<prefix>.heartbeats`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

from aiokafka import AIOKafkaProducer

from province_node.config import NodeSettings
from province_node.publisher import KafkaHealth, Relay, new_producer
from schemas.canonical import canonical_bytes
from schemas.events import Heartbeat
from schemas.signing import Signer
from schemas.tasks import BackgroundTask
from schemas.timestamps import utc_now
from schemas.wire import signed_headers

log = logging.getLogger(__name__)


async def build_heartbeat(province: str, relay: Relay) -> Heartbeat:
    """The heartbeat for the node's current outbox state."""
    stats = await relay.stats()
    return Heartbeat(
        province=province,
        committed_seq=stats.committed_seq,
        published_seq=stats.published_seq,
        outbox_backlog=stats.committed_seq - stats.published_seq,
        oldest_unpublished_at=(
            datetime.fromisoformat(stats.oldest_unpublished_at)
            if stats.oldest_unpublished_at
            else None
        ),
        sent_at=utc_now(),
    )


class HeartbeatLoop(BackgroundTask):
    """Sends a heartbeat every interval; while Kafka is down it skips beats silently."""

    task_name = "heartbeat"

    def __init__(
        self, settings: NodeSettings, signer: Signer, relay: Relay, health: KafkaHealth
    ) -> None:
        super().__init__()
        self._settings = settings
        self._signer = signer
        self._relay = relay
        self._health = health
        self._producer: AIOKafkaProducer | None = None
        self.sent = 0

    async def stop(self) -> None:
        """Stop beating and close the producer; safe to call twice."""
        await super().stop()
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), timeout=3.0)

    async def run(self) -> None:
        interval = self._settings.heartbeat_interval_s
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                await self._beat()
            except asyncio.CancelledError:
                raise
            except Exception:
                # A heartbeat is advisory; a bug here must not stop the node or flood the log.
                log.debug("heartbeat failed", exc_info=True)
            await asyncio.sleep(max(0.0, interval - (loop.time() - started)))

    async def _beat(self) -> None:
        # Waiting longer than two intervals would delay the next beat; a heartbeat that slow
        # says Kafka is not really there.
        timeout = max(2.0, 2 * self._settings.heartbeat_interval_s)
        if self._producer is None:
            producer = new_producer(self._settings)
            try:
                async with asyncio.timeout(timeout):
                    await producer.start()
            except BaseException as exc:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(producer.stop(), timeout=timeout)
                if not isinstance(exc, Exception):
                    raise
                self._health.failed(exc)
                return
            self._producer = producer
        beat = await build_heartbeat(self._settings.province, self._relay)
        value = canonical_bytes(beat)
        try:
            async with asyncio.timeout(timeout):
                await self._producer.send_and_wait(
                    self._settings.kafka.heartbeats_topic,
                    value=value,
                    key=self._settings.province.encode(),
                    headers=signed_headers(self._signer, value),
                )
        except Exception as exc:
            self._health.failed(exc)
            return
        self.sent += 1
        self._health.succeeded()
