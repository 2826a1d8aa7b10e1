"""A notify store in a temporary directory; a real HTTP webhook receiver."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from national_hub.notify.schema import connect


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """A connection to a new notify store."""
    c = connect(tmp_path / "national.notify.sqlite3")
    yield c
    c.close()


@dataclass
class Call:
    """One webhook call as the receiver saw it."""

    id: str
    signature: str
    body: bytes

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
        self.acked.append(call)
        return web.Response(status=204)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A receiver listening on a free port of 127.0.0.1."""
    recv = Receiver()
    app = web.Application()
    app.router.add_post("/hook", recv.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    recv.url = f"http://127.0.0.1:{port}/hook"
    yield recv
    await runner.cleanup()
