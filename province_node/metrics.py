"""Prometheus metrics of one node (CONTRACT §6), in a registry of the app's own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from schemas.vocab import EventType

CONTENT_TYPE = CONTENT_TYPE_LATEST


class NodeMetrics:
    """The node's counters and gauges; a registry per app so tests and apps never share."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.events_committed = Counter(
            "regsync_node_events_committed_total",
            "Events committed to the outbox, by type.",
            ["type"],
            registry=self.registry,
        )
        self.events_published = Counter(
            "regsync_node_events_published_total",
            "Events acknowledged by Kafka.",
            registry=self.registry,
        )
        self.outbox_backlog = Gauge(
            "regsync_node_outbox_backlog",
            "Committed events not yet acknowledged by Kafka.",
            registry=self.registry,
        )
        self.oldest_unpublished_age = Gauge(
            "regsync_node_oldest_unpublished_age_seconds",
            "Age of the oldest committed event not yet acknowledged by Kafka (0 if none).",
            registry=self.registry,
        )
        self.publish_errors = Counter(
            "regsync_node_publish_errors_total",
            "Failed attempts to publish to Kafka.",
            registry=self.registry,
        )
        # Every type appears from the start, so a dashboard shows 0 rather than no series.
        for kind in EventType:
            self.events_committed.labels(type=kind.value)

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)
