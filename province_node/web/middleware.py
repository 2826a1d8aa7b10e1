"""The node's error middleware: every failure becomes the one error body (CONTRACT §4), or on
the console's paths the one error page."""

from __future__ import annotations

import logging

import orjson
from aiohttp import web

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


def _render(request: web.Request, exc: HttpError) -> web.Response:
    """The console's paths get the error page (the JSON body if the page itself cannot be
    rendered: the person still gets the status, and the failure is logged); the API's paths
    the JSON error body."""
    if not is_console_path(request.path):
        return error_response(exc)
    try:
        return render_error_page(request, exc)
    except Exception:
        log.exception("the error page for %s %s could not be rendered", exc.status, request.path)
        return error_response(exc)


# Map every failure to the one error format (a page on the console's paths); an unexpected one
# is logged and is a 500.
error_middleware = service.error_middleware(
    owner="node",
    logger=log,
    domain_errors=DOMAIN_ERRORS,
    from_http=_from_http,
    render=_render,
)
