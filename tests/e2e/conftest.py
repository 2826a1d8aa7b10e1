"""A real federation for end-to-end tests: province nodes and the hub as processes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from devstack.stack import Secrets, Stack
from tests.e2e.federation import Federation, connect, stack_running


@pytest.fixture(scope="module")
def running_stack(
    bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, Secrets]]:
    """Nodes 50 and 44 and the hub, as real processes on the session broker."""
    with stack_running(
        tmp_path_factory.mktemp("federation"), ["50", "44"], bootstrap=bootstrap
    ) as running:
        yield running


@pytest.fixture
async def federation(running_stack: tuple[Stack, Secrets]) -> AsyncIterator[Federation]:
    async with connect(running_stack) as fed:
        yield fed
