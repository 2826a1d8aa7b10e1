"""Employer monitoring (CONTRACT §7): /v1/watch/* for institutions holding an API key.

Routes only: the store is national_hub.notify (through NOTIFY, a notify.access.WatchAccess);
its domain errors are answered here (403 another institution's, 404 none such, 400 naming the
field).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from national_hub.errors import (
    Conflict,
    Forbidden,
    InvalidParameter,
    NotFound,
    Unauthorized,
    UnprocessableBody,
)
from national_hub.notify.institutions import Institution
from national_hub.notify.watchlist import MAX_CSV_BYTES, Enrolment, WatchLimitReached, csv_cert_nos
from national_hub.notify.webhooks import BadWebhookUrl, NoSuchThing, NotYours, TooManyWebhooks
from national_hub.web import answers
from national_hub.web.appkeys import INDEX, NOTIFY, SETTINGS
from national_hub.web.params import answer_response, bearer_secret, cert_no_param, int_param
from schemas.errors import SchemaError

M = TypeVar("M", bound=BaseModel)

# 50,000 numbers as JSON are about 900 KiB; the hub's other bodies stay under 64 KiB.
MAX_JSON_BYTES = 2 * 1024 * 1024
PAGE_MAX = 1000


async def require_institution(request: web.Request) -> Institution:
    """The institution whose key is presented (Authorization: Bearer <key>).

    Throttled as the ops token is (web.params.require_ops): a locked-out client is refused
    (429) before its key is read, and every key presented and refused counts a failure.
    """
    key, refused = bearer_secret(
        request, "this endpoint needs an institution key: Authorization: Bearer <key>"
    )
    inst = await request.app[NOTIFY].authenticate(key)
    if inst is None:
        refused()
        raise Unauthorized("the key presented is not an institution key in force")
    return inst


async def _read_bounded(request: web.Request, limit: int) -> bytes:
    """The body, refused (413) past limit bytes without reading the rest."""
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(limit, request.content_length)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise web.HTTPRequestEntityTooLarge(limit, size)
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(model: type[M], raw: bytes, field: str) -> M:
    """A JSON body as the model: 400 if it is not a JSON object, 422 naming each bad field."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidParameter.for_field(field, "the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise InvalidParameter.for_field(field, "the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        schema = SchemaError.from_validation_error(exc)
        raise UnprocessableBody(schema.message, schema.details) from None


def _ts(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def _maybe_ts(value: float | None) -> datetime | None:
    return None if value is None else _ts(value)


def _known(request: web.Request) -> Callable[[Sequence[str]], set[str]]:
    index = request.app[INDEX]

    def known(certs: Sequence[str]) -> set[str]:
        # The serving index holds every registration shown nationally; asked in chunks so a
        # 50,000-number enrolment is a few hundred indexed reads, not one huge statement.
        found: set[str] = set()
        for i in range(0, len(certs), 500):
            found.update(r["cert_no"] for r in index.records_sync(certs[i : i + 500]))
        return found

    return known


async def _enrol(request: web.Request, inst: Institution, certs: Sequence[str]) -> Enrolment:
    try:
        return await request.app[NOTIFY].enrol(inst.org_code, certs, _known(request))
    except WatchLimitReached as exc:
        raise Conflict(str(exc), [{"field": "cert_nos", "message": str(exc)}]) from None


def _enrolled(e: Enrolment) -> answers.Enrolled:
    return answers.Enrolled(added=e.added, already=e.already, unknown=e.unknown, invalid=e.invalid)


async def add_certificates(request: web.Request) -> web.Response:
    """POST /v1/watch/certificates {"cert_nos": [...]}: enrol certificates."""
    inst = await require_institution(request)
    body = _parse(answers.CertNos, await _read_bounded(request, MAX_JSON_BYTES), "cert_nos")
    return answer_response(_enrolled(await _enrol(request, inst, body.cert_nos)))


async def add_certificates_csv(request: web.Request) -> web.Response:
    """POST /v1/watch/certificates.csv (text/csv, one number a row): enrol; bad rows named."""
    inst = await require_institution(request)
    raw = await _read_bounded(request, MAX_CSV_BYTES)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Spreadsheets in China often save CSV as GB18030; numbers read the same either way.
        text = raw.decode("gb18030", errors="replace")
    rows, rejects = csv_cert_nos(text)
    result = await _enrol(request, inst, [c for _, c in rows])
    answer = answers.EnrolledCsv(
        **_enrolled(result).model_dump(),
        rejects=[answers.CsvReject(line=n, reason=r) for n, r in rejects],
    )
    return answer_response(answer)


async def list_certificates(request: web.Request) -> web.Response:
    """GET /v1/watch/certificates?after=CERT_NO&limit=N: the watch list, in number order."""
    inst = await require_institution(request)
    after = request.query.get("after", "")
    if after:
        after = cert_no_param("after", after)
    limit = int_param(request, "limit", 1000, 1, PAGE_MAX)
    items, count, roster = await request.app[NOTIFY].watched(inst.org_code, after, limit)
    answer = answers.WatchList(
        items=[answers.WatchedCert(cert_no=c, enrolled_at=_ts(t)) for c, t in items],
        next_cursor=items[-1][0] if len(items) == limit else None,
        count=count,
        roster=roster,
    )
    return answer_response(answer)


async def remove_certificate(request: web.Request) -> web.Response:
    """DELETE /v1/watch/certificates/{cert_no}: stop watching it."""
    inst = await require_institution(request)
    cert_no = cert_no_param("cert_no", request.match_info["cert_no"])
    if not await request.app[NOTIFY].unwatch(inst.org_code, cert_no):
        raise NotFound(f"certificate {cert_no} is not on your watch list")
    return web.Response(status=204)


async def set_roster(request: web.Request) -> web.Response:
    """PUT /v1/watch/roster {"enabled": bool}: watch the institution's roster, or stop."""
    inst = await require_institution(request)
    body = _parse(answers.RosterSwitch, await _read_bounded(request, 1024), "enabled")
    await request.app[NOTIFY].set_roster(inst.org_code, body.enabled)
    return answer_response(answers.RosterState(enabled=body.enabled))


def _owned(exc: Exception) -> Exception:
    """The HTTP error of a notify lookup that failed."""
    if isinstance(exc, NotYours):
        return Forbidden(str(exc))
    return NotFound(str(exc))


async def create_webhook(request: web.Request) -> web.Response:
    """POST /v1/watch/webhooks {"url": ...}: a webhook and its secret, shown once."""
    inst = await require_institution(request)
    body = _parse(answers.WebhookUrl, await _read_bounded(request, 4096), "url")
    try:
        hook = await request.app[NOTIFY].create_webhook(inst.org_code, body.url)
    except BadWebhookUrl as exc:
        raise InvalidParameter.for_field("url", str(exc)) from None
    except TooManyWebhooks as exc:
        raise Conflict(str(exc)) from None
    assert hook.secret is not None
    answer = answers.WebhookCreated(
        id=hook.id, url=hook.url, created_at=_ts(hook.created_at), secret=hook.secret
    )
    return answer_response(answer, status=201)


async def list_webhooks(request: web.Request) -> web.Response:
    """GET /v1/watch/webhooks: the live webhooks (no secrets)."""
    inst = await require_institution(request)
    hooks = await request.app[NOTIFY].webhooks(inst.org_code)
    items = [answers.Webhook(id=h.id, url=h.url, created_at=_ts(h.created_at)) for h in hooks]
    return answer_response(answers.Webhooks(items=items))


async def delete_webhook(request: web.Request) -> web.Response:
    """DELETE /v1/watch/webhooks/{id}: stop delivering to it."""
    inst = await require_institution(request)
    try:
        await request.app[NOTIFY].delete_webhook(inst.org_code, request.match_info["id"])
    except (NotYours, NoSuchThing) as exc:
        raise _owned(exc) from None
    return web.Response(status=204)


def _delivery(row: dict[str, Any]) -> answers.Delivery:
    owed = row["state"] in ("pending", "retrying")
    return answers.Delivery(
        id=row["id"],
        notification_id=row["notification_id"],
        cert_no=row["cert_no"],
        state=row["state"],
        attempts=row["attempts"],
        next_attempt_at=_ts(row["next_at"]) if owed else None,
        last_status=row["last_status"],
        last_error=row["last_error"],
        delivered_at=_maybe_ts(row["delivered_at"]),
        created_at=_ts(row["created_at"]),
        log=[
            answers.DeliveryAttempt(
                at=_ts(a["at"]), status=a["status"], error=a["error"], duration_ms=a["duration_ms"]
            )
            for a in row["log"]
        ],
    )


async def list_deliveries(request: web.Request) -> web.Response:
    """GET /v1/watch/deliveries?webhook=ID&after=N&limit=N: a webhook's delivery log."""
    inst = await require_institution(request)
    webhook = request.query.get("webhook")
    if not webhook:
        raise InvalidParameter.for_field("webhook", "name the webhook: ?webhook=<id>")
    after = int_param(request, "after", 0, 0, 2**62)
    limit = int_param(request, "limit", 100, 1, PAGE_MAX)
    try:
        rows = await request.app[NOTIFY].deliveries(inst.org_code, webhook, after, limit)
    except (NotYours, NoSuchThing) as exc:
        raise _owned(exc) from None
    answer = answers.Deliveries(
        webhook=webhook,
        items=[_delivery(r) for r in rows],
        next_cursor=str(rows[-1]["id"]) if len(rows) == limit else None,
    )
    return answer_response(answer)


async def redeliver(request: web.Request) -> web.Response:
    """POST /v1/watch/deliveries/{id}/redeliver: put one delivery back in line now."""
    inst = await require_institution(request)
    raw = request.match_info["id"]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise InvalidParameter.for_field("id", "must be a delivery id (a whole number)")
    try:
        await request.app[NOTIFY].redeliver(inst.org_code, int(raw))
    except (NotYours, NoSuchThing) as exc:
        raise _owned(exc) from None
    return answer_response(answers.Redelivery(id=int(raw), state="pending"), status=202)


async def feed(request: web.Request) -> web.Response:
    """GET /v1/watch/feed?after=CURSOR&wait=SECONDS&limit=N: notifications after the cursor,
    in order; with wait, answered as soon as one comes (or empty when the wait is over)."""
    inst = await require_institution(request)
    after = int_param(request, "after", 0, 0, 2**62)
    tuning = request.app[SETTINGS].tuning.notify
    wait = int_param(request, "wait", 0, 0, int(tuning.feed_wait_max_s))
    limit = int_param(request, "limit", 100, 1, PAGE_MAX)
    items = await request.app[NOTIFY].feed(inst.org_code, after, limit, float(wait))
    answer = answers.Feed(
        items=[answers.Notification.model_validate(body) for _, body in items],
        next_cursor=str(items[-1][0] if items else after),
    )
    return answer_response(answer)


# Every route here, by name: none waits in the public reads' admission (middleware.EXEMPT_ROUTES).
# They are few callers behind a key and the auth throttle, and a feed's long-poll would hold a
# place for its whole wait.
ROUTE_NAMES = frozenset(
    {
        "watch_add",
        "watch_csv",
        "watch_list",
        "watch_remove",
        "watch_roster",
        "webhook_create",
        "webhook_list",
        "webhook_delete",
        "delivery_list",
        "delivery_redeliver",
        "watch_feed",
    }
)


def add_routes(app: web.Application) -> None:
    """Add the /v1/watch/* routes."""
    app.router.add_post("/v1/watch/certificates", add_certificates, name="watch_add")
    app.router.add_post("/v1/watch/certificates.csv", add_certificates_csv, name="watch_csv")
    app.router.add_get("/v1/watch/certificates", list_certificates, name="watch_list")
    app.router.add_delete(
        "/v1/watch/certificates/{cert_no}", remove_certificate, name="watch_remove"
    )
    app.router.add_put("/v1/watch/roster", set_roster, name="watch_roster")
    app.router.add_post("/v1/watch/webhooks", create_webhook, name="webhook_create")
    app.router.add_get("/v1/watch/webhooks", list_webhooks, name="webhook_list")
    app.router.add_delete("/v1/watch/webhooks/{id}", delete_webhook, name="webhook_delete")
    app.router.add_get("/v1/watch/deliveries", list_deliveries, name="delivery_list")
    app.router.add_post("/v1/watch/deliveries/{id}/redeliver", redeliver, name="delivery_redeliver")
    app.router.add_get("/v1/watch/feed", feed, name="watch_feed")
