"""Each province's sync health: a status with a one-sentence reason, and the facts behind it.

Statuses (CONTRACT §5), decided on time windows (SyncTuning, hub.tuning.sync) rather than on
counts of commits:

- ok: the hub is complete for the province up to at most lagging_after_s seconds ago;
- lagging: further behind, but the applied frontier moved within stall_after_s seconds;
- stalled: events are known to exist (committed or published beyond what is applied) and the
  frontier has not moved for stall_after_s seconds;
- publishing_blocked: the node reports it cannot reach Kafka, or an event has waited in its
  outbox for more than blocked_after_s seconds;
- offline: no heartbeat for heartbeat_stale_s seconds and the node has not answered the hub's
  polls for node_stale_s (or is not polled at all, when the hub has no node token);
- unknown: the hub has heard nothing from the province yet.

Heartbeats come every second and polls every second, so five missed in a row is an outage, not
jitter; ten seconds of lag or standstill is beyond normal batching.

Times the province reports (oldest_unpublished_at) are on its own clock and are moved onto the
hub's with the offset estimated from its heartbeats before any age is taken; when that offset
exceeds clock_warn_s the reason says so, since the province should fix its clock (NTP keeps
clocks within milliseconds; below it the correction is silent).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from national_hub.config import HubSettings
from national_hub.ingest.ingestor import Ingestor
from national_hub.metrics import HubMetrics
from national_hub.store import reads
from national_hub.store.store import Store
from national_hub.sync.freshness import FreshnessTracker
from national_hub.sync.node_client import NodePoller, NodeStatus
from national_hub.tuning import SyncTuning
from schemas.errors import RegsyncError
from schemas.tasks import BackgroundTask
from schemas.timestamps import utc_now
from schemas.vocab import SyncState, province_label

log = logging.getLogger(__name__)


def _secs(value: float) -> str:
    """A duration for a reason sentence: '0.4 s', '42 s', '3 min 5 s'."""
    if value < 9.95:
        return f"{max(0.0, value):.1f} s"
    v = round(value)
    if v < 120:
        return f"{v} s"
    if v < 7200:
        return f"{v // 60} min {v % 60} s"
    return f"{v // 3600} h {(v % 3600) // 60} min"


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything the status of one province is decided on, at one instant."""

    label: str  # "重庆市 (50)"
    lag_seconds: float | None
    applied_seq: int
    committed_seq: int | None
    published_seq: int | None
    outbox_backlog: int | None
    oldest_unpublished_age: float | None
    consumer_lag: int
    heartbeat_age: float | None  # None: never received
    polling: bool  # whether the hub polls nodes at all
    node_polled: bool  # whether a poll of this node has completed
    node_ok_age: float | None  # seconds since the node last answered; None: never
    node_error: str | None  # why the last poll failed; None if it succeeded
    kafka_connected: bool | None  # as the node reports it
    kafka_error: str | None
    since_advance: float | None  # seconds since the frontier last moved; None: not seen
    ingest_paused: bool
    ingest_ready: bool
    ingest_error: str | None
    # Why seq applied_seq + 1 was refused, when it reached the hub and was dead-lettered.
    next_seq_rejection: str | None = None
    # The province's clock minus the hub's, in seconds; None: not estimated yet.
    clock_offset: float | None = None


def _clock_note(f: Facts, warn_s: float) -> str | None:
    """'its clock runs 30 s ahead of the hub's …' when the province's clock is far off."""
    offset = f.clock_offset
    if offset is None or abs(offset) <= warn_s:
        return None
    way = "ahead of" if offset > 0 else "behind"
    return (
        f"{f.label}'s clock runs {_secs(abs(offset))} {way} the hub's "
        f"(lag corrected for it; the province should fix its clock)"
    )


def decide(f: Facts, windows: SyncTuning) -> tuple[SyncState, str]:
    """The province's status and a sentence a person can act on, with any clock warning.

    windows: the time windows the statuses are decided on (HubSettings.tuning.sync).
    """
    status, reason = _decide(f, windows)
    note = _clock_note(f, windows.clock_warn_s)
    if note is not None:
        # Still one sentence: the warning joins it as a last clause.
        reason = f"{reason.removesuffix('.')}; {note}."
    return status, reason


def _decide(f: Facts, w: SyncTuning) -> tuple[SyncState, str]:
    """The province's status and a sentence a person can act on."""
    hb_fresh = f.heartbeat_age is not None and f.heartbeat_age <= w.heartbeat_stale_s
    node_up = f.node_ok_age is not None and f.node_ok_age <= w.node_stale_s and f.node_error is None
    if not hb_fresh and not node_up:
        if f.heartbeat_age is None and not f.node_polled:
            why = (
                "no heartbeat has arrived yet"
                if f.polling
                else "no heartbeat has arrived yet and nodes are not polled"
            )
            return SyncState.UNKNOWN, f"The hub has heard nothing from {f.label} yet: {why}."
        silent = (
            f"no heartbeat from {f.label} for {_secs(f.heartbeat_age)}"
            if f.heartbeat_age is not None
            else f"no heartbeat from {f.label} has ever arrived"
        )
        if not f.polling:
            return SyncState.OFFLINE, (
                f"Offline: {silent}; the hub does not poll nodes (no hub.node_token_file), so "
                f"it cannot tell a stopped node from a broken Kafka path."
            )
        return SyncState.OFFLINE, (
            f"Offline: {silent} and its node does not answer ({f.node_error or 'no answer'}); "
            f"check that the node is running and reachable."
        )

    backlog = f.outbox_backlog or 0
    if node_up and f.kafka_connected is False and f.kafka_error:
        waiting = (
            f"{backlog} change(s) wait in its outbox"
            + (
                f", the oldest for {_secs(f.oldest_unpublished_age)}"
                if f.oldest_unpublished_age is not None
                else ""
            )
            if backlog
            else "nothing waits yet, but new changes will not reach the hub"
        )
        return SyncState.PUBLISHING_BLOCKED, (
            f"{f.label}'s node cannot reach Kafka ({f.kafka_error}); {waiting}."
        )
    if (
        backlog
        and f.oldest_unpublished_age is not None
        and f.oldest_unpublished_age > w.blocked_after_s
    ):
        return SyncState.PUBLISHING_BLOCKED, (
            f"{backlog} change(s) have waited in {f.label}'s outbox for "
            f"{_secs(f.oldest_unpublished_age)}: the node is not getting them into Kafka."
        )

    lag = f.lag_seconds
    if lag is None:
        return SyncState.UNKNOWN, f"No commit-time evidence from {f.label} yet to measure its lag."
    if lag <= w.lagging_after_s:
        return (
            SyncState.OK,
            f"Up to date: the hub holds everything {f.label} committed until {_secs(lag)} ago.",
        )
    in_kafka = max(f.consumer_lag, (f.published_seq or 0) - f.applied_seq)
    known = max(in_kafka, (f.committed_seq or 0) - f.applied_seq)
    progressing = f.since_advance is not None and f.since_advance <= w.stall_after_s
    if progressing or known <= 0:
        detail = (
            f"{in_kafka} message(s) still to apply"
            if in_kafka > 0
            else "waiting for fresh evidence from the province"
        )
        return SyncState.LAGGING, f"{_secs(lag)} behind {f.label} and catching up: {detail}."
    if f.next_seq_rejection is not None:
        why = (
            f"seq {f.applied_seq + 1} reached the hub but was rejected "
            f"({f.next_seq_rejection}); the province must re-send it correctly signed"
        )
    elif f.ingest_paused:
        why = "ingest is paused by an operator (POST /v1/ops/ingest to resume)"
    elif not f.ingest_ready:
        why = "the hub is not consuming from Kafka" + (
            f" ({f.ingest_error})" if f.ingest_error else ""
        )
    elif in_kafka > 0:
        why = (
            f"the hub is stuck at seq {f.applied_seq} (seq {f.applied_seq + 1} has not "
            f"arrived; see the dead letters)"
        )
    else:
        why = "the changes have not reached Kafka yet"
    stuck = (
        f"for {_secs(f.since_advance)}" if f.since_advance is not None else "since the hub started"
    )
    return SyncState.STALLED, (
        f"{known} change(s) from {f.label} are known to exist but nothing was applied "
        f"{stuck}: {why}."
    )


@dataclass(frozen=True, slots=True)
class ProvinceSync:
    """One province's sync state as served by /v1/sync/status and used as evidence."""

    province: str
    name: str
    status: SyncState
    reason: str
    lag_seconds: float | None
    applied_seq: int
    province_committed_seq: int | None
    province_published_seq: int | None
    outbox_backlog: int | None
    consumer_lag_messages: int
    last_heartbeat_at: datetime | None
    heartbeat_age_seconds: float | None
    dead_letters: int
    facts: Facts
    clock_offset_seconds: float | None = None

    @property
    def unreachable(self) -> bool:
        """No heartbeat and the node does not answer (or is not polled)."""
        return self.status is SyncState.OFFLINE


# How long a freshness summary is reused: a lag figure 0.2 s old is as true as a new one.
SUMMARY_TTL_S = 0.2


class SyncMonitor(BackgroundTask):
    """Joins store, ingest, heartbeats, node polls and freshness into per-province status.

    start() runs a loop that refreshes dead-letter counts and the sync gauges every
    settings.tuning.sync.refresh_s; everything else is computed on demand from memory.
    """

    task_name = "hub-sync-monitor"

    def __init__(
        self,
        settings: HubSettings,
        store: Store,
        freshness: FreshnessTracker,
        ingestor: Ingestor | None = None,
        poller: NodePoller | None = None,
        metrics: HubMetrics | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.windows = settings.tuning.sync
        self.store = store
        self.freshness = freshness
        self.ingestor = ingestor
        self.poller = poller
        self.metrics = metrics
        self._dead_letters: Mapping[str, int] = {}
        # Per province: (seq, reason) of the dead letter of the seq just above its frontier.
        self._blocking: Mapping[str, tuple[int, str]] = {}
        self._summary: tuple[float, dict[str, dict[str, Any]]] | None = None
        if ingestor is not None:
            ingestor.add_listener(
                lambda r: freshness.observe_apply(r, store.progress(), store.heartbeats())
            )
            # The apply-latency histogram is measured from province commit times.
            ingestor.clock_offset = freshness.clock_offset
        if poller is not None:
            poller.add_listener(self._on_poll)

    def _on_poll(self, s: NodeStatus) -> None:
        self.freshness.observe_poll(
            s.province, s.at, s.committed_seq, s.published_seq, s.oldest_unpublished_at
        )

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Seed freshness from the store and start the refresh loop."""
        if not self.running:
            self.freshness.seed(self.store.heartbeats().values(), self.store.progress())
        await super().start()

    async def run(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self.windows.refresh_s)

    async def refresh(self) -> None:
        """Re-count dead letters per province and update the gauges."""
        try:
            self._dead_letters = await reads.dead_letter_counts(self.store)
            self._blocking = await self._blocking_rejections()
        except RegsyncError as exc:
            log.warning("sync status: cannot count dead letters: %s", exc)
        self.update_metrics()

    async def _blocking_rejections(self) -> dict[str, tuple[int, str]]:
        """For provinces known to have seqs beyond the frontier: a refusal of the next seq."""
        out: dict[str, tuple[int, str]] = {}
        progress = self.store.progress()
        heartbeats = self.store.heartbeats()
        for code, n in self._dead_letters.items():
            applied = self.store.applied_seq(code)
            prog = progress.get(code)
            hb = heartbeats.get(code)
            beyond = (prog is not None and prog.max_seq > applied) or (
                hb is not None and hb.heartbeat.published_seq > applied
            )
            if not n or not beyond:
                continue
            row = await reads.dead_letter_of_seq(self.store, code, applied + 1)
            if row is not None:
                out[code] = (applied + 1, row["reason"])
        return out

    # ---- answers ---------------------------------------------------------------------------

    def label(self, province: str) -> str:
        """'重庆市 (50)'."""
        return province_label(province, self.settings.province_name(province))

    def _consumer_lag(self) -> Mapping[str, int]:
        return self.ingestor.consumer_lag() if self.ingestor is not None else {}

    def view(
        self,
        province: str,
        now: datetime | None = None,
        consumer_lag: Mapping[str, int] | None = None,
    ) -> ProvinceSync:
        """The province's sync state now (consumer_lag: per province, if already measured)."""
        now = now or utc_now()
        wall = now.timestamp()
        store = self.store
        hb = store.heartbeats().get(province)
        poll = self.poller.state(province) if self.poller is not None else None
        node = poll.status if poll is not None else None
        applied = store.applied_seq(province)
        ingestor = self.ingestor
        lags = self._consumer_lag() if consumer_lag is None else consumer_lag
        province_lag = lags.get(province, 0)

        committed: list[int] = []
        published: list[int] = []
        if hb is not None:
            committed.append(hb.heartbeat.committed_seq)
            published.append(hb.heartbeat.published_seq)
        if node is not None:
            committed.append(node.committed_seq)
            published.append(node.published_seq)
        # The outbox head from whichever report reached the hub last.
        backlog: int | None = None
        oldest: datetime | None = None
        if hb is not None and (node is None or hb.received_at >= node.at):
            backlog, oldest = hb.heartbeat.outbox_backlog, hb.heartbeat.oldest_unpublished_at
        elif node is not None:
            backlog, oldest = node.outbox_backlog, node.oldest_unpublished_at
        advanced = self.freshness.last_advance(province)
        blocking = self._blocking.get(province)
        facts = Facts(
            label=self.label(province),
            lag_seconds=self.freshness.lag_seconds(province, now),
            applied_seq=applied,
            committed_seq=max(committed) if committed else None,
            published_seq=max(published) if published else None,
            outbox_backlog=backlog,
            oldest_unpublished_age=(
                max(0.0, (now - self.freshness.to_hub(province, oldest)).total_seconds())
                if oldest is not None and backlog
                else None
            ),
            consumer_lag=province_lag,
            heartbeat_age=(
                max(0.0, (now - hb.received_at).total_seconds()) if hb is not None else None
            ),
            polling=self.poller is not None and self.poller.enabled,
            node_polled=poll is not None,
            node_ok_age=(
                max(0.0, (now - poll.last_ok_at).total_seconds())
                if poll is not None and poll.last_ok_at is not None
                else None
            ),
            node_error=poll.error if poll is not None else None,
            kafka_connected=node.kafka_connected if node is not None else None,
            kafka_error=node.kafka_error if node is not None else None,
            since_advance=max(0.0, wall - advanced) if advanced is not None else None,
            ingest_paused=ingestor.paused if ingestor is not None else False,
            ingest_ready=ingestor.ready if ingestor is not None else False,
            ingest_error=ingestor.last_error if ingestor is not None else None,
            next_seq_rejection=(
                blocking[1] if blocking is not None and blocking[0] == applied + 1 else None
            ),
            clock_offset=self.freshness.clock_offset(province),
        )
        status, reason = decide(facts, self.windows)
        return ProvinceSync(
            province=province,
            name=self.settings.province_name(province),
            status=status,
            reason=reason,
            lag_seconds=facts.lag_seconds,
            applied_seq=applied,
            province_committed_seq=facts.committed_seq,
            province_published_seq=facts.published_seq,
            outbox_backlog=backlog,
            consumer_lag_messages=province_lag,
            last_heartbeat_at=hb.received_at if hb is not None else None,
            heartbeat_age_seconds=facts.heartbeat_age,
            dead_letters=self._dead_letters.get(province, 0),
            facts=facts,
            clock_offset_seconds=facts.clock_offset,
        )

    def views(self, now: datetime | None = None) -> list[ProvinceSync]:
        """Every configured province, in file order."""
        now = now or utc_now()
        lags = self._consumer_lag()
        return [self.view(code, now, lags) for code in self.settings.province_codes]

    def freshness_summary(self) -> dict[str, dict[str, Any]]:
        """{"50": {"lag_seconds", "status"}} for the `freshness` of search responses.

        Kept for SUMMARY_TTL_S: every search answer carries it, and the views of 32 provinces
        cost ~0.5 ms of the event loop, more than the search itself in the serving index
        (py-spy, bench/national_reads.py at 50,000 records, 2026-12-05).
        """
        now = time.monotonic()
        if self._summary is not None and now - self._summary[0] < SUMMARY_TTL_S:
            return self._summary[1]
        summary = {
            v.province: {
                "lag_seconds": None if v.lag_seconds is None else round(v.lag_seconds, 3),
                "status": v.status,
            }
            for v in self.views()
        }
        self._summary = (now, summary)
        return summary

    def eta_seconds(self, province: str, event_seq: int) -> float:
        """Estimated seconds until a published event of the province is applied."""
        return self.freshness.eta_seconds(province, event_seq)

    def update_metrics(self) -> None:
        """Set the per-province sync gauges (CONTRACT §6) from the current views."""
        metrics = self.metrics
        if metrics is None:
            return
        for v in self.views():
            code = v.province
            metrics.freshness_lag.labels(code).set(
                math.nan if v.lag_seconds is None else v.lag_seconds
            )
            metrics.set_sync_status(code, v.status)
            metrics.consumer_lag.labels(code).set(v.consumer_lag_messages)
            if v.heartbeat_age_seconds is not None:
                metrics.heartbeat_age.labels(code).set(v.heartbeat_age_seconds)
            if v.outbox_backlog is not None:
                metrics.outbox_backlog.labels(code).set(v.outbox_backlog)
            if v.clock_offset_seconds is not None:
                metrics.clock_offset.labels(code).set(v.clock_offset_seconds)
