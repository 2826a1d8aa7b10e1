"""The hub's aiohttp application: lifecycle of store and ingest, errors, core routes."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import orjson
from aiohttp import web

from national_hub.config import HubSettings
from national_hub.errors import (
    Conflict,
    HubError,
    InvalidParameter,
    NotFound,
    ServiceUnavailable,
)
from national_hub.ingest.ingestor import Ingestor
from national_hub.metrics import CONTENT_TYPE_LATEST, HubMetrics
from national_hub.store.store import Store
from national_hub.sync import explain
from national_hub.web import openapi
from national_hub.web import query_routes as query_api
from national_hub.web import sync_routes as sync_api
from national_hub.web.appkeys import AUTH_THROTTLE, INGESTOR, METRICS, SETTINGS, STORE, SYNC
from national_hub.web.params import int_param, json_response, require_ops, sync_token_param
from schemas.errors import RegsyncError, SchemaError
from schemas.openapi import serve as serve_openapi
from schemas.throttle import AuthThrottle

log = logging.getLogger(__name__)

_CERT_NO = re.compile(r"^[0-9]{15}$")
MAX_WAIT_SECONDS = 30.0
GAUGE_INTERVAL = 2.0
RECORD_COUNT_INTERVAL = 10.0
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    411: "length_required",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    429: "rate_limited",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(
    status: int,
    code: str,
    message: str,
    details: list[dict[str, str]] | None = None,
    extra: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """The one error body shape of the hub."""
    body: dict[str, Any] = {"error": {"code": code, "message": message, "details": details or []}}
    if extra:
        body.update(extra)
    return json_response(body, status=status, headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map every failure to the JSON error body; only a bug of ours may ever give 500."""
    try:
        return await handler(request)
    except HubError as exc:
        headers = {**exc.headers, **({"WWW-Authenticate": "Bearer"} if exc.status == 401 else {})}
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.extra, headers)
    except SchemaError as exc:
        return error_response(400, "invalid_request", exc.message, exc.details)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "http_error")
        if exc.status == 404:
            message = f"no such resource: {request.method} {request.path}"
        elif exc.status == 405:
            message = f"method {request.method} is not allowed on {request.path}"
        else:
            message = exc.reason
        headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
        return error_response(exc.status, code, message, headers=headers or None)
    except RegsyncError as exc:
        # Project errors raised below the HTTP layer without an HTTP mapping are the client's
        # input being refused somewhere deeper (e.g. a value a schema type rejected).
        status = getattr(exc, "status", 400)
        code = getattr(exc, "code", "bad_request")
        return error_response(status, code, str(exc))
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal", "internal error; the hub's log has the details")


# ---- helpers ----------------------------------------------------------------------------------


def _cert_no(request: web.Request) -> str:
    cert_no = request.match_info["cert_no"]
    if not _CERT_NO.match(cert_no):
        raise InvalidParameter("cert_no", "must be 15 digits")
    return cert_no


def _wait_param(request: web.Request) -> float:
    raw = request.query.get("wait")
    if raw is None or raw == "":
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        raise InvalidParameter("wait", "must be a number of seconds") from None
    if not math.isfinite(value) or not 0 <= value <= MAX_WAIT_SECONDS:
        raise InvalidParameter("wait", f"must be between 0 and {MAX_WAIT_SECONDS:g} seconds")
    return value


def public_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """A records row as served: the record without person_ref, plus where and when from."""
    body: dict[str, Any] = orjson.loads(row["record"])
    body.pop("person_ref", None)
    body["province"] = row["province"]
    body["synced_at"] = row["synced_at"]
    body["record_version"] = row["record_version"]
    sp = row.get("superseded_by_province")
    body["superseded_by"] = (
        {"province": sp, "cert_no": row.get("superseded_by_cert_no")} if sp else None
    )
    return body


# ---- handlers ---------------------------------------------------------------------------------


async def get_physician(request: web.Request) -> web.Response:
    """GET /v1/physicians/{cert_no}: the public record, or 404 with an explanation."""
    cert_no = _cert_no(request)
    token = sync_token_param(request, "min_token")
    wait = _wait_param(request)
    app = request.app
    store = app[STORE]
    if token is not None:
        province, seq = token
        if not store.is_seq_applied(province, seq):
            ingestor = app.get(INGESTOR)
            ok = ingestor is not None and await ingestor.wait_applied(province, seq, wait)
            if not ok:
                raise Conflict(
                    f"sync token {province}:{seq} is not applied at the national hub yet",
                    code="not_yet_applied",
                    extra={"explanation": await explain.for_app(app).token(province, seq)},
                )
        # Processed but refused (e.g. a cert_no another province holds): reading now would
        # show someone else's record, not the change the token stands for.
        if store.is_seq_rejected(province, seq):
            raise Conflict(
                f"sync token {province}:{seq} was rejected by the national hub",
                code="token_rejected",
                extra={"explanation": await explain.for_app(app).token(province, seq)},
            )
    row = await store.fetch_one(
        "SELECT province, record_version, synced_at, record, superseded_by_province,"
        " superseded_by_cert_no FROM records WHERE cert_no = ?",
        [cert_no],
    )
    if row is None:
        raise NotFound(
            f"no physician with certificate {cert_no} at the national hub",
            extra={"explanation": await explain.for_app(app).cert(cert_no)},
        )
    return json_response(public_record(row))


async def get_history(request: web.Request) -> web.Response:
    """GET /v1/physicians/{cert_no}/history: applied events, oldest first."""
    cert_no = _cert_no(request)
    store = request.app[STORE]
    rows = await store.fetch(
        "SELECT type, seq, record_version, committed_at, applied_at, province"
        " FROM history WHERE cert_no = ? ORDER BY apply_id",
        [cert_no],
    )
    if (
        not rows
        and await store.fetch_one("SELECT 1 AS x FROM records WHERE cert_no = ?", [cert_no]) is None
    ):
        raise NotFound(
            f"no physician with certificate {cert_no} at the national hub",
            extra={"explanation": await explain.for_app(request.app).cert(cert_no)},
        )
    return json_response({"cert_no": cert_no, "items": rows})


async def get_dead_letters(request: web.Request) -> web.Response:
    """GET /v1/sync/dead-letters (ops): rejected messages, newest first."""
    require_ops(request)
    limit = int_param(request, "limit", 100, 1, 1000)
    province = request.query.get("province")
    sql = 'SELECT topic, partition, "offset", key, reason, received_at, province FROM dead_letters'
    params: list[Any] = []
    if province:
        if province not in request.app[SETTINGS].provinces:
            raise InvalidParameter("province", f"province {province} is not in the federation")
        sql += " WHERE province = ?"
        params.append(province)
    sql += ' ORDER BY received_at DESC, topic, partition, "offset" DESC LIMIT ?'
    params.append(limit)
    rows = await request.app[STORE].fetch(sql, params)
    return json_response({"items": rows})


async def get_metrics(request: web.Request) -> web.Response:
    """GET /metrics: Prometheus text."""
    _refresh_live_gauges(request.app)
    return web.Response(
        body=request.app[METRICS].render(), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )


async def healthz(request: web.Request) -> web.Response:
    """GET /healthz: the process answers."""
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """GET /readyz: 200 once the store is open and ingest has its partitions."""
    store = request.app.get(STORE)
    ingestor = request.app.get(INGESTOR)
    if store is None or store.closed:
        raise ServiceUnavailable("the store is not open", code="not_ready")
    if ingestor is None or not ingestor.ready:
        why = ingestor.last_error if ingestor is not None else None
        raise ServiceUnavailable(
            "not consuming from Kafka yet" + (f": {why}" if why else ""), code="not_ready"
        )
    return json_response({"status": "ready", "partitions": len(ingestor.assignment)})


# ---- background -------------------------------------------------------------------------------


def _refresh_live_gauges(app: web.Application) -> None:
    """Gauges computed from in-memory state: cheap enough for every scrape."""
    monitor = app.get(SYNC)
    if monitor is not None:
        # Freshness, status, heartbeat age, outbox backlog and consumer lag per province.
        monitor.update_metrics()


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    """Open the store for the app's lifetime."""
    settings = app[SETTINGS]
    loop = asyncio.get_running_loop()
    store = await loop.run_in_executor(
        None, functools.partial(Store.open, settings.db_path, memory_limit=settings.memory_limit)
    )
    app[STORE] = store
    try:
        yield
    finally:
        await loop.run_in_executor(None, store.close)


async def _ingest_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the ingest loop for the app's lifetime."""
    ingestor = Ingestor(app[SETTINGS], app[STORE], app[METRICS])
    app[INGESTOR] = ingestor
    await ingestor.start()
    try:
        yield
    finally:
        await ingestor.stop()


async def _gauges_ctx(app: web.Application) -> AsyncIterator[None]:
    """Refresh the gauges in the background for the app's lifetime."""

    async def loop() -> None:
        next_counts = 0.0
        while True:
            _refresh_live_gauges(app)
            if time.monotonic() >= next_counts:
                next_counts = time.monotonic() + RECORD_COUNT_INTERVAL
                try:
                    app[METRICS].set_records(await app[STORE].record_counts())
                except RegsyncError as exc:
                    log.warning("metrics: cannot count records: %s", exc)
            await asyncio.sleep(GAUGE_INTERVAL)

    task = asyncio.create_task(loop(), name="hub-gauges")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def create_app(settings: HubSettings) -> web.Application:
    """The hub application; store and ingest start with it and stop with it."""
    app = web.Application(middlewares=[error_middleware], client_max_size=64 * 1024)
    app[SETTINGS] = settings
    app[METRICS] = HubMetrics(settings.province_codes)
    app[AUTH_THROTTLE] = AuthThrottle.from_env()
    # Order matters: contexts unwind in reverse, so ingest stops before the store closes.
    app.cleanup_ctx.append(_store_ctx)
    app.cleanup_ctx.append(_ingest_ctx)
    app.cleanup_ctx.append(_gauges_ctx)
    app.router.add_get("/v1/physicians/{cert_no}", get_physician, name="physician")
    app.router.add_get("/v1/physicians/{cert_no}/history", get_history, name="history")
    app.router.add_get("/v1/sync/dead-letters", get_dead_letters, name="dead_letters")
    app.router.add_get("/metrics", get_metrics, name="metrics")
    app.router.add_get("/healthz", healthz, name="healthz")
    app.router.add_get("/readyz", readyz, name="readyz")
    app.router.add_get("/openapi.json", serve_openapi(openapi.document), name="openapi")
    query_api.setup_routes(app)
    # After ingest in cleanup_ctx: its loops read the store and the ingestor.
    sync_api.setup_routes(app)
    return app
