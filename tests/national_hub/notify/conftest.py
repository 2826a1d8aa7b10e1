"""A notify store in a temporary directory; real HTTP webhook receivers."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from webhook_receiver import Receiver, serving

from national_hub.notify.schema import connect


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """A connection to a new notify store."""
    c = connect(tmp_path / "national.notify.sqlite3")
    yield c
    c.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A receiver listening on a free port of 127.0.0.1."""
    async with serving(Receiver()) as recv:
        yield recv


@pytest.fixture
async def other_receiver() -> AsyncIterator[Receiver]:
    """A second receiver, for a second institution."""
    async with serving(Receiver()) as recv:
        yield recv
