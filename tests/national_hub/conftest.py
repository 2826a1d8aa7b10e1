"""Fixtures of the hub's ingest/store/API tests; the helpers live in hubkit.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Tests run with --import-mode=importlib, which puts no test directory on sys.path; this makes
# the shared helpers importable as `hubkit` from every test module here.
sys.path.insert(0, str(Path(__file__).parent))

from hubkit import HubEnv, create_topics, write_federation


@pytest.fixture
def hub_env(tmp_path: Path, topic_prefix: str) -> HubEnv:
    """A federation of provinces 50, 44 and 11 whose Kafka is never contacted."""
    return write_federation(tmp_path, "127.0.0.1:1", topic_prefix)


@pytest.fixture
async def kafka_env(tmp_path: Path, bootstrap: str, topic_prefix: str) -> HubEnv:
    """A federation of provinces 50, 44 and 11 on the session broker, topics created."""
    env = write_federation(tmp_path, bootstrap, topic_prefix)
    await create_topics(env)
    return env
