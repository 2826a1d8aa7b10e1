"""service_ctx and provide_ctx: parts built, stored, started and stopped by an app's cleanup_ctx."""

from __future__ import annotations

import pytest
from aiohttp import web

from schemas.service import provide_ctx, service_ctx


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
