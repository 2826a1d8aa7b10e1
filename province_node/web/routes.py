"""The node's operator HTTP API (CONTRACT §4): the handlers and the routes that reach them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from aiohttp import web

from province_node import idempotency, openapi, outbox, registration_reads
from province_node import registry as reg
from province_node.auth import ANY_ROLE, READERS, WRITERS, Role, bearer_digest
from province_node.cursor import decode_cursor, encode_cursor
from province_node.errors import BadRequest, InvalidRequest, NotFound
from province_node.idempotency import Claim, StoredResponse
from province_node.metrics import CONTENT_TYPE
from province_node.requests import parse_registration, parse_step
from province_node.web import writes
from province_node.web.appkeys import AUTH, METRICS, REGISTRY, RELAY, SETTINGS
from province_node.web.middleware import payload_too_large
from province_node.web.sync_facts import instant, node_sync_status
from schemas.openapi import Answer
from schemas.openapi import serve as serve_openapi
from schemas.sync_token import SyncToken
from schemas.throttle import client_key
from schemas.timestamps import utc_now
from schemas.vocab import Status

DEFAULT_LIMIT = 20
_STATUSES = frozenset(s.value for s in Status)
MAX_LIMIT = 100
JSON = "application/json"


def add_routes(app: web.Application) -> None:
    """Every route of the node's API."""
    app.router.add_post("/v1/registrations", post_registration)
    app.router.add_get("/v1/registrations", search_registrations)
    app.router.add_get("/v1/registrations/{cert_no}", get_registration)
    app.router.add_post("/v1/registrations/{cert_no}/events", post_event)
    app.router.add_get("/v1/sync/status", sync_status)
    app.router.add_get("/v1/sync/records/{cert_no}", sync_record)
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/openapi.json", serve_openapi(openapi.document))


# -- request helpers -----------------------------------------------------------------------------


def _role(request: web.Request, allowed: frozenset[Role]) -> Role:
    auth = request.app[AUTH]
    return auth.require(request.headers.get("Authorization"), allowed, client_key(request.remote))


async def _read_json(request: web.Request) -> Any:
    limit = request.app[SETTINGS].max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise payload_too_large(request)
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise payload_too_large(request) from None
    if not raw.strip():
        raise BadRequest("the request body is empty; send a JSON object")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"malformed JSON: {exc}") from None


def _claim(request: web.Request, body: Any) -> Claim | None:
    key = idempotency.parse_key(request.headers.get(idempotency.HEADER))
    if key is None:
        return None
    client = bearer_digest(request.headers.get("Authorization"))
    return Claim(client, key, idempotency.fingerprint(request.method, request.path, body))


def _respond(answer: StoredResponse, replayed: bool) -> web.Response:
    headers = dict(answer.headers)
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return web.Response(status=answer.status, body=answer.body, content_type=JSON, headers=headers)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type=JSON, headers=headers)


def _answer(answer: Answer) -> web.Response:
    """An answer model as JSON, serialised by the model (…T04:10:00.123Z timestamps)."""
    return web.Response(body=answer.model_dump_json().encode("utf-8"), content_type=JSON)


# -- writes --------------------------------------------------------------------------------------


async def post_registration(request: web.Request) -> web.Response:
    """POST /v1/registrations: first registration, re-registration or transfer-in."""
    role = _role(request, WRITERS)
    body = await _read_json(request)
    claim = _claim(request, body)
    req = parse_registration(body)
    return _respond(*await writes.register(request.app, req, role.value, claim))


async def post_event(request: web.Request) -> web.Response:
    """POST /v1/registrations/{cert_no}/events: one lifecycle step."""
    role = _role(request, WRITERS)
    cert_no = request.match_info["cert_no"]
    body = await _read_json(request)
    claim = _claim(request, body)
    step = parse_step(body)
    return _respond(*await writes.step(request.app, cert_no, step, role.value, claim))


# -- reads ---------------------------------------------------------------------------------------


def _record_view(stored: reg.StoredRecord, role: Role, province: str) -> dict[str, Any]:
    view: dict[str, Any] = {
        "record": stored.record,
        "record_version": stored.record_version,
        "sync_token": str(SyncToken(province, stored.latest_seq)),
    }
    # The ID number stays with the province's own operators; the hub never sees it.
    if role in READERS:
        view["id_number"] = stored.id_number
    return view


async def get_registration(request: web.Request) -> web.Response:
    """GET /v1/registrations/{cert_no}: the local record, with the ID number for operators."""
    role = _role(request, ANY_ROLE)
    cert_no = request.match_info["cert_no"]
    province = request.app[SETTINGS].province
    stored = await request.app[REGISTRY].read(registration_reads.get_record, cert_no)
    if stored is None:
        raise NotFound(f"no registration with cert_no {cert_no} in province {province}")
    token = str(SyncToken(province, stored.latest_seq))
    return _json(_record_view(stored, role, province), headers={"X-Sync-Token": token})


def _limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_LIMIT:
        raise InvalidRequest.for_field("limit", f"must be an integer from 1 to {MAX_LIMIT}")
    return value


async def search_registrations(request: web.Request) -> web.Response:
    """GET /v1/registrations?name=&institution=&status=&limit=&cursor=: local search."""
    role = _role(request, ANY_ROLE)
    query = request.query
    limit = _limit(query.get("limit"))
    status = query.get("status") or None
    if status is not None and status not in _STATUSES:
        raise InvalidRequest.for_field("status", f"must be one of {', '.join(Status)}")
    after = decode_cursor(query.get("cursor"))
    name = (query.get("name") or "").strip() or None
    institution = (query.get("institution") or "").strip() or None
    if institution is not None and len(institution) == 18 and institution.isalnum():
        institution = institution.upper()  # credit codes are stored upper-case
    rows = await request.app[REGISTRY].read(
        lambda conn: registration_reads.search(
            conn,
            name=name,
            institution=institution,
            status=status,
            after=after,
            limit=limit + 1,
        )
    )
    province = request.app[SETTINGS].province
    items = rows[:limit]
    next_cursor = encode_cursor(items[-1].cert_no) if len(rows) > limit else None
    return _json(
        {"items": [_record_view(r, role, province) for r in items], "next_cursor": next_cursor}
    )


async def sync_status(request: web.Request) -> web.Response:
    """GET /v1/sync/status: outbox position and Kafka reachability."""
    _role(request, ANY_ROLE)
    return _answer(await node_sync_status(request.app))


async def sync_record(request: web.Request) -> web.Response:
    """GET /v1/sync/records/{cert_no}: whether the latest event of a record reached Kafka."""
    _role(request, ANY_ROLE)
    cert_no = request.match_info["cert_no"]
    latest = await request.app[REGISTRY].read(outbox.latest_for, cert_no)
    if latest is None:
        return _answer(
            openapi.SyncRecord(
                exists=False,
                latest_seq=None,
                record_version=None,
                committed_at=None,
                published=False,
                published_at=None,
                partition=None,
                offset=None,
            )
        )
    return _answer(
        openapi.SyncRecord(
            exists=True,
            latest_seq=latest.seq,
            record_version=latest.record_version,
            committed_at=instant(latest.committed_at),
            published=latest.published_at is not None,
            published_at=instant(latest.published_at),
            partition=latest.partition,
            offset=latest.offset,
        )
    )


async def metrics_handler(request: web.Request) -> web.Response:
    """GET /metrics: Prometheus text; the outbox gauges are read at scrape time."""
    metrics = request.app[METRICS]
    stats = await request.app[RELAY].stats()
    metrics.outbox_backlog.set(stats.committed_seq - stats.published_seq)
    age = 0.0
    if stats.oldest_unpublished_at is not None:
        oldest = datetime.fromisoformat(stats.oldest_unpublished_at)
        age = max(0.0, (utc_now() - oldest).total_seconds())
    metrics.oldest_unpublished_age.set(age)
    response = web.Response(body=metrics.render())
    response.headers["Content-Type"] = CONTENT_TYPE
    return response


async def healthz(request: web.Request) -> web.Response:
    """GET /healthz: liveness; no token needed."""
    return _answer(openapi.Health(status="ok", province=request.app[SETTINGS].province))
