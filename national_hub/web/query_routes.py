"""The hub's public query routes: search, roster, FHIR, verify, hub key, stats; rate limiting."""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import orjson
from aiohttp import web
from pydantic import TypeAdapter, ValidationError

from national_hub.errors import ConfigError, InvalidParameter, NotFound
from national_hub.query.aliases import AliasTable
from national_hub.query.fhir import to_practitioner
from national_hub.query.receipts import ReceiptSigner
from national_hub.query.search import ROW_COLUMNS, SearchParams, public_item, run_search
from national_hub.query.verify import VerifyRequest, verify_certificate
from national_hub.sync import explain
from national_hub.web.appkeys import SETTINGS, STORE
from schemas.canonical import canonical_bytes
from schemas.record import CertNo, OrgCode
from schemas.throttle import client_key

# A provider of per-province freshness ({"50": {"lag_seconds": 1.2, "status": "ok"}, ...}),
# installed by the sync-status engine; without one every province reads "unknown".
FreshnessProvider = Callable[[], Mapping[str, Mapping[str, Any]]]

FRESHNESS: web.AppKey[FreshnessProvider] = web.AppKey("freshness")
ALIASES: web.AppKey[AliasTable] = web.AppKey("aliases", AliasTable)
RECEIPTS: web.AppKey[ReceiptSigner] = web.AppKey("receipts", ReceiptSigner)

UNKNOWN_FRESHNESS: Mapping[str, Any] = {"lag_seconds": None, "status": "unknown"}
STATS_GROUPS = ("province", "category", "status")
# Counts over 5M rows take ~60 ms; a short cache (see StatsCache) keeps a burst of dashboard or
# benchmark requests from queueing scans on the store's connection.
STATS_TTL_SECONDS = 2.0
RATE_LIMIT_ENV = "REGSYNC_HUB_RATE_LIMIT"
# Paths the public may call without a token: these are rate limited per client.
PUBLIC_PREFIXES = (
    "/v1/physicians",
    "/v1/institutions/",
    "/v1/verify",
    "/v1/stats",
    "/v1/sync/status",
    "/v1/sync/explain",
    "/.well-known/regsync/",
)


# ---------------------------------------------------------------------------------------------
# Rate limiting


class RateLimiter:
    """Per-client token buckets: `rate` requests per second sustained, bursts up to `burst`."""

    __slots__ = ("_buckets", "_clock", "burst", "enabled", "max_clients", "rate")

    def __init__(
        self,
        rate: float = 50.0,
        burst: float = 100.0,
        *,
        enabled: bool = True,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self.enabled = enabled
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: dict[str, list[float]] = {}  # client -> [tokens, last refill time]

    @classmethod
    def from_env(cls, value: str | None = None) -> RateLimiter:
        """From REGSYNC_HUB_RATE_LIMIT: "off", "RATE" or "RATE/BURST"; unset means 50/100."""
        text = (os.environ.get(RATE_LIMIT_ENV, "") if value is None else value).strip().lower()
        if not text:
            return cls()
        if text == "off":
            return cls(enabled=False)
        rate, _, burst = text.partition("/")
        try:
            return cls(float(rate), float(burst) if burst else max(1.0, 2 * float(rate)))
        except ValueError:
            raise ConfigError(
                f"{RATE_LIMIT_ENV}={text!r}: use off, RATE or RATE/BURST (e.g. 50/100)"
            ) from None

    def acquire(self, client: str) -> float:
        """Take one token for client: 0.0 if allowed, else the seconds until one is available."""
        if not self.enabled:
            return 0.0
        now = self._clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= self.max_clients:
                self._prune(now)
            bucket = self._buckets[client] = [self.burst, now]
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        """Forget clients whose bucket has refilled (they lose nothing); else the oldest half."""
        refill = self.burst / self.rate
        self._buckets = {k: b for k, b in self._buckets.items() if now - b[1] < refill}
        if len(self._buckets) >= self.max_clients:
            # Many distinct clients at once (e.g. spoofed IPv6 sources): bound the memory.
            recent = sorted(self._buckets.items(), key=lambda kv: kv[1][1])
            self._buckets = dict(recent[len(recent) // 2 :])


RATE_LIMITER: web.AppKey[RateLimiter] = web.AppKey("rate_limiter", RateLimiter)


@web.middleware
async def rate_limit_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """429 with Retry-After for a client over its budget on the public endpoints."""
    limiter = request.app.get(RATE_LIMITER)
    if limiter is None or not request.path.startswith(PUBLIC_PREFIXES):
        return await handler(request)
    wait = limiter.acquire(client_key(request.remote))
    if wait <= 0:
        return await handler(request)
    retry_after = max(1, math.ceil(wait))
    # The hub's error middleware renders this as the error body and keeps Retry-After.
    raise web.HTTPTooManyRequests(
        reason=f"too many requests from this client; retry after {retry_after} s",
        headers={"Retry-After": str(retry_after)},
    )


# ---------------------------------------------------------------------------------------------
# Helpers


def _json(
    body: Any,
    *,
    status: int = 200,
    content_type: str = "application/json",
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, content_type=content_type, headers=headers
    )


def freshness_for(app: web.Application) -> dict[str, dict[str, Any]]:
    """Per-province {"lag_seconds", "status"} for responses: from the app's FRESHNESS provider."""
    provider = app.get(FRESHNESS)
    known = provider() if provider is not None else {}
    settings = app.get(SETTINGS)
    codes = [] if settings is None else list(settings.province_codes)
    codes += sorted(code for code in known if code not in codes)
    answer: dict[str, dict[str, Any]] = {}
    for code in codes:
        entry = known.get(code) or UNKNOWN_FRESHNESS
        answer[code] = {"lag_seconds": entry.get("lag_seconds"), "status": entry.get("status")}
    return answer


_CERT_NO: TypeAdapter[str] = TypeAdapter(CertNo)
_ORG_CODE: TypeAdapter[str] = TypeAdapter(OrgCode)


def _valid(adapter: TypeAdapter[str], field: str, value: str) -> str:
    """Validate a path segment with a schemas field type; 400 naming field if bad."""
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        raise InvalidParameter(field, exc.errors()[0]["msg"]) from None


async def _explain(
    app: web.Application, cert_no: str, province: str | None = None
) -> dict[str, Any]:
    return await explain.for_app(app).cert(cert_no, province)


_LOOKUP = f"SELECT {ROW_COLUMNS} FROM records WHERE cert_no = ?"


# ---------------------------------------------------------------------------------------------
# Handlers


async def search_physicians(request: web.Request) -> web.Response:
    """GET /v1/physicians: cross-province search by name and/or institution."""
    params = SearchParams.from_query(request.query)
    rows, next_cursor = await run_search(request.app[STORE], params, request.app[ALIASES])
    return _json(
        {
            "items": [public_item(row) for row in rows],
            "next_cursor": next_cursor,
            "freshness": freshness_for(request.app),
        }
    )


async def institution_roster(request: web.Request) -> web.Response:
    """GET /v1/institutions/{org_code}/physicians: primary staff, then filed practice sites."""
    org_code = _valid(_ORG_CODE, "org_code", request.match_info["org_code"])
    params = SearchParams.from_query({**request.query, "institution": org_code})
    rows, next_cursor = await run_search(request.app[STORE], params, request.app[ALIASES])
    items = []
    for row in rows:
        item = public_item(row)
        item["relation"] = "primary" if row["org_code"] == org_code else "practice_site"
        items.append(item)
    return _json(
        {
            "org_code": org_code,
            "items": items,
            "next_cursor": next_cursor,
            "freshness": freshness_for(request.app),
        }
    )


async def physician_fhir(request: web.Request) -> web.Response:
    """GET /v1/physicians/{cert_no}/fhir: the record as a FHIR R4 Practitioner."""
    cert_no = _valid(_CERT_NO, "cert_no", request.match_info["cert_no"])
    row = await request.app[STORE].fetch_one(_LOOKUP, [cert_no])
    if row is None:
        explanation = await _explain(request.app, cert_no)
        raise NotFound(
            f"no physician with certificate {cert_no} at the national hub",
            extra={"explanation": explanation},
        )
    item = public_item(row)
    resource = to_practitioner(item, row["province"], int(row["record_version"]), item["synced_at"])
    return _json(resource, content_type="application/fhir+json")


async def verify(request: web.Request) -> web.Response:
    """POST /v1/verify: compare a presented certificate; every answer carries a signed receipt."""
    body = VerifyRequest.from_body(await request.read())
    answer = await verify_certificate(
        body,
        request.app[STORE],
        request.app[ALIASES],
        request.app[RECEIPTS],
        lambda cert_no: _explain(request.app, cert_no, body.province),
    )
    return _json(answer)


async def hub_key(request: web.Request) -> web.Response:
    """GET /.well-known/regsync/hub-key: the public key receipts are checked against."""
    return _json(request.app[RECEIPTS].hub_key_document(), headers={"Cache-Control": "max-age=300"})


def parse_group_by(value: str | None) -> tuple[str, ...]:
    """Comma-separated subset of province, category, status; 400 naming group_by."""
    if value is None or not value.strip():
        return ()
    groups: list[str] = []
    for part in value.split(","):
        part = part.strip()
        if part not in STATS_GROUPS:
            raise InvalidParameter(
                "group_by", f"unknown group {part!r}; use any of {', '.join(STATS_GROUPS)}"
            )
        if part not in groups:
            groups.append(part)
    return tuple(groups)


class StatsCache:
    """Counts per group_by, recomputed at most every STATS_TTL_SECONDS, one query at a time.

    Once an answer exists, an expired one is still served while a single refresh runs, so an
    expiry never queues every request behind a GROUP BY over millions of rows.
    """

    def __init__(self) -> None:
        self._answers: dict[tuple[str, ...], tuple[float, bytes]] = {}
        self._refreshing: dict[tuple[str, ...], asyncio.Task[bytes]] = {}

    async def get(self, groups: tuple[str, ...], compute: Callable[[], Awaitable[bytes]]) -> bytes:
        """The answer for groups: cached, stale while refreshing, or computed now."""
        hit = self._answers.get(groups)
        if hit is not None and time.monotonic() - hit[0] < STATS_TTL_SECONDS:
            return hit[1]
        task = self._refreshing.get(groups)
        if task is None:
            task = asyncio.create_task(self._refresh(groups, compute))
            # A refresh nobody waits for may fail (e.g. at shutdown); its error is dropped.
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            self._refreshing[groups] = task
        if hit is not None:
            return hit[1]
        return await asyncio.shield(task)

    async def _refresh(
        self, groups: tuple[str, ...], compute: Callable[[], Awaitable[bytes]]
    ) -> bytes:
        try:
            body = await compute()
            self._answers[groups] = (time.monotonic(), body)
            return body
        finally:
            self._refreshing.pop(groups, None)


_STATS_CACHE: web.AppKey[StatsCache] = web.AppKey("stats_cache", StatsCache)


async def stats(request: web.Request) -> web.Response:
    """GET /v1/stats?group_by=province,category,status: record counts."""
    groups = parse_group_by(request.query.get("group_by"))
    store = request.app[STORE]

    async def compute() -> bytes:
        # Column names come from the fixed STATS_GROUPS whitelist, never from the request.
        columns = ", ".join(groups)
        if groups:
            sql = (
                f"SELECT {columns}, count(*) AS count FROM records "
                f"GROUP BY {columns} ORDER BY {columns}"
            )
        else:
            sql = "SELECT count(*) AS count FROM records"
        rows = await store.fetch(sql)
        items = [{**{g: row[g] for g in groups}, "count": int(row["count"])} for row in rows]
        return canonical_bytes(
            {"group_by": list(groups), "total": sum(i["count"] for i in items), "items": items}
        )

    body = await request.app[_STATS_CACHE].get(groups, compute)
    return web.Response(body=body, content_type="application/json")


# ---------------------------------------------------------------------------------------------
# Wiring


async def _query_context(app: web.Application) -> AsyncIterator[None]:
    """Set up the receipt signer and alias table at start, unless a test or benchmark did."""
    settings = app[SETTINGS]
    if RECEIPTS not in app:
        app[RECEIPTS] = ReceiptSigner(settings.signer)
    if ALIASES not in app:
        app[ALIASES] = AliasTable.load(settings.aliases_file)
    yield


def setup_routes(app: web.Application) -> None:
    """Add the public query routes, the rate limiter and the context that loads their state."""
    if RATE_LIMITER not in app:
        app[RATE_LIMITER] = RateLimiter.from_env()
    app[_STATS_CACHE] = StatsCache()
    app.middlewares.append(rate_limit_middleware)
    app.cleanup_ctx.append(_query_context)
    app.router.add_get("/v1/physicians", search_physicians, name="search_physicians")
    app.router.add_get("/v1/physicians/{cert_no}/fhir", physician_fhir, name="physician_fhir")
    app.router.add_get(
        "/v1/institutions/{org_code}/physicians", institution_roster, name="institution_roster"
    )
    app.router.add_post("/v1/verify", verify, name="verify")
    app.router.add_get("/.well-known/regsync/hub-key", hub_key, name="hub_key")
    app.router.add_get("/v1/stats", stats, name="stats")
