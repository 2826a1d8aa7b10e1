"""GET /v1/suggest over HTTP: an abbreviation suggests its full name first; a request with
nothing typed is refused naming the field."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

pytestmark = pytest.mark.asyncio(loop_scope="module")


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
