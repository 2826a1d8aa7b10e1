"""The ingest loop: read every province topic and the heartbeats, decode, apply to the store."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import re
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from aiokafka import AIOKafkaConsumer, TopicPartition

from national_hub.config import HubSettings
from national_hub.index.index import ServingIndex
from national_hub.ingest.decode import Decoder, DecoderSpec
from national_hub.ingest.messages import Batch, DecodedPart, EventMsg, Raw, RawMessage, to_part
from national_hub.ingest.sinks import Sinks
from national_hub.ingest.workers import worker_decode, worker_init, worker_ready
from national_hub.metrics import HubMetrics
from national_hub.store.progress import ApplyResult
from national_hub.store.store import Store
from national_hub.tuning import IngestTuning

log = logging.getLogger(__name__)

ApplyListener = Callable[[ApplyResult], None]


def _new_consumer(settings: HubSettings) -> AIOKafkaConsumer:
    """A consumer without group or auto-commit, for manual assignment."""
    # No group: positions live in DuckDB next to the data they produced, so a crash can never
    # commit an offset for something not stored (and nothing is committed to Kafka at all).
    return AIOKafkaConsumer(
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id="regsync-hub",
        fetch_max_wait_ms=settings.tuning.ingest.fetch_max_wait_ms,
        fetch_min_bytes=settings.tuning.ingest.fetch_min_bytes,
        # Fetched messages are applied in the order they arrived, so everything prefetched is
        # applied before a quiet province's new event fetched after it: with 64 MiB prefetched,
        # a registration at node 50 waited 48 s (p50) behind a 300,000-event catch-up of the
        # other provinces (1M records, 600 events/s applied while serving reads).
        max_partition_fetch_bytes=settings.tuning.ingest.partition_fetch_bytes,
        fetch_max_bytes=settings.tuning.ingest.fetch_max_bytes,
        metadata_max_age_ms=5_000,
        request_timeout_ms=15_000,
        **settings.kafka.client_kwargs(),
    )


def batch_limit(tuning: IngestTuning, reads_active: bool) -> int:
    """Most messages the next apply transaction takes.

    During a catch-up at 5M records a batch of max_batch (50,000) took about a minute to
    commit, so a lookup waiting on its sync token waited for all of it, and the hub applied in
    bursts that left reads at p99 2.2 s (bench/results/national_reads_5m.json). While reads
    are served the batch stops at serving_batch: the fetch pauses sooner, commits are short,
    and the event loop, which answers reads, is handed less at a time.
    """
    if reads_active:
        return min(tuning.serving_batch, tuning.max_batch)
    return tuning.max_batch


async def _discover(
    consumer: AIOKafkaConsumer, settings: HubSettings
) -> tuple[set[TopicPartition], bool]:
    """Every partition of every province events topic (configured or not) and heartbeats.

    Also says whether the metadata was complete: a topic created a moment ago may not have
    its partitions' leaders yet, and is worth asking about again soon.
    """
    # The consumer's own metadata only tracks topics already assigned, so a province topic
    # created later would never show up there; a full metadata fetch sees every topic.
    cluster = await consumer._client.fetch_all_metadata()
    pattern = re.compile(settings.kafka.events_topic_pattern)
    wanted = {t for t in cluster.topics() if pattern.match(t)}
    if settings.kafka.heartbeats_topic in cluster.topics():
        wanted.add(settings.kafka.heartbeats_topic)
    tps: set[TopicPartition] = set()
    complete = True
    for topic in wanted:
        partitions = cluster.partitions_for_topic(topic)
        if not partitions:
            complete = False
            continue
        for p in partitions:
            tps.add(TopicPartition(topic, p))
    return tps, complete


async def measure_offsets(
    settings: HubSettings,
) -> dict[tuple[str, int], tuple[int, int]]:
    """(beginning, end) offsets of every partition the hub reads, measured now."""
    consumer = _new_consumer(settings)
    await consumer.start()
    try:
        found, _ = await _discover(consumer, settings)
        tps = sorted(found)
        if not tps:
            return {}
        begin = await consumer.beginning_offsets(tps)
        end = await consumer.end_offsets(tps)
        return {(tp.topic, tp.partition): (begin[tp], end[tp]) for tp in tps}
    finally:
        await consumer.stop()


class Ingestor:
    """Consumes the federation's topics into the store and the serving index (ingest.sinks);
    start() and stop() bracket it."""

    def __init__(
        self,
        settings: HubSettings,
        store: Store,
        metrics: HubMetrics | None = None,
        *,
        index: ServingIndex | None = None,
        reads_active: Callable[[], bool] | None = None,
    ) -> None:
        self._settings = settings
        # Whether public reads are being served now: the apply then commits in serving_batch
        # steps (reads first). None: never (tools, tests without a web side).
        self._reads_active = reads_active
        self.sinks = Sinks(store, index)
        self._metrics = metrics
        # Batch sizes, decode workers, reconnect backoff, refresh intervals.
        self._tuning = tuning = settings.tuning.ingest
        self._refresh_interval = tuning.topic_refresh_s
        self._spec = DecoderSpec.from_settings(settings)
        self._decoder = Decoder(self._spec)
        # Signature checks and schema validation cost ~130 us of CPU per event and mostly
        # hold the GIL, so catch-up decodes in worker processes (0: in a thread here only).
        workers = tuning.decode_workers
        self._decode_workers = (os.cpu_count() or 2) if workers is None else workers
        self._decode_pool: Executor | None = None
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._assignment: frozenset[TopicPartition] = frozenset()
        self._highwater: dict[tuple[str, int], int] = {}
        self._ready = asyncio.Event()
        self._progress_event = asyncio.Event()
        self._listeners: list[ApplyListener] = []
        # Operator pause of event partitions (heartbeats keep flowing); what the loop has
        # actually applied to the consumer, and who waits for it to catch up.
        self._paused = False
        self._pause_applied = False
        self._pause_synced = asyncio.Event()
        self._stopped = False
        self.last_error: str | None = None
        # Each province's clock minus the hub's (set by the sync monitor, which estimates it).
        self.clock_offset: Callable[[str], float | None] | None = None
        self.last_apply_at: float | None = None
        self.batches_applied = 0
        self._hb_reject_logged: dict[tuple[str, str], float] = {}

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the background ingest loop; returns at once (Kafka may still be unreachable)."""
        if self._task is not None:
            return
        self._stopped = False
        self._decode_pool = self._new_pool()
        if self._decode_pool is not None:
            # Workers start on first use, seconds of imports each: after a restart or an
            # outage that is exactly when the backlog waits on them.
            for _ in range(self._decode_workers):
                self._decode_pool.submit(worker_ready)
        self._task = asyncio.create_task(self._run(), name="hub-ingest")
        self._task.add_done_callback(self._on_loop_exit)

    def _on_loop_exit(self, task: asyncio.Task[None]) -> None:
        """Say so loudly if the ingest loop ends other than by stop(): the hub would go stale."""
        if self._stopped:
            return
        self._ready.clear()
        if task.cancelled():
            self.last_error = "the ingest loop was cancelled"
            log.error("ingest: the loop was cancelled unexpectedly; nothing is consumed now")
        else:
            exc = task.exception()
            self.last_error = f"the ingest loop ended: {exc!r}"
            log.error("ingest: the loop ended unexpectedly", exc_info=exc)

    async def stop(self) -> None:
        """Stop consuming and wait for the in-flight apply; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._close_consumer()
        pool, self._decode_pool = self._decode_pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)
        self._ready.clear()

    @property
    def ready(self) -> bool:
        """Connected to Kafka with partitions assigned from the stored offsets."""
        return self._ready.is_set()

    async def wait_ready(self, seconds: float) -> bool:
        """Wait up to `seconds` until ready; False if not ready by then."""
        try:
            await asyncio.wait_for(self._ready.wait(), seconds)
        except TimeoutError:
            return False
        return True

    @property
    def assignment(self) -> frozenset[TopicPartition]:
        """Partitions currently read."""
        return self._assignment

    def add_listener(self, listener: ApplyListener) -> None:
        """Call listener(result) on the event loop after every applied batch."""
        self._listeners.append(listener)

    @property
    def paused(self) -> bool:
        """Whether an operator paused applying events (heartbeats are still read)."""
        return self._paused

    async def set_paused(self, paused: bool, seconds: float = 5.0) -> bool:
        """Pause or resume reading event partitions; True once the consumer follows.

        Events fetched before a pause may still be applied; nothing is fetched after it.
        Without a Kafka connection the setting takes effect when the consumer is assigned.
        """
        self._paused = paused
        if self._pause_applied == paused or not self.ready:
            return self._pause_applied == paused
        self._pause_synced.clear()
        try:
            await asyncio.wait_for(self._pause_synced.wait(), seconds)
        except TimeoutError:
            return False
        return True

    # ---- state for the API -----------------------------------------------------------------

    def highwater(self) -> Mapping[tuple[str, int], int]:
        """Last known end offset per (topic, partition)."""
        return dict(self._highwater)

    def lag_by_topic_partition(self) -> dict[tuple[str, int], int]:
        """Messages on each partition not yet stored."""
        stored = self.sinks.offsets()
        return {tp: max(0, hw - stored.get(tp, 0)) for tp, hw in self._highwater.items()}

    def consumer_lag(self) -> dict[str, int]:
        """Messages per configured province not yet applied (0 when unknown)."""
        lag = dict.fromkeys(self._settings.provinces, 0)
        for (topic, _), n in self.lag_by_topic_partition().items():
            province = self._settings.topic_province(topic)
            if province is not None and province in lag:
                lag[province] += n
        return lag

    async def wait_applied(self, province: str, seq: int, seconds: float) -> bool:
        """Wait up to `seconds` until the province's seq is applied; False if it is not.

        Woken by each applied batch (not polled), so it returns moments after the commit.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self.sinks.is_seq_applied(province, seq):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            event = self._progress_event
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                return self.sinks.is_seq_applied(province, seq)
        return True

    # ---- the loop --------------------------------------------------------------------------

    def _next_refresh_delay(self, complete: bool) -> float:
        """Seconds until the next look for new topics and partitions."""
        # Until every province topic is there with its partitions, look again soon: a fresh
        # federation's nodes create their topics moments after the hub starts.
        if not complete:
            return min(0.5, self._refresh_interval)
        topics = {tp.topic for tp in self._assignment}
        if any(self._settings.events_topic(p) not in topics for p in self._settings.provinces):
            return min(2.0, self._refresh_interval)
        return self._refresh_interval

    async def _close_consumer(self) -> None:
        """Stop the Kafka consumer, if any, ignoring its errors."""
        consumer, self._consumer = self._consumer, None
        self._assignment = frozenset()
        if consumer is None:
            return
        try:
            await consumer.stop()
        except asyncio.CancelledError:
            # After a broker outage aiokafka's fetcher re-raises the cancellation of its own
            # fetch tasks from stop(); swallowed, unless this task itself is being cancelled,
            # or the ingest loop would end silently and never reconnect.
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
        except Exception:
            log.debug("ingest: closing the consumer failed", exc_info=True)

    async def _run(self) -> None:
        """Connect, consume, and on any failure reconnect with backoff.

        The backoff is capped short (reconnect_backoff_max_s, 5 s): a bootstrap against a dead
        broker is refused at once, so trying every few seconds costs nothing, while a long cap
        would leave the hub idle after Kafka came back from an outage, with the nodes' backlog
        already published (the nodes retry every <= 5 s too).
        """
        first = self._tuning.reconnect_backoff_s
        backoff = first
        while True:
            try:
                consumer = _new_consumer(self._settings)
                self._consumer = consumer
                await consumer.start()
                backoff = first
                await self._consume(consumer)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("ingest: %s; retrying in %.1fs", self.last_error, backoff)
                self._ready.clear()
                await self._close_consumer()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._tuning.reconnect_backoff_max_s)

    async def _assign(self, consumer: AIOKafkaConsumer, tps: set[TopicPartition]) -> None:
        """Read exactly these partitions, each from the sinks' lower next offset (or the
        start)."""
        if tps:
            consumer.assign(sorted(tps))
            stored = self.sinks.offsets()
            fresh = []
            positions: dict[tuple[str, int], int] = {}
            for tp in tps:
                nxt = stored.get((tp.topic, tp.partition))
                if nxt is None:
                    fresh.append(tp)
                else:
                    consumer.seek(tp, nxt)
                positions[(tp.topic, tp.partition)] = nxt or 0
            self.sinks.positioned(positions)
            if fresh:
                await consumer.seek_to_beginning(*fresh)
            ends = await consumer.end_offsets(sorted(tps))
            for tp, end in ends.items():
                self._highwater[(tp.topic, tp.partition)] = end
        self._assignment = frozenset(tps)
        # assign() forgets paused partitions: apply the operator's pause afresh.
        self._pause_applied = False
        self._sync_pause(consumer)
        log.info("ingest: reading %d partitions", len(tps))

    def _event_partitions(self) -> list[TopicPartition]:
        """Assigned partitions of province event topics (not heartbeats)."""
        hb = self._settings.kafka.heartbeats_topic
        return sorted(tp for tp in self._assignment if tp.topic != hb)

    def _sync_pause(self, consumer: AIOKafkaConsumer) -> None:
        """Make the consumer's paused partitions match the operator's setting."""
        if self._paused != self._pause_applied:
            tps = self._event_partitions()
            if self._paused:
                consumer.pause(*tps)
                log.info("ingest: paused by an operator (%d event partitions)", len(tps))
            else:
                consumer.resume(*tps)
                log.info("ingest: resumed by an operator")
            self._pause_applied = self._paused
        self._pause_synced.set()

    async def _refresh_paused_highwater(self, consumer: AIOKafkaConsumer) -> None:
        """End offsets of the paused event partitions, so consumer lag stays true."""
        tps = self._event_partitions()
        if not tps:
            return
        ends = await consumer.end_offsets(tps)
        for tp, end in ends.items():
            self._highwater[(tp.topic, tp.partition)] = end

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        """Fetch, decode and apply in a pipeline until cancelled or failing."""
        tps, complete = await _discover(consumer, self._settings)
        await self._assign(consumer, tps)
        self.last_error = None
        self._ready.set()
        inflight: asyncio.Future[ApplyResult] | None = None
        pending = Batch()
        next_refresh = time.monotonic() + self._next_refresh_delay(complete)
        next_highwater = 0.0
        try:
            while True:
                self._sync_pause(consumer)
                # Nothing is fetched from paused partitions, so their end offsets (the consumer
                # lag shown to operators) are asked for explicitly.
                if self._pause_applied and time.monotonic() >= next_highwater:
                    next_highwater = time.monotonic() + self._tuning.paused_highwater_s
                    await self._refresh_paused_highwater(consumer)
                if time.monotonic() >= next_refresh:
                    tps, complete = await _discover(consumer, self._settings)
                    next_refresh = time.monotonic() + self._next_refresh_delay(complete)
                    if tps != self._assignment:
                        # Reassigning resets positions, so first let everything fetched so
                        # far land; then every partition restarts from the stored offsets.
                        if inflight is not None:
                            await self._finish(inflight)
                            inflight = None
                        if len(pending):
                            await self._finish(self._start_apply(pending))
                            pending = Batch()
                        await self._assign(consumer, tps)
                if not self._assignment:
                    await asyncio.sleep(min(self._refresh_interval, 1.0))
                    continue
                busy = inflight is not None or len(pending) > 0
                # The apply batch grows beyond one fetch while the previous apply runs, up to
                # the batch limit (a fetch never takes it past that).
                limit = self._batch_limit()
                data = await consumer.getmany(
                    timeout_ms=5 if busy else 200,
                    max_records=max(1, min(self._tuning.fetch_records, limit - len(pending))),
                )
                if data:
                    msgs: list[RawMessage] = []
                    for tp, records in data.items():
                        msgs.extend(records)
                        hw = consumer.highwater(tp)
                        if hw is not None:
                            self._highwater[(tp.topic, tp.partition)] = hw
                    await self._decode(msgs, pending)
                if inflight is not None and (inflight.done() or len(pending) >= limit):
                    await self._finish(inflight)
                    inflight = None
                if inflight is None and len(pending):
                    inflight = self._start_apply(pending)
                    pending = Batch()
        finally:
            if inflight is not None:
                # Never abandon a running transaction: let it commit (or fail) before the
                # store may be closed underneath it.
                with contextlib.suppress(Exception):
                    await asyncio.shield(inflight)

    def _batch_limit(self) -> int:
        return batch_limit(self._tuning, self._reads_active is not None and self._reads_active())

    def _new_pool(self) -> Executor | None:
        """The decode worker processes, or None to decode in threads here."""
        if self._decode_workers <= 0:
            return None
        # spawn, not fork: the parent runs DuckDB and aiokafka threads a fork would copy
        # mid-flight.
        return ProcessPoolExecutor(
            max_workers=self._decode_workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=worker_init,
            initargs=(
                self._spec,
                os.getpid(),
                self._tuning.worker_parent_check_s,
                self._tuning.worker_nice,
            ),
        )

    def _decode_here(self, msgs: list[RawMessage]) -> tuple[DecodedPart, list[bytes]]:
        """Decode in this process (small batches; no round trip)."""
        items = self._decoder.decode_many(msgs)
        return to_part(items), [i.raw for i in items if isinstance(i, EventMsg)]

    async def _decode(self, msgs: list[RawMessage], batch: Batch) -> None:
        """Decode messages (in worker processes when there are many) into the batch."""
        loop = asyncio.get_running_loop()
        pool = self._decode_pool
        # Small fetches decode faster here than with a round trip to the workers.
        if len(msgs) < self._tuning.parallel_decode_min or pool is None:
            batch.add(*await loop.run_in_executor(None, self._decode_here, msgs))
            return
        raws = [Raw(m.topic, m.partition, m.offset, m.key, m.value, m.headers) for m in msgs]
        n = self._decode_workers
        size = -(-len(raws) // n)
        chunks = [raws[i : i + size] for i in range(0, len(raws), size)]
        try:
            parts = await asyncio.gather(
                *(loop.run_in_executor(pool, worker_decode, c) for c in chunks)
            )
        except BrokenProcessPool:
            # A worker died (e.g. killed for memory): start afresh and decode here meanwhile.
            log.warning("ingest: a decode worker died; restarting the pool")
            pool.shutdown(wait=False, cancel_futures=True)
            self._decode_pool = self._new_pool()
            batch.add(*await loop.run_in_executor(None, self._decode_here, msgs))
            return
        # Workers do not send the message bytes back; they are re-attached from here.
        for chunk, part in zip(chunks, parts, strict=True):
            batch.add(part, [chunk[i].value or b"" for i in part.event_positions])

    def _start_apply(self, batch: Batch) -> asyncio.Future[ApplyResult]:
        """Apply a batch to both sinks; its effects are published when both have committed."""
        future = asyncio.ensure_future(self.sinks.apply(batch))
        # Metrics, listeners and sync-token waiters see the commit the moment it lands, not
        # when this loop next looks at the future (up to a fetch later).
        future.add_done_callback(self._applied)
        return future

    async def _finish(self, inflight: asyncio.Future[ApplyResult]) -> None:
        """Wait for an apply; its failure ends this consumer session (and is retried)."""
        await inflight

    def _applied(self, future: asyncio.Future[ApplyResult]) -> None:
        """Publish a committed apply's effects: metrics, listeners, waiters, logs."""
        if future.cancelled() or future.exception() is not None:
            return
        result = future.result()
        self.batches_applied += 1
        self.last_apply_at = time.time()
        if self._metrics is not None:
            self._metrics.observe_applied(
                result.applied_counts, result.latencies, self.clock_offset
            )
            self._metrics.observe_rejected(result.rejected_counts)
            self._metrics.observe_unauthenticated(result.unauthenticated_counts)
        if result.dead_letters or result.rejected_counts or result.unauthenticated_counts:
            self._log_rejects(result)
        for listener in self._listeners:
            try:
                listener(result)
            except Exception:
                # A listener is bookkeeping (freshness, status); it must never stop ingest.
                log.exception("ingest: apply listener failed")
        self._wake_waiters()

    def _wake_waiters(self, _: object = None) -> None:
        """Wake everything in wait_applied() to look at the progress mirror again."""
        old, self._progress_event = self._progress_event, asyncio.Event()
        old.set()

    def _log_rejects(self, result: ApplyResult) -> None:
        """Log rejections, at most once a minute per (province, reason)."""
        now = time.monotonic()
        for (province, code), n in result.rejected_counts.items():
            last = self._hb_reject_logged.get((province, code), 0.0)
            if now - last >= 60.0:
                self._hb_reject_logged[(province, code)] = now
                log.warning(
                    "ingest: rejected %d message(s) from province %s: %s", n, province, code
                )
        for (topic, code), n in result.unauthenticated_counts.items():
            last = self._hb_reject_logged.get((topic, code), 0.0)
            if now - last >= 60.0:
                self._hb_reject_logged[(topic, code)] = now
                log.warning(
                    "ingest: refused %d message(s) on %s that no province signed: %s",
                    n,
                    topic,
                    code,
                )
