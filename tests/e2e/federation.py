"""A running federation for end-to-end tests: starting one, and HTTP access with the tokens."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar
from unittest import mock

import aiohttp

from devstack.kafka import port_free
from devstack.stack import Secrets, Stack

T = TypeVar("T")


def free_base(own_kafka: bool = False) -> int:
    """A base port whose hub and province ports (base+80, base+100+CC) are all free.

    With own_kafka, also the stack's broker ports (client base+1092, controller base+1192).
    """
    rng = random.Random()
    for _ in range(200):
        # + up to 1192 stays below the ephemeral ports (32768+)
        base = rng.randrange(23000, 31000)
        ports = [base + 80, base + 150, base + 144, base + 111]
        if own_kafka:
            ports += [base + 1092, base + 1192]
        if all(port_free(p) for p in ports):
            return base
    raise RuntimeError("no free ports for the federation")


@contextmanager
def stack_running(
    state: Path,
    provinces: list[str],
    *,
    bootstrap: str | None,
    records: int = 0,
    replication_factor: int = 1,
) -> Iterator[tuple[Stack, Secrets]]:
    """A federation as real processes; its own Kafka when bootstrap is None."""
    stack = Stack(
        state,
        provinces,
        records=records,
        base_port=free_base(own_kafka=bootstrap is None),
        bootstrap=bootstrap,
        topic_prefix="e2e" + os.urandom(4).hex(),
        replication_factor=replication_factor,
    )
    # The public rate limit would throttle the tests' polling; they are one client.
    with mock.patch.dict(os.environ, {"REGSYNC_HUB_RATE_LIMIT": "off"}):
        try:
            secrets = stack.start()
        except BaseException:
            stack.stop()
            raise
        try:
            yield stack, secrets
        finally:
            stack.stop()


async def wait_until(
    probe: Callable[[], Awaitable[T | None]], within: float = 30.0, what: str = "condition"
) -> T:
    """Poll probe every 0.1 s until it returns something truthy; fail after `within` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last: T | None = None
    while loop.time() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} not reached within {within:g} s (last: {last!r})")


class Federation:
    """The running stack plus HTTP helpers with the right tokens."""

    def __init__(self, stack: Stack, secrets: Secrets, session: aiohttp.ClientSession) -> None:
        self.stack = stack
        self.secrets = secrets
        self.http = session

    def node(self, code: str) -> str:
        return self.stack.url(f"province-{code}")

    @property
    def hub(self) -> str:
        return self.stack.url("hub")

    def auth(self, code: str, role: str = "registrar") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets.tokens[code][role]}"}

    async def register(self, code: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.http.post(
            f"{self.node(code)}/v1/registrations", json=body, headers=self.auth(code)
        ) as resp:
            assert resp.status == 201, await resp.text()
            return dict(await resp.json())

    async def step(self, code: str, cert_no: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.http.post(
            f"{self.node(code)}/v1/registrations/{cert_no}/events",
            json=body,
            headers=self.auth(code),
        ) as resp:
            assert resp.status == 200, await resp.text()
            return dict(await resp.json())

    async def node_record(self, code: str, cert_no: str) -> dict[str, Any]:
        async with self.http.get(
            f"{self.node(code)}/v1/registrations/{cert_no}", headers=self.auth(code, "viewer")
        ) as resp:
            assert resp.status == 200, await resp.text()
            return dict(await resp.json())

    async def hub_get(self, path: str, **params: str) -> tuple[int, Any]:
        async with self.http.get(f"{self.hub}{path}", params=params) as resp:
            return resp.status, await resp.json()

    @property
    def ops(self) -> dict[str, str]:
        """The hub's ops token header."""
        return {"Authorization": f"Bearer {self.secrets.ops_token}"}

    async def explain(self, **params: str) -> dict[str, Any]:
        """GET /v1/sync/explain with these parameters; the explanation."""
        status, body = await self.hub_get("/v1/sync/explain", **params)
        assert status == 200, body
        return dict(body)

    async def sync_status(self) -> dict[str, Any]:
        """GET /v1/sync/status."""
        status, body = await self.hub_get("/v1/sync/status")
        assert status == 200, body
        return dict(body)

    async def province_status(self, code: str) -> dict[str, Any]:
        """One province's entry of GET /v1/sync/status."""
        body = await self.sync_status()
        return next(p for p in body["provinces"] if p["province"] == code)

    async def set_ingest_paused(self, paused: bool) -> None:
        """POST /v1/ops/ingest; returns once the hub's consumer follows."""
        async with self.http.post(
            f"{self.hub}/v1/ops/ingest", json={"paused": paused}, headers=self.ops
        ) as resp:
            body = await resp.json()
            assert resp.status == 200 and body["paused"] is paused and body["in_effect"], body

    async def node_sync_record(self, code: str, cert_no: str) -> dict[str, Any]:
        """The node's GET /v1/sync/records/{cert_no}, with the hub's token."""
        async with self.http.get(
            f"{self.node(code)}/v1/sync/records/{cert_no}",
            headers={"Authorization": f"Bearer {self.secrets.hub_token}"},
        ) as resp:
            assert resp.status == 200, await resp.text()
            return dict(await resp.json())


@asynccontextmanager
async def connect(running: tuple[Stack, Secrets]) -> AsyncIterator[Federation]:
    """HTTP access to a running stack for the life of the block."""
    stack, secrets = running
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield Federation(stack, secrets, session)


def run_with(running: tuple[Stack, Secrets], fn: Callable[[Federation], Awaitable[T]]) -> T:
    """Run fn against the federation in a fresh event loop (for module-scoped sync fixtures)."""

    async def main() -> T:
        async with connect(running) as fed:
            return await fn(fed)

    return asyncio.run(main())
