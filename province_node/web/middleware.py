"""The node's error middleware: every failure becomes the one error body (CONTRACT §4), or on
the console's paths the one error page."""

from __future__ import annotations

import logging

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from province_node.errors import MethodNotAllowed, NotFound, PayloadTooLarge
from province_node.web.appkeys import SETTINGS
from province_node.web.console.error_pages import render_error_page
from province_node.web.console.setup import is_console_path
from schemas import service
from schemas.errors import DomainErrors, HttpError

log = logging.getLogger(__name__)

# Domain errors carry no HTTP status; this is the node's answer to each (a subclass is answered
# as its nearest listed base). None reaches a handler today: the registry answers with the node's
# HTTP errors (Unavailable, TooManyRequests) and request parsing turns a SchemaError into
# InvalidRequest. Any other exception, an unlisted RegsyncError included, is a bug of ours: a 500
# naming the error id under which its traceback is logged.
DOMAIN_ERRORS: DomainErrors = {}


def error_response(exc: HttpError) -> web.Response:
    """The error as the node answers it: {"error": {"code", "message", "details"}}."""
    return web.Response(
        status=exc.status,
        body=orjson.dumps(exc.body()),
        content_type="application/json",
        headers=exc.headers,
    )


def payload_too_large(request: web.Request) -> PayloadTooLarge:
    """The 413 for a body over the node's limit."""
    limit = request.app[SETTINGS].max_body_bytes
    return PayloadTooLarge(f"request body exceeds {limit} bytes")


def _from_http(request: web.Request, exc: web.HTTPException) -> HttpError:
    if exc.status == 404:
        return NotFound(f"no such endpoint: {request.method} {request.path}")
    if exc.status == 405:
        allow = exc.headers.get("Allow", "")
        return MethodNotAllowed(
            f"{request.method} is not allowed on {request.path}", headers={"Allow": allow}
        )
    if exc.status == 413:
        return payload_too_large(request)
    # A status with no error class of its own: same format, generic code.
    return HttpError(exc.reason, status=exc.status, code=f"http_{exc.status}")


# Map every failure to the one error format; an unexpected one is logged and is a 500.
_json_errors = service.error_middleware(
    owner="node",
    logger=log,
    domain_errors=DOMAIN_ERRORS,
    from_http=_from_http,
    render=error_response,
)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The API's failures as the JSON error body; the console's as its error page (the same
    mapping, rendered for a person)."""
    if not is_console_path(request.path):
        return await _json_errors(request, handler)
    pages = service.error_middleware(
        owner="node",
        logger=log,
        domain_errors=DOMAIN_ERRORS,
        from_http=_from_http,
        render=lambda exc: render_error_page(request, exc),
    )
    return await pages(request, handler)
