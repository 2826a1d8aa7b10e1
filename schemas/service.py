"""What both services' aiohttp apps are made of: cleanup contexts for parts, the error middleware.

An app factory appends one context per part, in dependency order, so a part's factory can read
the parts set before it; aiohttp stops them in reverse order:

    app.cleanup_ctx.append(service_ctx(REGISTRY, lambda a: Registry(a[SETTINGS])))
    app.cleanup_ctx.append(service_ctx(RELAY, lambda a: Relay(a[SETTINGS], a[REGISTRY])))
    app.cleanup_ctx.append(provide_ctx(EXPLAINER, lambda a: Explainer(a[REGISTRY])))
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol, TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from schemas.errors import DomainErrors, HttpError, RegsyncError, internal_error, map_domain_error

__all__ = [
    "CleanupCtx",
    "ErrorMiddleware",
    "Service",
    "error_middleware",
    "provide_ctx",
    "service_ctx",
]


class Service(Protocol):
    """A part that runs between start() and stop(); stop() is safe after a failed start()."""

    async def start(self) -> None:
        """Begin work; raise if the part cannot run."""

    async def stop(self) -> None:
        """End work and release what start() took; safe to call twice."""


S = TypeVar("S", bound=Service)
T = TypeVar("T")

# What app.cleanup_ctx takes: called with the app, entered at startup and left at cleanup.
CleanupCtx = Callable[[web.Application], AbstractAsyncContextManager[None]]


def service_ctx(key: web.AppKey[S], factory: Callable[[web.Application], S]) -> CleanupCtx:
    """Build the part with factory(app), store it under key, start it; stop it at cleanup.

    If start() raises, stop() runs before the error propagates, so a part that started halfway
    (a thread, a connection) releases it; aiohttp does not clean up a context whose entry failed.
    """

    @asynccontextmanager
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        service = factory(app)
        app[key] = service
        try:
            await service.start()
            yield
        finally:
            await service.stop()

    return ctx


def provide_ctx(key: web.AppKey[T], factory: Callable[[web.Application], T]) -> CleanupCtx:
    """Build a plain object with factory(app) at startup and store it under key; no stop."""

    @asynccontextmanager
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        app[key] = factory(app)
        yield

    return ctx


# What web.Application(middlewares=...) takes.
ErrorMiddleware = Middleware


def error_middleware(
    *,
    owner: str,
    logger: logging.Logger,
    domain_errors: DomainErrors,
    from_http: Callable[[web.Request, web.HTTPException], HttpError],
    render: Callable[[web.Request, HttpError], web.Response],
) -> ErrorMiddleware:
    """A service's error middleware: every failure of a handler becomes one rendered HttpError.

    An HttpError is rendered as it is; aiohttp's own refusals (404, 405, 413, ...) through
    `from_http`; a domain error through `domain_errors`. Anything else, a RegsyncError missing
    from the table included, is a bug of the service (`owner`, e.g. "hub"): `logger` gets its
    traceback under a new error id and the client a 500 naming that id.
    """

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except HttpError as exc:
            return render(request, exc)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return render(request, from_http(request, exc))
        except Exception as exc:  # asyncio.CancelledError is not an Exception: it propagates
            mapped = map_domain_error(exc, domain_errors) if isinstance(exc, RegsyncError) else None
            if mapped is None:
                mapped = internal_error(logger, f"{request.method} {request.path}", owner)
            return render(request, mapped)

    return middleware
