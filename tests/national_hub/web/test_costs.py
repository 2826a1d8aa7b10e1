"""Expensive reads cost more and never hold up cheap ones (issue 12, finding 11).

One client's explanations that ask every node and two-letter pinyin searches slowed everyone's
lookups. The rate limit weighs a request by what it costs the hub, and expensive requests run
a few at a time, so a lookup never waits behind them for the store's readers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hubkit import HubEnv

from national_hub.config import HubSettings
from national_hub.web import query_routes
from national_hub.web.app import create_app
from national_hub.web.appkeys import INDEX, RATE_LIMITER
from national_hub.web.ratelimit import RateLimiter

TOKEN = "hub-token"
UNKNOWN = "509990000000001"


def _statuses(results: list[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for status in results:
        out[status] = out.get(status, 0) + 1
    return out


async def _drain(client: TestClient, path: str, n: int = 30) -> dict[int, int]:
    """Statuses of n sequential GETs of path."""
    return _statuses([(await client.get(path)).status for _ in range(n)])


@pytest.fixture
async def limited(hub_env: HubEnv) -> AsyncIterator[TestClient]:
    """The hub with a bucket of 20 tokens that (practically) does not refill."""
    app = create_app(hub_env.settings())
    app[RATE_LIMITER] = RateLimiter(rate=0.001, burst=20)
    async with TestClient(TestServer(app)) as client:
        yield client


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        # A lookup, an explanation of one province's number, a sync token: 1 token each.
        ("/v1/physicians/500000000000001", 20),
        (f"/v1/sync/explain?cert_no={UNKNOWN}&province=50", 20),
        ("/v1/sync/explain?token=50:1", 20),
        # A search by a Chinese name: 2 (hub.tuning.web.search_cost).
        ("/v1/physicians?name=张伟", 10),
        # Every node asked, or a pinyin prefix matching much of the registry: 10
        # (hub.tuning.web.expensive_cost).
        (f"/v1/sync/explain?cert_no={UNKNOWN}", 2),
        ("/v1/physicians?name=zh", 2),
        ("/v1/physicians?name=zha", 2),
        ("/v1/physicians?name=zhangwei", 10),
    ],
)
async def test_requests_take_tokens_by_their_cost(
    limited: TestClient, path: str, allowed: int
) -> None:
    got = await _drain(limited, path)
    assert got.get(429) == 30 - allowed, got


async def test_expensive_requests_leave_other_clients_alone(limited: TestClient) -> None:
    await _drain(limited, f"/v1/sync/explain?cert_no={UNKNOWN}", 5)
    limiter = limited.server.app[RATE_LIMITER]
    assert limiter.acquire("198.51.100.7") == 0.0


# ---- lookups whose explanation asks every node --------------------------------------------


@pytest.fixture
async def with_nodes(hub_env: HubEnv) -> AsyncIterator[TestClient]:
    """The hub, its three nodes one fake that holds nothing, a 20-token bucket."""

    async def record(request: web.Request) -> web.Response:
        return web.json_response({"exists": False, "latest_seq": None, "published": False})

    node = web.Application()
    node.router.add_get("/v1/sync/records/{cert_no}", record)
    server = TestServer(node)
    await server.start_server()
    url = str(server.make_url("")).rstrip("/")
    base = hub_env.settings()
    provinces = {c: dataclasses.replace(p, node_url=url) for c, p in base.provinces.items()}
    settings: HubSettings = dataclasses.replace(base, provinces=provinces, node_token=TOKEN)
    app = create_app(settings)
    app[RATE_LIMITER] = RateLimiter(rate=0.001, burst=20)
    async with TestClient(TestServer(app)) as client:
        yield client
    await server.close()


async def test_a_miss_that_asks_every_node_costs_what_an_explanation_does(
    with_nodes: TestClient,
) -> None:
    # Each new unknown number makes the hub ask all three nodes: 10 tokens, as an explanation.
    got = _statuses(
        [(await with_nodes.get(f"/v1/physicians/5099900000000{i:02d}")).status for i in range(6)]
    )
    assert got == {404: 2, 429: 4}


async def test_a_repeated_miss_the_nodes_already_answered_costs_one(
    with_nodes: TestClient,
) -> None:
    got = await _drain(with_nodes, f"/v1/physicians/{UNKNOWN}", 12)
    # The first asks the nodes (10); their "no such record" is remembered, the rest cost 1.
    assert got == {404: 11, 429: 1}


# ---- cheap work never queues behind expensive work ----------------------------------------


@pytest.fixture
async def slow_searches(
    hub_env: HubEnv, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[TestClient]:
    """The hub whose every search holds one of the serving index's reader threads for 0.6 s."""

    async def slow_search(index: Any, params: Any, aliases: Any) -> tuple[list[Any], None]:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(index._readers, time.sleep, 0.6)
        return [], None

    monkeypatch.setattr(query_routes, "run_indexed_search", slow_search)
    app = create_app(hub_env.settings())
    app[RATE_LIMITER] = RateLimiter(enabled=False)
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_a_lookup_does_not_wait_behind_slow_searches(slow_searches: TestClient) -> None:
    readers = slow_searches.server.app[INDEX]._readers._max_workers
    searches = [
        asyncio.create_task(slow_searches.get("/v1/physicians?name=zh")) for _ in range(3 * readers)
    ]
    await asyncio.sleep(0.15)  # every search has arrived and as many as may have started
    t0 = time.perf_counter()
    resp = await slow_searches.get("/v1/physicians/500000000000001")
    took = time.perf_counter() - t0
    assert resp.status == 404
    for r in await asyncio.gather(*searches):
        assert r.status == 200
    assert took < 0.3, f"the lookup waited {took:.2f} s behind the searches"


# ---- refusals are not free to ask for ----------------------------------------------------


async def test_a_refusal_is_answered_after_a_short_delay(hub_env: HubEnv) -> None:
    # A client looping on 429s (wrk's 32 connections: 8,600 refusals/s) cost the hub more
    # than its expensive reads; a delayed refusal slows such a loop to a few per second.
    app = create_app(hub_env.settings())
    app[RATE_LIMITER] = RateLimiter(rate=0.5, burst=1, refusal_delay=0.3)
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/v1/stats")).status == 200
        t0 = time.perf_counter()
        refused = await client.get("/v1/stats")
        took = time.perf_counter() - t0
    assert refused.status == 429 and refused.headers["Retry-After"] == "2"
    assert took >= 0.3


async def test_only_so_many_refusals_wait_at_once(hub_env: HubEnv) -> None:
    app = create_app(hub_env.settings())
    app[RATE_LIMITER] = RateLimiter(rate=0.001, burst=1, refusal_delay=0.5, max_delayed=2)
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/v1/stats")).status == 200

        async def timed() -> float:
            t0 = time.perf_counter()
            assert (await client.get("/v1/stats")).status == 429
            return time.perf_counter() - t0

        took = sorted(await asyncio.gather(*(timed() for _ in range(6))))
    assert [t < 0.3 for t in took] == [True] * 4 + [False] * 2
