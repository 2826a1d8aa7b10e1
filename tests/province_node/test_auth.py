"""Token checks of the node: constant-time matching, and the lockout after repeated failures."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from nodekit import FedEnv, Node, start_node

from province_node import auth
from province_node.auth import Authenticator, Role, token_sha256
from province_node.errors import Unauthorized
from schemas.federation import Tokens
from schemas.throttle import AuthThrottle

BAD = {"Authorization": "Bearer not-a-token"}
STATUS = "/v1/sync/status"


def _tokens() -> Tokens:
    return Tokens(
        registrar=(token_sha256("r1"), token_sha256("r2")),
        viewer=(token_sha256("v1"), token_sha256("r1")),
        hub=(token_sha256("h1"),),
    )


@pytest.mark.parametrize("token", ["r1", "h1", "unknown"])
def test_every_stored_digest_is_compared_whatever_the_token(
    monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    compared: list[bytes] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        compared.append(a)
        return real(a, b)

    authenticator = Authenticator(_tokens(), AuthThrottle(enabled=False))
    monkeypatch.setattr(auth.hmac, "compare_digest", counting)
    try:
        authenticator.roles(f"Bearer {token}", "127.0.0.1")
    except Unauthorized:
        pass
    assert len(compared) == 5


def test_a_token_listed_under_two_roles_has_both() -> None:
    authenticator = Authenticator(_tokens(), AuthThrottle(enabled=False))
    assert authenticator.roles("Bearer r1", "127.0.0.1") == {Role.REGISTRAR, Role.VIEWER}


# -- the throttle, over HTTP ----------------------------------------------------------------


@pytest.fixture
async def node3(fed: FedEnv, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Node]:
    """Province 50's node locking a client out for 60 s after 3 failures."""
    monkeypatch.setenv("REGSYNC_AUTH_THROTTLE", "3/60/60")
    n = await start_node(fed.settings(), fed.tokens)
    yield n
    await n.client.close()


async def _fail(node: Node, times: int) -> None:
    for _ in range(times):
        code, _, _ = await node.call("GET", STATUS, role=None, headers=BAD)
        assert code == 401


async def test_locked_out_client_gets_429_even_with_a_valid_token(node3: Node) -> None:
    await _fail(node3, 3)
    code, body, resp = await node3.call("GET", STATUS, role="registrar")
    assert (code, body["error"]["code"], resp.headers["Retry-After"]) == (
        429,
        "too_many_auth_failures",
        "60",
    )
    assert set(body["error"]) == {"code", "message", "details"}


async def test_a_hub_token_gets_through_an_address_locked_out_by_other_failures(
    node3: Node,
) -> None:
    # The hub polls from an address other clients may share (a proxy, a NAT, the same host).
    await _fail(node3, 3)
    code, body, _ = await node3.call("GET", STATUS, role="hub")
    assert code == 200, body


async def test_a_wrong_token_from_a_locked_out_address_still_gets_429(node3: Node) -> None:
    await _fail(node3, 3)
    code, body, _ = await node3.call("GET", STATUS, role=None, headers=BAD)
    assert (code, body["error"]["code"]) == (429, "too_many_auth_failures")


def test_a_locked_out_address_gets_only_the_hub_role_of_a_token_that_has_more() -> None:
    # A token listed under hub and registrar must not become a way around the lockout for writes.
    tokens = Tokens(registrar=(token_sha256("h1"),), viewer=(), hub=(token_sha256("h1"),))
    authenticator = Authenticator(tokens, AuthThrottle(1, 60, 60))
    with pytest.raises(Unauthorized):
        authenticator.roles("Bearer guess", "10.0.0.1")
    assert authenticator.roles("Bearer h1", "10.0.0.1") == {Role.HUB}


def test_a_locked_out_address_compares_a_token_with_every_hub_digest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tokens = Tokens(registrar=(token_sha256("r1"),), viewer=(), hub=("a" * 64, token_sha256("h1")))
    authenticator = Authenticator(tokens, AuthThrottle(1, 60, 60))
    with pytest.raises(Unauthorized):
        authenticator.roles("Bearer guess", "10.0.0.1")
    compared: list[bytes] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        compared.append(a)
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", counting)
    assert authenticator.roles("Bearer h1", "10.0.0.1") == {Role.HUB}
    assert len(compared) == 2


async def test_failures_below_the_limit_do_not_lock(node3: Node) -> None:
    await _fail(node3, 2)
    code, _, _ = await node3.call("GET", STATUS, role="registrar")
    assert code == 200


async def test_requests_without_a_token_are_not_counted(node3: Node) -> None:
    for _ in range(5):
        code, _, _ = await node3.call("GET", STATUS, role=None)
        assert code == 401
    code, _, _ = await node3.call("GET", STATUS, role="viewer")
    assert code == 200


async def test_a_valid_token_in_the_wrong_role_is_not_counted(node3: Node) -> None:
    for _ in range(5):
        code, _, _ = await node3.call("POST", "/v1/registrations", role="viewer", json_body={})
        assert code == 403
    code, _, _ = await node3.call("GET", STATUS, role="viewer")
    assert code == 200


async def test_successes_between_failures_do_not_reset_the_count(node3: Node) -> None:
    for _ in range(3):
        assert (await node3.call("GET", STATUS, role="viewer"))[0] == 200
        await _fail(node3, 1)
    assert (await node3.call("GET", STATUS, role="viewer"))[0] == 429


async def test_another_client_address_is_not_locked_out(node3: Node) -> None:
    await _fail(node3, 3)
    url = node3.client.make_url(STATUS)
    # Same host, another loopback source address: another client to the node.
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(connector=connector) as other:
        async with other.get(url, headers=node3.auth("viewer")) as resp:
            answered: Any = (resp.status, await resp.json())
    assert answered[0] == 200, answered


async def test_throttle_off_never_locks(fed: FedEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGSYNC_AUTH_THROTTLE", "off")
    n = await start_node(fed.settings(), fed.tokens)
    try:
        await _fail(n, 30)
        assert (await n.call("GET", STATUS, role="viewer"))[0] == 200
    finally:
        await n.client.close()
