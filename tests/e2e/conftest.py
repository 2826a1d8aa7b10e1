"""A real federation for end-to-end tests: province nodes and the hub as processes."""

from __future__ import annotations

import os
import random
from collections.abc import AsyncIterator, Iterator
from unittest import mock

import aiohttp
import pytest

from devstack.kafka import port_free
from devstack.stack import Secrets, Stack
from tests.e2e.federation import Federation


def _free_base() -> int:
    """A base port whose hub and province ports (base+80, base+100+CC) are all free."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(23000, 33000)
        if all(port_free(p) for p in (base + 80, base + 150, base + 144, base + 111)):
            return base
    raise RuntimeError("no free ports for the federation")


@pytest.fixture(scope="module")
def running_stack(
    bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, Secrets]]:
    """Nodes 50 and 44 and the hub, as real processes on the session broker."""
    state = tmp_path_factory.mktemp("federation")
    prefix = "e2e" + os.urandom(4).hex()
    stack = Stack(
        state,
        ["50", "44"],
        records=0,
        base_port=_free_base(),
        bootstrap=bootstrap,
        topic_prefix=prefix,
    )
    # The public rate limit would throttle the tests' polling; they are one client.
    with mock.patch.dict(os.environ, {"REGSYNC_HUB_RATE_LIMIT": "off"}):
        try:
            secrets = stack.start()
        except BaseException:
            stack.stop()
            raise
        yield stack, secrets
    stack.stop()


@pytest.fixture
async def federation(running_stack: tuple[Stack, Secrets]) -> AsyncIterator[Federation]:
    stack, secrets = running_stack
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield Federation(stack, secrets, session)
