"""Fixtures of the console tests; the helpers they use live in consolekit.py."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

# Tests run with --import-mode=importlib, which puts no test directory on sys.path; this makes
# the console's helpers importable as `consolekit` from every test module here.
sys.path.insert(0, str(Path(__file__).parent))

import pytest_asyncio
from browser import launched
from consolekit import FakeHub
from nodekit import FedEnv, Node, start_node
from playwright.async_api import Browser


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    """One headless chromium per browser test module (tests/browser.py)."""
    async with launched() as b:
        yield b


@pytest.fixture
async def hub() -> AsyncIterator[FakeHub]:
    """A stand-in hub answering the console's questions (consolekit.FakeHub)."""
    fake = FakeHub()
    await fake.server.start_server()
    yield fake
    await fake.server.close()


@pytest.fixture
async def hub_node(fed: FedEnv, hub: FakeHub) -> AsyncIterator[Node]:
    """Province 50's node asking the stand-in hub (hub_url)."""
    n = await start_node(fed.settings(hub_url=hub.url), fed.tokens)
    yield n
    await n.client.close()
