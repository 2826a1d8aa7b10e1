"""Fixtures of the province node tests; the helpers they use live in nodekit.py."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

# Tests run with --import-mode=importlib, which puts no test directory on sys.path; this makes
# the shared helpers importable as `nodekit` from every test module here.
sys.path.insert(0, str(Path(__file__).parent))

from nodekit import FedEnv, Node, start_node, write_federation


@pytest.fixture
def fed(tmp_path: Path, bootstrap: str, topic_prefix: str) -> FedEnv:
    """A federation for province 50 on the session broker, topics under this test's prefix."""
    env = write_federation(tmp_path, bootstrap, topic_prefix)
    env.overrides = {"backoff_initial_s": 0.1, "backoff_max_s": 1.0}
    return env


@pytest.fixture
async def node(fed: FedEnv) -> AsyncIterator[Node]:
    """Province 50's node on the session broker."""
    n = await start_node(fed.settings(), fed.tokens)
    yield n
    await n.client.close()
