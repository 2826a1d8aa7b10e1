"""Small HTTP helpers shared by the hub's route modules: JSON bodies, the ops token, params."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

import orjson
from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError

from national_hub.errors import Forbidden, InvalidParameter, TooManyAuthFailures, Unauthorized
from national_hub.web.appkeys import AUTH_THROTTLE, SETTINGS
from schemas.record import CertNo
from schemas.sync_token import SyncToken
from schemas.throttle import client_key, forwarded_client
from schemas.timestamps import format_utc


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def json_response(
    body: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """JSON with the wire's timestamp form (…T04:10:00.123Z)."""
    return web.Response(
        body=orjson.dumps(body, default=_default, option=orjson.OPT_PASSTHROUGH_DATETIME),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def answer_body(answer: BaseModel) -> dict[str, Any]:
    """An answer model's JSON members (wire timestamps; members it leaves out when None are out)."""
    return answer.model_dump(mode="json")


def answer_response(
    answer: BaseModel,
    *,
    status: int = 200,
    content_type: str = "application/json",
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """An answer model as JSON, serialised by the model itself (…T04:10:00.123Z timestamps)."""
    return web.Response(
        body=answer.model_dump_json().encode("utf-8"),
        status=status,
        content_type=content_type,
        headers=headers,
    )


def request_client(request: web.Request) -> str:
    """Who a request is from, for the rate limit and the auth lockout: the peer's bucket, or,
    behind a proxy hub.trusted_proxies names (the replicas' balancer, which otherwise makes
    every client one), the bucket of the client it forwarded for."""
    settings = request.app.get(SETTINGS)
    peer = request.remote
    if settings is not None and settings.trusted_proxies:
        forwarded = request.headers.getall("X-Forwarded-For", ())
        peer = forwarded_client(peer, forwarded, settings.trusted_proxies)
    return client_key(peer)


def bearer_secret(request: web.Request, missing: str) -> tuple[str, Callable[[], None]]:
    """The secret of `Authorization: Bearer <secret>`, and a callback that counts it refused.

    A client the AUTH_THROTTLE has locked out is refused (429) before its secret is read; a
    missing or malformed header is 401 with the message `missing`, and counts as one failure
    when a header was sent at all (sending none does not).
    """
    throttle = request.app.get(AUTH_THROTTLE)
    client = request_client(request)
    if throttle is not None and (wait := throttle.retry_after(client)):
        raise TooManyAuthFailures.retry_after(wait)

    def refused() -> None:
        if throttle is not None:
            throttle.failed(client)

    header = request.headers.get("Authorization")
    scheme, _, secret = (header or "").partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        if header is not None:
            refused()
        raise Unauthorized(missing)
    return secret, refused


def require_ops(request: web.Request) -> None:
    """Allow only a Bearer token whose sha256 is hub.ops_token_sha256 (throttled: see
    bearer_secret; a token presented and refused counts as one failure)."""
    token, refused = bearer_secret(
        request, "this endpoint needs the ops token: Authorization: Bearer <token>"
    )
    digest = hashlib.sha256(token.encode("utf-8")).hexdigest().encode("ascii")
    # Constant time: the comparison takes as long whatever prefix the digests share.
    if not hmac.compare_digest(digest, request.app[SETTINGS].ops_token_sha256.encode("ascii")):
        refused()
        raise Forbidden("the token presented is not the ops token")


def int_param(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    """An integer query parameter in [lo, hi]; 400 naming the parameter otherwise."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidParameter.for_field(name, "must be an integer") from None
    if not lo <= value <= hi:
        raise InvalidParameter.for_field(name, f"must be between {lo} and {hi}")
    return value


def sync_token_param(request: web.Request, name: str) -> SyncToken | None:
    """A "<province>:<seq>" sync token from the query; 400 naming the parameter if malformed.

    Matched whole, like every value that enters the hub: "50:3\n" is refused, not trimmed.
    """
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        token = SyncToken.parse(raw)
    except ValueError:
        raise InvalidParameter.for_field(
            name, 'must be "<province>:<seq>", e.g. "50:1234"'
        ) from None
    if token.province not in request.app[SETTINGS].provinces:
        raise InvalidParameter.for_field(
            name, f"province {token.province} is not in the federation"
        )
    if token.seq < 1:
        raise InvalidParameter.for_field(name, "seq must be at least 1")
    return token


def checked_param(adapter: TypeAdapter[str], name: str, raw: str) -> str:
    """A path or query value checked by a schemas field type; 400 naming the parameter."""
    try:
        return adapter.validate_python(raw)
    except ValidationError as exc:
        raise InvalidParameter.for_field(name, exc.errors()[0]["msg"]) from None


_CERT_NO: TypeAdapter[str] = TypeAdapter(CertNo)


def cert_no_param(name: str, raw: str) -> str:
    """A certificate number (schemas' CertNo: exactly 15 ASCII digits); 400 naming it."""
    return checked_param(_CERT_NO, name, raw)
