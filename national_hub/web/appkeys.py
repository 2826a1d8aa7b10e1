"""Typed keys of the hub's aiohttp application."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import web

from schemas.throttle import AuthThrottle

if TYPE_CHECKING:
    from national_hub.config import HubSettings
    from national_hub.index.index import ServingIndex
    from national_hub.ingest.ingestor import Ingestor
    from national_hub.metrics import HubMetrics
    from national_hub.notify.access import WatchAccess
    from national_hub.query.aliases import AliasTable
    from national_hub.query.receipts import ReceiptSigner
    from national_hub.query.stats_cache import StatsCache
    from national_hub.snapshot.take import SnapshotSlot
    from national_hub.store.store import Store
    from national_hub.sync.explain import Explainer
    from national_hub.sync.gauges import GaugeLoop
    from national_hub.sync.lag_history import LagHistory, LagSampler
    from national_hub.sync.node_client import NodeClient, NodePoller
    from national_hub.sync.status import SyncMonitor
    from national_hub.web.admission import Admission
    from national_hub.web.ratelimit import RateLimiter

SETTINGS: web.AppKey[HubSettings] = web.AppKey("settings")
STORE: web.AppKey[Store] = web.AppKey("store")
# The SQLite serving index: lookups, verify, FHIR, searches and rosters are read from it.
INDEX: web.AppKey[ServingIndex] = web.AppKey("serving_index")
INGESTOR: web.AppKey[Ingestor] = web.AppKey("ingestor")
METRICS: web.AppKey[HubMetrics] = web.AppKey("metrics")
NODES: web.AppKey[NodeClient] = web.AppKey("nodes")
NODE_POLLER: web.AppKey[NodePoller] = web.AppKey("node_poller")
# The poller's own node client (NODES serves explanations).
POLL_CLIENT: web.AppKey[NodeClient] = web.AppKey("poll_client")
SYNC: web.AppKey[SyncMonitor] = web.AppKey("sync_monitor")
EXPLAINER: web.AppKey[Explainer] = web.AppKey("explainer")
LAG_HISTORY: web.AppKey[LagHistory] = web.AppKey("lag_history")
LAG_SAMPLER: web.AppKey[LagSampler] = web.AppKey("lag_sampler")
AUTH_THROTTLE: web.AppKey[AuthThrottle] = web.AppKey("auth_throttle", AuthThrottle)

ALIASES: web.AppKey[AliasTable] = web.AppKey("aliases")
RECEIPTS: web.AppKey[ReceiptSigner] = web.AppKey("receipts")
RATE_LIMITER: web.AppKey[RateLimiter] = web.AppKey("rate_limiter")
STATS_CACHE: web.AppKey[StatsCache] = web.AppKey("stats_cache")
GAUGES: web.AppKey[GaugeLoop] = web.AppKey("gauges")
# Expensive reads (searches, explanations asking every node) run at most
# hub.tuning.web.heavy_concurrency at once: national_hub.web.middleware.
HEAVY: web.AppKey[asyncio.Semaphore] = web.AppKey("heavy", asyncio.Semaphore)
# The public reads' bounded admission (hub.tuning.web.max_in_flight, max_queued,
# max_queue_wait_s): national_hub.web.middleware.admission_middleware.
ADMISSION: web.AppKey[Admission] = web.AppKey("admission")
# Employer monitoring's store (institutions, watch lists, webhooks, the feed): /v1/watch/*.
NOTIFY: web.AppKey[WatchAccess] = web.AppKey("notify")
# Set on SIGTERM: /readyz answers not ready while the hub still serves, so a load balancer takes
# it out before it stops listening (hub.tuning.web.drain_s, national_hub.cli serve).
DRAINING: web.AppKey[asyncio.Event] = web.AppKey("draining", asyncio.Event)
# The latest snapshot this process took (POST/GET /v1/ops/snapshot, web.snapshot_routes).
SNAPSHOTS: web.AppKey[SnapshotSlot] = web.AppKey("snapshots")
