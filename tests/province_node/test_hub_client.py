"""HubClient: the node's questions to the hub answer fast or say why not, over http and https."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from province_node.hub_client import TIMEOUT_S, HubClient, HubUnreachable
from schemas.tls import client_context, server_context
from tests.e2e.test_tls import write_self_signed

EXPLANATION = {
    "visible": True,
    "state": "applied",
    "reason": "Change 7 from 重庆市 (50) is applied at the national hub.",
    "province": "50",
    "eta_seconds": None,
    "evidence": {"event_seq": 7, "hub_applied_seq": 7},
}


async def _explain(request: web.Request) -> web.Response:
    if request.query.get("token") == "50:8":
        # A hub that hangs: the client must give up by itself.
        await asyncio.sleep(TIMEOUT_S * 4)
    if request.query.get("token") == "50:9":
        return web.json_response({"error": {"code": "rate_limited"}}, status=429)
    return web.json_response(EXPLANATION)


def _app() -> web.Application:
    app = web.Application()
    app.router.add_get("/v1/sync/explain", _explain)
    return app


@pytest.fixture
async def plain_hub() -> AsyncIterator[HubClient]:
    server = TestServer(_app())
    await server.start_server()
    client = HubClient(str(server.make_url("")).rstrip("/"))
    await client.start()
    yield client
    await client.stop()
    await server.close()


async def test_an_applied_change_is_read(plain_hub: HubClient) -> None:
    assert (await plain_hub.explain_token("50", 7)).state == "applied"


async def test_a_hub_that_hangs_is_given_up_on_within_the_timeout(plain_hub: HubClient) -> None:
    started = time.monotonic()
    with pytest.raises(HubUnreachable):
        await plain_hub.explain_token("50", 8)
    assert time.monotonic() - started < TIMEOUT_S + 1


async def test_a_refusal_names_the_status(plain_hub: HubClient) -> None:
    with pytest.raises(HubUnreachable, match="HTTP 429"):
        await plain_hub.explain_token("50", 9)


async def test_without_a_hub_url_nothing_is_asked() -> None:
    client = HubClient(None)
    await client.start()
    try:
        with pytest.raises(HubUnreachable, match="hub_url"):
            await client.explain_token("50", 7)
    finally:
        await client.stop()


async def test_an_https_hub_is_verified_against_the_ca_file(tmp_path: Path) -> None:
    cert, key = write_self_signed(tmp_path)
    server = TestServer(_app(), host="127.0.0.1")
    await server.start_server(ssl=server_context(cert, key, "hub.tls_certfile", tmp_path))
    client = HubClient(
        f"https://127.0.0.1:{server.port}",
        client_context(cert, "hub.node_ca_file", tmp_path),
    )
    await client.start()
    try:
        assert (await client.explain_token("50", 7)).state == "applied"
    finally:
        await client.stop()
        await server.close()


async def test_an_https_hub_not_trusted_is_unreachable(tmp_path: Path) -> None:
    cert, key = write_self_signed(tmp_path)
    server = TestServer(_app(), host="127.0.0.1")
    await server.start_server(ssl=server_context(cert, key, "hub.tls_certfile", tmp_path))
    # The system's CAs do not know the self-signed certificate.
    client = HubClient(f"https://127.0.0.1:{server.port}", client_context(None, "x", tmp_path))
    await client.start()
    try:
        with pytest.raises(HubUnreachable):
            await client.explain_token("50", 7)
    finally:
        await client.stop()
        await server.close()
