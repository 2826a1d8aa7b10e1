"""Session-wide fixtures: one real Kafka broker for the whole run, unique names per test."""

from __future__ import annotations

import itertools
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devstack.kafka import KafkaCluster, KafkaStartError, free_base_port

# Tests run with --import-mode=importlib, which puts no test directory on sys.path; this makes
# the helpers every package's tests share (browser.py: chromium, screenshots, axe-core)
# importable as `browser`.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    """One real single-node KRaft broker shared by every test in the session."""
    if os.environ.get("REGSYNC_TEST_BOOTSTRAP"):
        pytest.fail("REGSYNC_TEST_BOOTSTRAP is not supported: tests start their own broker")
    state = tmp_path_factory.mktemp("kafka")
    cluster = KafkaCluster(state, brokers=1, base_port=free_base_port(1))
    try:
        cluster.start()
    except KafkaStartError as exc:
        pytest.fail(f"Kafka did not start:\n{exc}", pytrace=False)
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def bootstrap(kafka: KafkaCluster) -> str:
    return kafka.bootstrap


_counter = itertools.count()


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """Factory of names no other test uses: topics, consumer groups, prefixes."""
    base = request.node.name.split("[")[0][:40].replace("_", "-")

    def make(kind: str = "t") -> str:
        return f"{kind}-{base}-{next(_counter)}-{uuid.uuid4().hex[:8]}"

    return make


@pytest.fixture
def topic_prefix(unique_name: Callable[[str], str]) -> str:
    """A topic prefix of this test's own, so `<prefix>.events.50` never collides."""
    return unique_name("rs").replace("-", "_")


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    d = tmp_path / "state"
    d.mkdir()
    return d
