"""Record counts per group, recomputed at most every ttl seconds, one query at a time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class StatsCache:
    """Counts per group_by, recomputed at most every `ttl` seconds, one query at a time.

    Counts over 5M rows take ~60 ms; a short cache (ttl: hub.tuning.web.stats_ttl_s) keeps a
    burst of dashboard or benchmark requests from queueing scans on the store's connection.

    Once an answer exists, an expired one is still served while a single refresh runs, so an
    expiry never queues every request behind a GROUP BY over millions of rows.
    """

    def __init__(self, ttl: float = 2.0) -> None:
        self._ttl = ttl
        self._answers: dict[tuple[str, ...], tuple[float, bytes]] = {}
        self._refreshing: dict[tuple[str, ...], asyncio.Task[bytes]] = {}

    async def get(self, groups: tuple[str, ...], compute: Callable[[], Awaitable[bytes]]) -> bytes:
        """The answer for groups: cached, stale while refreshing, or computed now."""
        hit = self._answers.get(groups)
        if hit is not None and time.monotonic() - hit[0] < self._ttl:
            return hit[1]
        task = self._refreshing.get(groups)
        if task is None:
            task = asyncio.create_task(self._refresh(groups, compute))
            # A refresh nobody waits for may fail (e.g. at shutdown); its error is dropped.
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            self._refreshing[groups] = task
        if hit is not None:
            return hit[1]
        return await asyncio.shield(task)

    async def _refresh(
        self, groups: tuple[str, ...], compute: Callable[[], Awaitable[bytes]]
    ) -> bytes:
        try:
            body = await compute()
            self._answers[groups] = (time.monotonic(), body)
            return body
        finally:
            self._refreshing.pop(groups, None)
