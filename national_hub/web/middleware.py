"""The hub's middleware: the one error body (an HTML page on the public site's paths), the
public endpoints' and pages' rate limit weighed by cost, the public reads' bounded admission
with expensive reads a few at a time, and the browser-hardening headers of every answer."""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler

from national_hub.errors import Overloaded, ServiceUnavailable, StoreError
from national_hub.ingest.names import query_key
from national_hub.sync.node_answers import NODES_ASKED, NodesAsked
from national_hub.tuning import WebTuning
from national_hub.web import watch_routes
from national_hub.web.appkeys import ADMISSION, HEAVY, METRICS, RATE_LIMITER, SETTINGS
from national_hub.web.pages import page_admitted_routes, page_exempt_routes
from national_hub.web.pages.error_pages import render_error_page
from national_hub.web.params import json_response, request_client
from schemas import service
from schemas.errors import DomainErrors, HttpError, SchemaError

log = logging.getLogger(__name__)

# Paths the public may call without a token: these are rate limited per client.
PUBLIC_PREFIXES = (
    "/v1/physicians",
    "/v1/institutions/",
    "/v1/verify",
    "/v1/stats",
    "/v1/sync/status",
    "/v1/sync/explain",
    "/.well-known/regsync/",
    "/v1/suggest",
)
# The public site's pages (CONTRACT §5a): rate limited like the API, and their errors are
# pages, not JSON. The physician pages are /physicians/{cert_no}.
PAGE_PATHS = frozenset({"/", "/verify", "/receipt", "/partials/freshness"})
PAGE_PREFIX = "/physicians/"
# Paths that answer JSON (or files) even to a browser asking for HTML.
_MACHINE_PREFIXES = (
    "/v1/",
    "/.well-known/",
    "/static/",
    "/openapi.json",
    "/metrics",
    "/healthz",
    "/readyz",
    "/dashboard",
)


def is_page_path(path: str) -> bool:
    """Whether the path is one of the public site's pages."""
    return path in PAGE_PATHS or path.startswith(PAGE_PREFIX)


def is_public_path(path: str) -> bool:
    """Whether the path is rate limited per client: the public API and the pages."""
    return path.startswith(PUBLIC_PREFIXES) or is_page_path(path)


def wants_page(request: web.Request) -> bool:
    """Whether an error is answered as a page: on the site's paths, and for an unknown
    address a browser asked for (it sends Accept: text/html), outside the API's paths."""
    path = request.path
    if is_page_path(path):
        return True
    if path.startswith(_MACHINE_PREFIXES):
        return False
    return "text/html" in request.headers.get("Accept", "")


# Domain errors carry no HTTP status; this is the hub's answer to each (a subclass is answered as
# its nearest listed base). Any other exception, an unlisted RegsyncError included, is a bug of
# ours: a 500 naming the error id under which its traceback is logged.
DOMAIN_ERRORS: DomainErrors = {
    SchemaError: (400, "invalid_request"),
    StoreError: (503, "store_unavailable"),
}

# aiohttp's own refusals (no route, wrong method, body too large, the rate limiter's 429).
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
# The headers of aiohttp's refusals that the answer keeps.
_HTTP_HEADERS = frozenset({"allow", "retry-after"})


def error_response(exc: HttpError) -> web.Response:
    """The one error body shape of the hub; a 401 carries the Bearer challenge."""
    headers = dict(exc.headers)
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return json_response(exc.body(), status=exc.status, headers=headers)


def _from_http(request: web.Request, exc: web.HTTPException) -> HttpError:
    if exc.status == 404:
        message = f"no such resource: {request.method} {request.path}"
    elif exc.status == 405:
        message = f"method {request.method} is not allowed on {request.path}"
    else:
        message = exc.reason
    headers = {k: v for k, v in exc.headers.items() if k.lower() in _HTTP_HEADERS}
    code = _HTTP_CODES.get(exc.status, "http_error")
    return HttpError(message, status=exc.status, code=code, headers=headers)


def _page_or_json(request: web.Request, exc: HttpError) -> web.Response:
    """The error page on the site's paths (the JSON body if the page itself cannot be rendered:
    the person still gets the status, and the failure is logged); else the JSON body."""
    if not wants_page(request):
        return error_response(exc)
    try:
        return render_error_page(request, exc)
    except Exception:
        log.exception("the error page for %s %s could not be rendered", exc.status, request.path)
        return error_response(exc)


# Every failure as one answer: the error page on the site's paths, else the JSON body; only a
# bug of ours may ever give 500.
error_middleware = service.error_middleware(
    owner="hub",
    logger=log,
    domain_errors=DOMAIN_ERRORS,
    from_http=_from_http,
    render=_page_or_json,
)


@dataclass(frozen=True, slots=True)
class Cost:
    """What a public request costs: rate-limit tokens, and whether it is heavy work."""

    tokens: float
    heavy: bool


def request_cost(request: web.Request, tuning: WebTuning) -> Cost:
    """The cost of a public request, from its path and query alone (hub.tuning.web).

    Heavy, and expensive_cost tokens: an explanation by cert_no without province (it asks
    every node), a pinyin name search shorter than broad_pinyin_letters (a prefix such as "zh"
    matches much of the registry). Heavy, search_cost tokens: every other search and roster.
    Everything else: 1 token, and never waits behind heavy work. A lookup or verify whose
    explanation turned out to ask every node is charged the rest of expensive_cost afterwards.
    """
    path, query = request.path, request.query
    if path == "/" and not (query.get("name", "").strip() or query.get("institution", "").strip()):
        # The empty form, or one refused before any query runs.
        return Cost(1.0, False)
    if path == "/v1/sync/explain":
        every_node = "cert_no" in query and not query.get("province")
        return Cost(tuning.expensive_cost, True) if every_node else Cost(1.0, False)
    # The search page runs the API's search: the same cost.
    if path in ("/v1/physicians", "/"):
        name = query.get("name")
        if name and name.strip():
            column, key = query_key(name)
            if column == "name_pinyin" and len(key) < tuning.broad_pinyin_letters:
                return Cost(tuning.expensive_cost, True)
        return Cost(tuning.search_cost, True)
    if path.startswith("/v1/institutions/"):
        return Cost(tuning.search_cost, True)
    return Cost(1.0, False)


@web.middleware
async def rate_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The public endpoints: per-client tokens by cost (429 with Retry-After when over the
    budget), and the cost of asking every node charged to the request that caused it."""
    if not is_public_path(request.path):
        return await handler(request)
    tuning = request.app[SETTINGS].tuning.web
    cost = request_cost(request, tuning)
    limiter = request.app.get(RATE_LIMITER)
    client = request_client(request)
    if limiter is not None:
        wait = limiter.acquire(client, cost.tokens)
        if wait > 0:
            delay = limiter.delay_for(wait)
            if delay > 0:
                limiter.delayed += 1
                try:
                    await asyncio.sleep(delay)
                finally:
                    limiter.delayed -= 1
            retry_after = max(1, math.ceil(wait - delay))
            # The hub's error middleware renders this as the error body and keeps Retry-After.
            raise web.HTTPTooManyRequests(
                reason=f"too many requests from this client; retry after {retry_after} s",
                headers={"Retry-After": str(retry_after)},
            )
    asked = NodesAsked()
    token = NODES_ASKED.set(asked)
    try:
        return await handler(request)
    finally:
        NODES_ASKED.reset(token)
        if limiter is not None and asked.fan_outs and cost.tokens < tuning.expensive_cost:
            limiter.charge(client, tuning.expensive_cost - cost.tokens)


# The routes (by name) that wait their turn in the admission: every public read whose answer
# costs the store or the nodes work (the site's pages declare theirs in their modules).
# Exempt, answered whatever the load: the probes and /metrics (needed most when the hub is
# overloaded); the document, the dashboard, its files and the hub's key (constant answers);
# sync status and lag history (answered from memory, and what operators watch during an
# overload); the ops routes (few callers behind a token and the auth throttle, and operators
# must be able to act, e.g. pause ingest, while the public overloads the hub).
ADMITTED_ROUTES = frozenset(
    {
        "physician",
        "history",
        "physician_fhir",
        "search_physicians",
        "institution_roster",
        "verify",
        "stats",
        "sync_explain",
    }
    | page_admitted_routes()
)
EXEMPT_ROUTES = frozenset(
    {
        "healthz",
        "readyz",
        "metrics",
        "openapi",
        "dashboard",
        "static",
        "hub_key",
        "sync_status",
        "lag_history",
        "dead_letters",
        "anomalies",
        "ops_ingest",
        "ops_ingest_set",
        "ops_snapshot",
        "ops_snapshot_start",
    }
    | page_exempt_routes()
    # Employer monitoring: institutions behind a key; the feed long-polls.
    | watch_routes.ROUTE_NAMES
)


@web.middleware
async def admission_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The public reads: at most max_in_flight served at once, max_queued more waiting their
    turn, anyone else answered 503 overloaded with Retry-After (hub.tuning.web); and among the
    admitted, heavy requests a few at a time.

    A handler that waits without working (a lookup's ?min_token=&wait=) frees its place while
    it waits: national_hub.web.admission.released.
    """
    if request.match_info.route.name not in ADMITTED_ROUTES:
        return await handler(request)
    app = request.app
    heavy = request_cost(request, app[SETTINGS].tuning.web).heavy
    try:
        async with app[ADMISSION].admitted():
            if heavy:
                # Inside the admission, so heavy requests wait in its bounded queue too. At most
                # heavy_concurrency run at once, so the store's other readers stay free for
                # lookups; the rest wait here, on the event loop, holding no thread (but a place:
                # their wait is latency like any other).
                async with app[HEAVY]:
                    return await handler(request)
            return await handler(request)
    except Overloaded as exc:
        app[METRICS].requests_shed.labels(exc.reason).inc()
        # The hub's error middleware renders this as the error body and keeps Retry-After.
        raise ServiceUnavailable(
            str(exc), code="overloaded", headers={"Retry-After": str(exc.retry_after_s)}
        ) from None
