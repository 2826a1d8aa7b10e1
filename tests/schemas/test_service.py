"""service_ctx, provide_ctx and error_middleware: what both services' apps are made of."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from schemas.errors import HttpError, RegsyncError
from schemas.service import error_middleware, provide_ctx, service_ctx


class Part:
    """A service that records what happened to it in a shared journal."""

    def __init__(self, name: str, journal: list[str], *, fail_start: bool = False) -> None:
        self.name = name
        self.journal = journal
        self.fail_start = fail_start

    async def start(self) -> None:
        self.journal.append(f"start {self.name}")
        if self.fail_start:
            raise RuntimeError(f"{self.name} cannot start")

    async def stop(self) -> None:
        self.journal.append(f"stop {self.name}")


FIRST = web.AppKey("first", Part)
SECOND = web.AppKey("second", Part)
LABEL = web.AppKey("label", str)


async def startup(app: web.Application) -> web.AppRunner:
    """Run the app's startup the way a server does (signals frozen, cleanup contexts entered)."""
    runner = web.AppRunner(app)
    await runner.setup()
    return runner


async def test_the_part_is_stored_under_its_key_at_startup() -> None:
    app = web.Application()
    journal: list[str] = []
    app.cleanup_ctx.append(service_ctx(FIRST, lambda a: Part("first", journal)))
    runner = await startup(app)
    try:
        assert app[FIRST].name == "first"
    finally:
        await runner.cleanup()


async def test_the_factory_runs_at_startup_not_when_the_context_is_made() -> None:
    calls: list[str] = []

    def factory(app: web.Application) -> Part:
        calls.append("built")
        return Part("first", [])

    app = web.Application()
    app.cleanup_ctx.append(service_ctx(FIRST, factory))
    assert calls == []
    runner = await startup(app)
    await runner.cleanup()
    assert calls == ["built"]


async def test_the_part_starts_at_startup_and_stops_at_cleanup() -> None:
    app = web.Application()
    journal: list[str] = []
    app.cleanup_ctx.append(service_ctx(FIRST, lambda a: Part("first", journal)))
    runner = await startup(app)
    assert journal == ["start first"]
    await runner.cleanup()
    assert journal == ["start first", "stop first"]


async def test_a_factory_sees_the_parts_added_before_it() -> None:
    app = web.Application()
    journal: list[str] = []
    app.cleanup_ctx.append(service_ctx(FIRST, lambda a: Part("first", journal)))
    app.cleanup_ctx.append(service_ctx(SECOND, lambda a: Part(f"after {a[FIRST].name}", journal)))
    runner = await startup(app)
    try:
        assert app[SECOND].name == "after first"
    finally:
        await runner.cleanup()


async def test_parts_stop_in_reverse_order() -> None:
    app = web.Application()
    journal: list[str] = []
    app.cleanup_ctx.append(service_ctx(FIRST, lambda a: Part("first", journal)))
    app.cleanup_ctx.append(service_ctx(SECOND, lambda a: Part("second", journal)))
    runner = await startup(app)
    await runner.cleanup()
    assert journal[2:] == ["stop second", "stop first"]


async def test_a_failed_start_raises_its_error() -> None:
    app = web.Application()
    app.cleanup_ctx.append(service_ctx(FIRST, lambda a: Part("first", [], fail_start=True)))
    with pytest.raises(RuntimeError, match="first cannot start"):
        await startup(app)


async def test_a_failed_start_is_followed_by_stop() -> None:
    app = web.Application()
    journal: list[str] = []
    app.cleanup_ctx.append(service_ctx(FIRST, lambda a: Part("first", journal, fail_start=True)))
    with pytest.raises(RuntimeError):
        await startup(app)
    assert journal == ["start first", "stop first"]


async def test_provide_ctx_stores_the_object_at_startup() -> None:
    app = web.Application()
    app.cleanup_ctx.append(provide_ctx(LABEL, lambda a: "hello"))
    runner = await startup(app)
    try:
        assert app[LABEL] == "hello"
    finally:
        await runner.cleanup()


async def test_provide_ctx_factory_sees_the_parts_added_before_it() -> None:
    app = web.Application()
    app.cleanup_ctx.append(service_ctx(FIRST, lambda a: Part("first", [])))
    app.cleanup_ctx.append(provide_ctx(LABEL, lambda a: f"label of {a[FIRST].name}"))
    runner = await startup(app)
    try:
        assert app[LABEL] == "label of first"
    finally:
        await runner.cleanup()


# -- error_middleware ----------------------------------------------------------------------------


class Domain(RegsyncError):
    """A domain error the test table maps."""


class Unlisted(RegsyncError):
    """A domain error the test table leaves out."""


def _render(request: web.Request, exc: HttpError) -> web.Response:
    return web.json_response(exc.body(), status=exc.status, headers=exc.headers)


def _from_http(request: web.Request, exc: web.HTTPException) -> HttpError:
    return HttpError(f"aiohttp said {exc.status}", status=exc.status, code="from_http")


def _raising(exc: BaseException) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        raise exc

    return handler


async def _answer(exc: BaseException) -> tuple[int, Any]:
    """Status and JSON body when a handler raises exc behind the middleware."""
    middleware = error_middleware(
        owner="test",
        logger=logging.getLogger("tests.service"),
        domain_errors={Domain: (503, "domain")},
        from_http=_from_http,
        render=_render,
    )
    app = web.Application(middlewares=[middleware])
    app.router.add_get("/boom", _raising(exc))
    async with TestClient(TestServer(app)) as client:
        resp = await client.get("/boom", allow_redirects=False)
        body = await resp.json() if resp.content_type == "application/json" else None
        return resp.status, body


async def test_an_http_error_is_rendered_as_it_is() -> None:
    exc = HttpError("no", status=409, code="conflict")
    assert await _answer(exc) == (409, exc.body())


async def test_an_aiohttp_refusal_goes_through_from_http() -> None:
    status, body = await _answer(web.HTTPNotFound())
    assert (status, body["error"]["code"]) == (404, "from_http")


async def test_an_aiohttp_redirect_passes_through() -> None:
    status, _ = await _answer(web.HTTPFound("/elsewhere"))
    assert status == 302


async def test_a_listed_domain_error_gets_its_mapping() -> None:
    status, body = await _answer(Domain("closed"))
    assert (status, body["error"]["code"], body["error"]["message"]) == (503, "domain", "closed")


async def test_an_unlisted_domain_error_is_a_500_not_a_client_error() -> None:
    status, body = await _answer(Unlisted("deep"))
    assert (status, body["error"]["code"]) == (500, "internal")


async def test_an_unexpected_exception_is_a_500_naming_a_logged_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="tests.service"):
        status, body = await _answer(KeyError("secret"))
    error_id = body["error"]["message"].rsplit(" ", 1)[-1]
    assert status == 500 and "secret" not in body["error"]["message"]
    assert any(error_id in r.getMessage() and r.exc_info for r in caplog.records)
