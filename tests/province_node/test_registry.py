"""The registry's single writer: group commit, gap-free seq under concurrency, back-pressure."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from nodekit import FedEnv, registration, write_federation

from province_node import outbox
from province_node.errors import Conflict, TooManyRequests, Unavailable
from province_node.registry import Committed, GroupCommit, Registry, WriteContext
from province_node.requests import parse_registration


@pytest.fixture
def env(tmp_path: Path) -> FedEnv:
    return write_federation(tmp_path, "127.0.0.1:1", "unused")


def _registry(env: FedEnv, **kw: Any) -> Registry:
    s = env.settings()
    return Registry(s.db_path, "50", s.load_signer(), s.load_secret(), **kw)


@pytest.fixture
async def commits(env: FedEnv) -> AsyncIterator[tuple[Registry, list[GroupCommit]]]:
    seen: list[GroupCommit] = []
    registry = _registry(env, on_commit=seen.append)
    await registry.start()
    yield registry, seen
    await registry.stop()


def _register(index: int) -> Callable[[WriteContext], Committed]:
    req = parse_registration(registration(index))

    def job(ctx: WriteContext) -> Committed:
        return ctx.register(req, "registrar")

    return job


async def test_concurrent_writes_get_gap_free_seqs(
    commits: tuple[Registry, list[GroupCommit]],
) -> None:
    registry, _ = commits
    results = await asyncio.gather(*(registry.write(_register(i)) for i in range(1, 201)))
    assert sorted(r.seq for r in results) == list(range(1, 201))


async def test_queued_writes_share_a_commit(commits: tuple[Registry, list[GroupCommit]]) -> None:
    registry, seen = commits
    await asyncio.gather(*(registry.write(_register(i)) for i in range(1, 201)))
    assert len(seen) < 200 and sum(len(c.types) for c in seen) == 200


async def test_a_refused_write_leaves_its_group_intact(
    commits: tuple[Registry, list[GroupCommit]],
) -> None:
    registry, _ = commits
    jobs = [_register(1), _register(2), _register(1), _register(3)]
    results = await asyncio.gather(*(registry.write(j) for j in jobs), return_exceptions=True)
    assert [type(r).__name__ for r in results] == [
        "Committed",
        "Committed",
        "Conflict",
        "Committed",
    ]
    assert isinstance(results[2], Conflict)
    assert [r.seq for r in results if isinstance(r, Committed)] == [1, 2, 3]


async def test_stop_finishes_queued_writes(env: FedEnv) -> None:
    registry = _registry(env)
    await registry.start()
    pending = [asyncio.ensure_future(registry.write(_register(i))) for i in range(1, 51)]
    await asyncio.sleep(0)
    await registry.stop()
    await asyncio.gather(*pending)
    reopened = _registry(env)
    await reopened.start()
    try:
        assert await reopened.read(outbox.last_seq) == 50
    finally:
        await reopened.stop()


async def test_a_full_queue_answers_too_many_requests(env: FedEnv) -> None:
    registry = _registry(env, queue_limit=3)
    await registry.start()
    gate = threading.Event()
    try:
        blocker = asyncio.ensure_future(registry.write(lambda ctx: gate.wait(10)))
        queued = [asyncio.ensure_future(registry.write(_register(i))) for i in (1, 2)]
        await asyncio.sleep(0)  # let the three writes reach the queue
        with pytest.raises(TooManyRequests):
            await registry.write(_register(3))
    finally:
        gate.set()
        await asyncio.gather(blocker, *queued)
        await registry.stop()


async def test_a_stopped_registry_refuses_writes(env: FedEnv) -> None:
    registry = _registry(env)
    await registry.start()
    await registry.stop()
    await registry.stop()  # stopping twice is harmless
    with pytest.raises(Unavailable):
        await registry.write(_register(1))
