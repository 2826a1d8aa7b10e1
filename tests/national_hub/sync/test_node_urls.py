"""The hub asks a node about exactly the certificate number it was given (issue 12, finding 9).

The hub validates every cert_no before it asks a node; the node client must still not let a
value it is handed turn into another question: characters that mean something in a URL
(`?`, `#`, `/`, `%`, a newline) are percent-encoded into the one path segment.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hubkit import HubEnv

from national_hub.sync.node_client import NodeClient

TOKEN = "hub-token"


@pytest.fixture
async def asked() -> AsyncIterator[tuple[list[str], str]]:
    """A node that records the cert_no of each /v1/sync/records/{cert_no} it is asked."""
    seen: list[str] = []

    async def record(request: web.Request) -> web.Response:
        seen.append(request.match_info["cert_no"])
        return web.json_response({"exists": False, "latest_seq": None, "published": False})

    app = web.Application()
    app.router.add_get("/v1/sync/records/{cert_no}", record)
    server = TestServer(app)
    await server.start_server()
    yield seen, str(server.make_url("")).rstrip("/")
    await server.close()


@pytest.mark.parametrize(
    "cert_no",
    [
        "500000000000001",
        "500000000000001\n",
        "500000000000001?province=11",
        "500000000000001#x",
        "50000000/0000001",
        "500000000000001%0A",
        "50000000000000 1",
    ],
)
async def test_the_node_is_asked_about_the_very_string(
    hub_env: HubEnv, asked: tuple[list[str], str], cert_no: str
) -> None:
    seen, url = asked
    base = hub_env.settings()
    provinces = {c: dataclasses.replace(p, node_url=url) for c, p in base.provinces.items()}
    nodes = NodeClient(dataclasses.replace(base, provinces=provinces, node_token=TOKEN))
    await nodes.start()
    try:
        await nodes.record("50", cert_no)
    finally:
        await nodes.stop()
    assert seen == [cert_no]
