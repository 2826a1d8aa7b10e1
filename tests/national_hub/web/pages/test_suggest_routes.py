"""GET /v1/suggest over HTTP: an abbreviation suggests its full name first; a request with
nothing typed is refused naming the field."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from hubkit import write_federation

from national_hub.web.app import create_app

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TestClient]:
    """The hub with Kafka unreachable and an empty index (one per module)."""
    env = write_federation(tmp_path_factory.mktemp("hub"), "127.0.0.1:1", "offline")
    async with TestClient(TestServer(create_app(env.settings()))) as c:
        yield c


async def test_an_abbreviation_suggests_its_full_name(client: TestClient) -> None:
    body = await (await client.get("/v1/suggest", params={"institution": "重医附一院"})).json()
    assert body["items"][0] == {
        "kind": "institution",
        "text": "重庆医科大学附属第一医院",
        "count": 0,
        "capped": False,
    }


async def test_nothing_typed_is_refused_naming_name(client: TestClient) -> None:
    resp = await client.get("/v1/suggest?name=%20")
    assert resp.status == 400
    assert (await resp.json())["error"]["details"][0]["field"] == "name"


async def test_a_name_over_fifty_characters_is_refused(client: TestClient) -> None:
    resp = await client.get("/v1/suggest", params={"name": "张" * 51})
    assert resp.status == 400
