"""The pages' HTTP tests share one fixture: a hub with Kafka unreachable and an empty index."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from hubkit import write_federation

from national_hub.web.app import create_app


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TestClient]:
    """The hub with Kafka unreachable and an empty index (one per module: a hub takes seconds
    to start)."""
    env = write_federation(tmp_path_factory.mktemp("hub"), "127.0.0.1:1", "offline")
    async with TestClient(TestServer(create_app(env.settings()))) as c:
        yield c
