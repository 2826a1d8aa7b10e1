"""The hub's ops token: constant-time comparison, and the lockout after repeated failures; who a
client is behind the replicas' balancer (hub.trusted_proxies)."""

from __future__ import annotations

import dataclasses
import hmac
import ipaddress
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hubkit import HubEnv

from national_hub.web import params as http_util
from national_hub.web.app import create_app
from national_hub.web.appkeys import RATE_LIMITER
from national_hub.web.ratelimit import RateLimiter

OPS = "/v1/ops/ingest"
BAD = {"Authorization": "Bearer not-the-ops-token"}


def ops(env: HubEnv) -> dict[str, str]:
    return {"Authorization": f"Bearer {env.ops_token}"}


@pytest.fixture
async def hub3(hub_env: HubEnv, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TestClient]:
    """The hub (Kafka unreachable) locking a client out for 60 s after 3 failures."""
    monkeypatch.setenv("REGSYNC_AUTH_THROTTLE", "3/60/60")
    async with TestClient(TestServer(create_app(hub_env.settings()))) as client:
        yield client


async def _fail(client: TestClient, times: int) -> None:
    for _ in range(times):
        assert (await client.get(OPS, headers=BAD)).status == 403


@pytest.mark.parametrize("right", [True, False])
async def test_the_ops_digest_is_compared_in_constant_time(
    hub3: TestClient, hub_env: HubEnv, monkeypatch: pytest.MonkeyPatch, right: bool
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(http_util.hmac, "compare_digest", counting)
    resp = await hub3.get(OPS, headers=ops(hub_env) if right else BAD)
    assert (resp.status, len(compared)) == (200 if right else 403, 1)


async def test_locked_out_client_gets_429_even_with_the_ops_token(
    hub3: TestClient, hub_env: HubEnv
) -> None:
    await _fail(hub3, 3)
    resp = await hub3.get(OPS, headers=ops(hub_env))
    body = await resp.json()
    assert (resp.status, body["error"]["code"], resp.headers["Retry-After"]) == (
        429,
        "too_many_auth_failures",
        "60",
    )
    assert set(body["error"]) == {"code", "message", "details"}


async def test_failures_below_the_limit_do_not_lock(hub3: TestClient, hub_env: HubEnv) -> None:
    await _fail(hub3, 2)
    assert (await hub3.get(OPS, headers=ops(hub_env))).status == 200


async def test_requests_without_a_token_are_not_counted(hub3: TestClient, hub_env: HubEnv) -> None:
    for _ in range(5):
        assert (await hub3.get(OPS)).status == 401
    assert (await hub3.get(OPS, headers=ops(hub_env))).status == 200


async def test_a_lockout_leaves_public_endpoints_alone(hub3: TestClient) -> None:
    await _fail(hub3, 3)
    assert (await hub3.get("/v1/sync/status")).status == 200


async def test_throttle_off_never_locks(hub_env: HubEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGSYNC_AUTH_THROTTLE", "off")
    async with TestClient(TestServer(create_app(hub_env.settings()))) as client:
        await _fail(client, 30)
        assert (await client.get(OPS, headers=ops(hub_env))).status == 200


LOOKUP = "/v1/physicians/500000000000001"


async def _lookups(env: HubEnv, trusted: str | None, forwarded_for: list[str]) -> list[int]:
    """Statuses of one lookup per X-Forwarded-For value, in order, all from 127.0.0.1 (as
    HAProxy connects), on a hub whose bucket holds 2 tokens that do not refill."""
    proxies = () if trusted is None else (ipaddress.ip_network(trusted),)
    settings = dataclasses.replace(env.settings(), trusted_proxies=proxies)
    app = create_app(settings)
    app[RATE_LIMITER] = RateLimiter(rate=0.001, burst=2)
    async with TestClient(TestServer(app)) as client:
        return [
            (await client.get(LOOKUP, headers={"X-Forwarded-For": xff})).status
            for xff in forwarded_for
        ]


async def test_behind_a_trusted_balancer_each_forwarded_client_has_its_own_bucket(
    hub_env: HubEnv,
) -> None:
    clients = ["203.0.113.7"] * 3 + ["203.0.113.8"]
    assert await _lookups(hub_env, "127.0.0.1/32", clients) == [404, 404, 429, 404]


async def test_without_trusted_proxies_a_forwarded_for_header_changes_no_bucket(
    hub_env: HubEnv,
) -> None:
    clients = ["203.0.113.7", "203.0.113.8", "203.0.113.9"]
    assert await _lookups(hub_env, None, clients) == [404, 404, 429]
