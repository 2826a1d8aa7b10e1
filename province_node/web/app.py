"""The node's aiohttp application: one factory that assembles every part in visible order."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from province_node.auth import Authenticator
from province_node.config import NodeSettings
from province_node.heartbeat import HeartbeatLoop
from province_node.hub_client import HubClient
from province_node.metrics import NodeMetrics
from province_node.publisher import KafkaHealth, Relay
from province_node.registry import GroupCommit, Registry
from province_node.web import routes
from province_node.web.appkeys import (
    AUTH,
    HEALTH,
    HEARTBEAT,
    HUB,
    METRICS,
    REGISTRY,
    RELAY,
    SESSIONS,
    SETTINGS,
)
from province_node.web.console.sessions import SessionStore
from province_node.web.console.setup import setup_console
from province_node.web.middleware import error_middleware
from schemas.security_headers import security_headers
from schemas.service import service_ctx


def _on_commit(app: web.Application) -> Callable[[GroupCommit], None]:
    """What the registry's writer thread does right after each COMMIT: count, wake the relay."""
    metrics = app[METRICS]

    def on_commit(commit: GroupCommit) -> None:
        for kind in commit.types:
            metrics.events_committed.labels(type=kind).inc()
        # The relay starts after the registry; until it does, it has nothing to be woken from
        # (it reads the outbox when it starts).
        relay = app.get(RELAY)
        if relay is not None:
            relay.wake()

    return on_commit


def create_app(settings: NodeSettings) -> web.Application:
    """The node: state, middleware, then the parts that start with it, then its routes.

    The signing key and the federation secret are read here, so a bad key file fails before
    the node listens.
    """
    signer = settings.load_signer()
    secret = settings.load_secret()
    app = web.Application(middlewares=[error_middleware], client_max_size=settings.max_body_bytes)

    # State that needs no start.
    app[SETTINGS] = settings
    app[METRICS] = NodeMetrics()
    app[HEALTH] = KafkaHealth()
    app[AUTH] = Authenticator(settings.tokens)
    app[SESSIONS] = SessionStore()
    # CSP, nosniff, no framing, no referrer: on every answer, the console's pages and the API's.
    app.on_response_prepare.append(security_headers)

    # Parts that start with the app, in dependency order; they stop in reverse, so the heartbeat
    # and the relay stop before the registry finishes its queued writes and closes.
    app.cleanup_ctx.append(
        service_ctx(
            REGISTRY,
            lambda a: Registry(
                settings.db_path,
                settings.province,
                signer,
                secret,
                on_commit=_on_commit(a),
                queue_limit=settings.write_queue_limit,
            ),
        )
    )
    app.cleanup_ctx.append(
        service_ctx(
            RELAY, lambda a: Relay(settings, a[REGISTRY], signer.kid, a[HEALTH], a[METRICS])
        )
    )
    app.cleanup_ctx.append(
        service_ctx(HEARTBEAT, lambda a: HeartbeatLoop(settings, signer, a[RELAY], a[HEALTH]))
    )
    # The console asks the hub (visibility, health); the TLS context is built here so a bad
    # [hub] node_ca_file fails at start.
    hub_ssl = settings.hub_ssl_context()
    app.cleanup_ctx.append(service_ctx(HUB, lambda a: HubClient(settings.hub_url, hub_ssl)))

    # Routes: the API's, then the console's pages.
    routes.add_routes(app)
    setup_console(app)
    return app
