"""The stats cache: one GROUP BY at a time, stale answers while it refreshes."""

from __future__ import annotations

import asyncio

from national_hub.query.stats_cache import StatsCache


class Counts:
    """A compute function that counts its runs and can be held until released."""

    def __init__(self) -> None:
        self.runs = 0
        self.release = asyncio.Event()

    async def __call__(self) -> bytes:
        self.runs += 1
        await self.release.wait()
        return f"answer {self.runs}".encode()


async def test_concurrent_first_requests_share_one_query() -> None:
    cache, compute = StatsCache(), Counts()
    waiting = [asyncio.create_task(cache.get(("province",), compute)) for _ in range(16)]
    await asyncio.sleep(0)
    compute.release.set()
    assert set(await asyncio.gather(*waiting)) == {b"answer 1"}
    assert compute.runs == 1


async def test_an_expired_answer_is_served_while_one_refresh_runs() -> None:
    cache, compute = StatsCache(ttl=0.0), Counts()
    compute.release.set()
    assert await cache.get((), compute) == b"answer 1"
    compute.release.clear()
    stale = [await cache.get((), compute) for _ in range(5)]
    await asyncio.sleep(0)  # let the one refresh start
    assert stale == [b"answer 1"] * 5 and compute.runs == 2
    compute.release.set()
    await asyncio.sleep(0.01)
    assert await cache.get((), compute) == b"answer 2"
