"""The notifier's Prometheus metrics, on a registry of its own (it is its own process).

Per institution (its org code), never per certificate: the metrics name no physician.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from national_hub.metrics import LATENCY_BUCKETS
from national_hub.notify.outbox import STATES


class NotifyMetrics:
    """Delivery states, attempts, latency (province commit → 2xx) and whether this one works."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.deliveries = Gauge(
            "regsync_notify_deliveries",
            "Deliveries by institution and state (pending, retrying, delivered, dead, "
            "cancelled), as stored",
            ["institution", "state"],
            registry=self.registry,
        )
        self.attempts = Counter(
            "regsync_notify_attempts_total",
            "Webhook calls by institution and the state they left the delivery in",
            ["institution", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "regsync_notify_delivery_latency_seconds",
            "From the province's commit of the change to the webhook's 2xx",
            ["institution"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.active = Gauge(
            "regsync_notify_active",
            "1 while this notifier holds the lease (derives and delivers), 0 on standby",
            registry=self.registry,
        )

    def attempted(self, institution: str, state: str, latency_s: float) -> None:
        """One webhook call ended, leaving its delivery in state."""
        self.attempts.labels(institution, state).inc()
        if state == "delivered":
            self.latency.labels(institution).observe(max(0.0, latency_s))

    def set_counts(self, counts: Mapping[tuple[str, str], int]) -> None:
        """The stored deliveries by (institution, state); absent states are 0."""
        for org in {org for org, _ in counts}:
            for state in STATES:
                self.deliveries.labels(org, state).set(counts.get((org, state), 0))

    def render(self) -> bytes:
        """The Prometheus text."""
        return generate_latest(self.registry)


async def serve_metrics(metrics: NotifyMetrics, host: str, port: int) -> web.AppRunner:
    """GET /metrics on host:port until the runner is cleaned up."""

    async def get(_: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/metrics", get)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
