"""A notify store in a temporary directory."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from national_hub.notify.schema import connect


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """A connection to a new notify store."""
    c = connect(tmp_path / "national.notify.sqlite3")
    yield c
    c.close()
