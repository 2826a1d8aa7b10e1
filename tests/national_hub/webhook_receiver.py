"""A real HTTP webhook receiver for the notifier's tests (127.0.0.1, aiohttp)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Call:
    """One webhook call as the receiver saw it."""

    id: str
    signature: str
    body: bytes
    # When the receiver answered it 2xx (epoch seconds), for latency measurements.
    acked_at: float = 0.0

    @property
    def notification(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.body)
        return doc


@dataclass
class Receiver:
    """A real HTTP receiver on 127.0.0.1: records every call; answers `status` (or fails the
    first `fail_first` calls with 500, or sleeps `delay` seconds first)."""

    url: str = ""
    calls: list[Call] = field(default_factory=list)
    fail_first: int = 0
    delay: float = 0.0
    acked: list[Call] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        call = Call(
            request.headers["X-Regsync-Id"],
            request.headers["X-Regsync-Signature"],
            await request.read(),
        )
        self.calls.append(call)
        if self.delay:
            await asyncio.sleep(self.delay)
        if len(self.calls) <= self.fail_first:
            return web.Response(status=500, text="busy")
        call.acked_at = time.time()
        self.acked.append(call)
        return web.Response(status=204)


@asynccontextmanager
async def serving(recv: Receiver, port: int = 0) -> AsyncIterator[Receiver]:
    """The receiver listening on 127.0.0.1 (port 0: a free one) until the block ends."""
    app = web.Application()
    app.router.add_post("/hook", recv.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, reuse_address=True).start()
    recv.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        yield recv
    finally:
        await runner.cleanup()
