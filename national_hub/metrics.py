"""The hub's Prometheus metrics (CONTRACT §6) on a registry of the app's own."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from national_hub.errors import SHED_REASONS
from schemas.vocab import Status, SyncState

# From sub-second live sync up to a day of catch-up after an outage.
LATENCY_BUCKETS = (
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    1800.0,
    3600.0,
    21600.0,
    86400.0,
)

__all__ = ["CONTENT_TYPE_LATEST", "LATENCY_BUCKETS", "HubMetrics", "Occupancy"]


class Occupancy(Protocol):
    """What the admission gauges read (national_hub.web.admission.Admission)."""

    @property
    def queued(self) -> int: ...

    @property
    def in_flight(self) -> int: ...


class HubMetrics:
    """Every hub metric; one instance per application so tests never share counters."""

    def __init__(self, provinces: Iterable[str] = ()) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.events_applied = Counter(
            "regsync_hub_events_applied",
            "Events applied to the national store (newer than what the hub held).",
            ["province", "type"],
            registry=r,
        )
        self.events_rejected = Counter(
            "regsync_hub_events_rejected",
            "Messages dead-lettered (or heartbeats refused), by reason code.",
            ["province", "reason"],
            registry=r,
        )
        self.unauthenticated = Counter(
            "regsync_hub_unauthenticated_messages",
            "Messages refused because no province of the federation signed them (anyone who"
            " can write to Kafka may have sent them), by topic and reason code; not counted"
            " in regsync_hub_events_rejected_total, which is the provinces' own refusals.",
            ["topic", "reason"],
            registry=r,
        )
        self.apply_latency = Histogram(
            "regsync_hub_apply_latency_seconds",
            "Time from an event's commit at its province to its application at the hub.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.freshness_lag = Gauge(
            "regsync_hub_freshness_lag_seconds",
            "How far behind its province the hub's copy is, in seconds.",
            ["province"],
            registry=r,
        )
        self.consumer_lag = Gauge(
            "regsync_hub_consumer_lag_messages",
            "Messages on the province's topic not yet applied at the hub.",
            ["province"],
            registry=r,
        )
        self.heartbeat_age = Gauge(
            "regsync_hub_heartbeat_age_seconds",
            "Seconds since the province's last valid heartbeat was received.",
            ["province"],
            registry=r,
        )
        self.clock_offset = Gauge(
            "regsync_hub_clock_offset_seconds",
            "The province's clock minus the hub's, estimated from its heartbeats (not in the"
            " CONTRACT's list; province times are corrected by it).",
            ["province"],
            registry=r,
        )
        self.outbox_backlog = Gauge(
            "regsync_hub_province_outbox_backlog",
            "Events committed at the province but not yet published, per its last heartbeat.",
            ["province"],
            registry=r,
        )
        self.sync_status = Gauge(
            "regsync_hub_sync_status",
            "1 for the province's current sync status, 0 for the others.",
            ["province", "status"],
            registry=r,
        )
        self.records = Gauge(
            "regsync_hub_records",
            "Records held at the hub, by province and status.",
            ["province", "status"],
            registry=r,
        )
        # Bounded admission of the public reads (national_hub.web.admission); not in the
        # CONTRACT's list. The gauges are read from the admission at each scrape.
        self.requests_queued = Gauge(
            "regsync_hub_requests_queued",
            "Public reads waiting for their turn (at most hub.tuning.web.max_queued).",
            registry=r,
        )
        self.requests_in_flight = Gauge(
            "regsync_hub_requests_in_flight",
            "Public reads being served (at most hub.tuning.web.max_in_flight).",
            registry=r,
        )
        self.requests_shed = Counter(
            "regsync_hub_requests_shed",
            "Public reads answered 503 overloaded: every place taken and the queue full"
            " (queue_full), or their turn not come within hub.tuning.web.max_queue_wait_s"
            " (queue_timeout).",
            ["reason"],
            registry=r,
        )
        for reason in SHED_REASONS:
            self.requests_shed.labels(reason)  # 0 from the start, so an alert sees the series
        self._provinces = tuple(provinces)
        for code in self._provinces:
            # Present from the start so dashboards and alerts see every province, even idle.
            self.consumer_lag.labels(code)
            self.freshness_lag.labels(code)
            for status in SyncState:
                self.sync_status.labels(code, status.value).set(
                    1 if status is SyncState.UNKNOWN else 0
                )

    def observe_applied(
        self,
        counts: Mapping[tuple[str, str], int],
        latencies: Iterable[tuple[str, float]],
        clock_offset: Callable[[str], float | None] | None = None,
    ) -> None:
        """Count applied events per (province, type) and record their commit-to-apply latency.

        clock_offset(province) (its clock minus the hub's) puts committed_at on the hub's clock.
        """
        for (province, kind), n in counts.items():
            self.events_applied.labels(province, kind).inc(n)
        observe = self.apply_latency.observe
        offsets: dict[str, float] = {}
        for province, seconds in latencies:
            if province not in offsets:
                offsets[province] = (clock_offset(province) if clock_offset else None) or 0.0
            observe(max(seconds + offsets[province], 0.0))

    def observe_rejected(self, counts: Mapping[tuple[str, str], int]) -> None:
        """Count dead-lettered messages per (province, reason code)."""
        for (province, reason), n in counts.items():
            self.events_rejected.labels(province, reason).inc(n)

    def observe_unauthenticated(self, counts: Mapping[tuple[str, str], int]) -> None:
        """Count messages nobody signed per (topic, reason code)."""
        for (topic, reason), n in counts.items():
            self.unauthenticated.labels(topic, reason).inc(n)

    def set_records(self, counts: Mapping[tuple[str, str], int]) -> None:
        """Replace the records gauge with fresh (province, status) counts; absent pairs read 0."""
        provinces = set(self._provinces) | {p for p, _ in counts}
        for province in provinces:
            for status in Status:
                self.records.labels(province, status.value).set(
                    counts.get((province, status.value), 0)
                )

    def set_sync_status(self, province: str, status: SyncState) -> None:
        """Mark status as the province's current one (1) and every other as 0."""
        for s in SyncState:
            self.sync_status.labels(province, s.value).set(1 if s == status else 0)

    def watch_admission(self, admission: Occupancy) -> None:
        """Read the queue depth and the reads in flight from `admission` at every scrape."""
        self.requests_queued.set_function(lambda: admission.queued)
        self.requests_in_flight.set_function(lambda: admission.in_flight)

    def render(self) -> bytes:
        """The Prometheus text exposition of this registry."""
        return generate_latest(self.registry)
