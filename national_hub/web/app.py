"""The hub's aiohttp application: one factory that assembles every part in visible order."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator

from aiohttp import web

from national_hub.config import HubSettings
from national_hub.index.index import ServingIndex
from national_hub.ingest.ingestor import Ingestor
from national_hub.ingest.seeding import seed_index_if_new
from national_hub.metrics import HubMetrics
from national_hub.notify.access import WatchAccess
from national_hub.query.aliases import AliasTable
from national_hub.query.receipts import ReceiptSigner
from national_hub.query.stats_cache import StatsCache
from national_hub.store.store import Store
from national_hub.sync.explain import Explainer
from national_hub.sync.freshness import FreshnessTracker
from national_hub.sync.gauges import GaugeLoop
from national_hub.sync.lag_history import LagHistory, LagSampler
from national_hub.sync.node_client import NodeClient, NodePoller
from national_hub.sync.status import SyncMonitor
from national_hub.web import (
    openapi,
    query_routes,
    record_routes,
    snapshot_routes,
    sync_routes,
    watch_routes,
)
from national_hub.web.admission import Admission
from national_hub.web.appkeys import (
    ADMISSION,
    ALIASES,
    AUTH_THROTTLE,
    DRAINING,
    EXPLAINER,
    GAUGES,
    HEAVY,
    INDEX,
    INGESTOR,
    LAG_HISTORY,
    LAG_SAMPLER,
    METRICS,
    NODE_POLLER,
    NODES,
    NOTIFY,
    POLL_CLIENT,
    RATE_LIMITER,
    RECEIPTS,
    SETTINGS,
    STATS_CACHE,
    STORE,
    SYNC,
)
from national_hub.web.middleware import (
    admission_middleware,
    error_middleware,
    rate_limit_middleware,
)
from national_hub.web.pages import setup_pages
from national_hub.web.ratelimit import RateLimiter
from schemas.openapi import serve as serve_openapi
from schemas.security_headers import security_headers
from schemas.service import provide_ctx, service_ctx
from schemas.throttle import AuthThrottle

# A request body larger than this is refused (413): the largest the hub takes is a verify.
CLIENT_MAX_SIZE = 64 * 1024

# A read admitted this recently counts as reads being served (see Ingestor._batch_limit).
READS_RECENT_S = 1.0


async def store_ctx(app: web.Application) -> AsyncIterator[None]:
    """Open the store (off the event loop: it may replay DuckDB's WAL) and close it at the end."""
    settings = app[SETTINGS]
    loop = asyncio.get_running_loop()
    store = await loop.run_in_executor(
        None,
        functools.partial(
            Store.open,
            settings.db_path,
            memory_limit=settings.tuning.store.memory_limit,
            heartbeat_flush_s=settings.tuning.store.heartbeat_flush_s,
            history_cache=settings.tuning.store.history_cache,
        ),
    )
    app[STORE] = store
    try:
        yield
    finally:
        await loop.run_in_executor(None, store.close)


def open_index(settings: HubSettings) -> ServingIndex:
    """The serving index at its configured place, with its tuning (blocking: run off the loop)."""
    tuning = settings.tuning.index
    return ServingIndex.open(
        settings.serving_index_path,
        readers=tuning.readers,
        writer_cache_mib=tuning.writer_cache_mib,
        reader_cache_mib=tuning.reader_cache_mib,
        synchronous=tuning.synchronous,
        flush_s=tuning.flush_s,
        sort_max=tuning.sort_max,
        walk_budget=tuning.walk_budget,
        cache_records=tuning.cache_records,
    )


async def index_ctx(app: web.Application) -> AsyncIterator[None]:
    """Open the serving index (filled from the store if it is new) and close it at the end."""
    loop = asyncio.get_running_loop()
    index = await loop.run_in_executor(None, open_index, app[SETTINGS])
    app[INDEX] = index
    try:
        # A new (or emptied) index next to a filled store is copied from it before ingest
        # starts, instead of answering "not found" until the topics are replayed (~27,000
        # rows/s against ~7,700 events/s: bench/results/seed_index_1m.json).
        await loop.run_in_executor(None, seed_index_if_new, app[STORE], index)
    except BaseException:
        await loop.run_in_executor(None, index.close)
        raise
    try:
        yield
    finally:
        await loop.run_in_executor(None, index.close)


def _sync_monitor(app: web.Application) -> SyncMonitor:
    return SyncMonitor(
        app[SETTINGS],
        app[STORE],
        FreshnessTracker(app[SETTINGS].tuning.freshness),
        app[INGESTOR],
        app[NODE_POLLER],
        app[METRICS],
    )


def _lag_sampler(app: web.Application) -> LagSampler:
    monitor = app[SYNC]
    return LagSampler(
        app[LAG_HISTORY], lambda: {v.province: v.lag_seconds for v in monitor.views()}
    )


def create_app(settings: HubSettings) -> web.Application:
    """The hub: state, middleware, then the parts that start with it, then its routes."""
    app = web.Application(
        # The error middleware is outermost, so it also renders the rate limiter's 429; the rate
        # limit comes before admission, so a client over its budget never takes a place in line.
        middlewares=[error_middleware, rate_limit_middleware, admission_middleware],
        client_max_size=CLIENT_MAX_SIZE,
    )
    # CSP, nosniff, no framing, no referrer: on every answer, files and errors included.
    app.on_response_prepare.append(security_headers)

    tuning = settings.tuning
    # State that needs no start.
    app[SETTINGS] = settings
    app[METRICS] = HubMetrics(settings.province_codes)
    app[AUTH_THROTTLE] = AuthThrottle.from_limits(tuning.web.auth_throttle)
    app[RATE_LIMITER] = RateLimiter.from_limit(
        tuning.web.rate_limit, tuning.web.refusal_delay_s, tuning.web.refusals_delayed_max
    )
    app[HEAVY] = asyncio.Semaphore(tuning.web.heavy_concurrency)
    app[DRAINING] = asyncio.Event()
    app[ADMISSION] = Admission(
        tuning.web.max_in_flight, tuning.web.max_queued, tuning.web.max_queue_wait_s
    )
    app[METRICS].watch_admission(app[ADMISSION])
    app[RECEIPTS] = ReceiptSigner.from_settings(settings)
    app[ALIASES] = AliasTable.load(settings.aliases_file)
    app[STATS_CACHE] = StatsCache(tuning.web.stats_ttl_s)
    app[LAG_HISTORY] = LagHistory(tuning.sync.lag_sample_s, tuning.sync.lag_retention_minutes)

    # Parts that start with the app, in dependency order; they stop in reverse, so ingest stops
    # before the store closes and nothing polls nodes once the monitor is gone.
    app.cleanup_ctx.append(store_ctx)
    app.cleanup_ctx.append(index_ctx)
    app.cleanup_ctx.append(
        service_ctx(
            INGESTOR,
            lambda a: Ingestor(
                settings,
                a[STORE],
                a[METRICS],
                index=a[INDEX],
                # Reads first: while the public is served, ingest commits in short steps.
                reads_active=lambda: a[ADMISSION].busy(READS_RECENT_S),
            ),
        )
    )
    # Separate node clients: a burst of explanations (each may ask nodes) fills its own
    # connection pool, never the poller's, so it cannot make healthy nodes look silent.
    app.cleanup_ctx.append(service_ctx(NODES, lambda a: NodeClient(settings)))
    app.cleanup_ctx.append(service_ctx(POLL_CLIENT, lambda a: NodeClient(settings)))
    app.cleanup_ctx.append(service_ctx(NODE_POLLER, lambda a: NodePoller(settings, a[POLL_CLIENT])))
    app.cleanup_ctx.append(service_ctx(SYNC, _sync_monitor))
    app.cleanup_ctx.append(
        provide_ctx(EXPLAINER, lambda a: Explainer(a[STORE], settings, a[SYNC], a[NODES]))
    )
    app.cleanup_ctx.append(service_ctx(LAG_SAMPLER, _lag_sampler))
    # Employer monitoring's store; the notifier (national-hub notify) is its own process.
    app.cleanup_ctx.append(
        service_ctx(
            NOTIFY,
            lambda a: WatchAccess(
                settings.notify_store_path, tuning.notify.watch_limit, tuning.notify.poll_s
            ),
        )
    )
    app.cleanup_ctx.append(
        service_ctx(
            GAUGES,
            lambda a: GaugeLoop(
                a[METRICS],
                a[SYNC],
                a[STORE],
                interval=tuning.sync.gauge_refresh_s,
                count_interval=tuning.sync.record_count_refresh_s,
            ),
        )
    )

    # Routes.
    record_routes.add_routes(app)
    query_routes.add_routes(app)
    sync_routes.add_routes(app)
    snapshot_routes.add_routes(app)
    watch_routes.add_routes(app)
    app.router.add_get("/openapi.json", serve_openapi(openapi.document), name="openapi")
    # The public site (CONTRACT §5a): its pages, their files and the suggestions.
    setup_pages(app)
    return app
