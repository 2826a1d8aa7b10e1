"""Cleanup contexts that put a service's parts on an aiohttp app, in the order the factory lists.

An app factory appends one context per part, in dependency order, so a part's factory can read
the parts set before it; aiohttp stops them in reverse order:

    app.cleanup_ctx.append(service_ctx(REGISTRY, lambda a: Registry(a[SETTINGS])))
    app.cleanup_ctx.append(service_ctx(RELAY, lambda a: Relay(a[SETTINGS], a[REGISTRY])))
    app.cleanup_ctx.append(provide_ctx(EXPLAINER, lambda a: Explainer(a[REGISTRY])))
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol, TypeVar

from aiohttp import web

__all__ = ["CleanupCtx", "Service", "provide_ctx", "service_ctx"]


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
