"""BackgroundTask: one task per component, started and stopped idempotently."""

from __future__ import annotations

import asyncio

from schemas.tasks import BackgroundTask


class Counter(BackgroundTask):
    task_name = "counter"

    def __init__(self) -> None:
        super().__init__()
        self.runs = 0
        self.cancelled = False

    async def run(self) -> None:
        self.runs += 1
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise


async def test_start_twice_runs_one_task() -> None:
    c = Counter()
    await c.start()
    await c.start()
    await asyncio.sleep(0)
    await c.stop()
    assert c.runs == 1


async def test_stop_cancels_the_task_and_waits_for_it() -> None:
    c = Counter()
    await c.start()
    await asyncio.sleep(0)
    await c.stop()
    assert c.cancelled


async def test_stop_twice_or_before_start_is_a_no_op() -> None:
    c = Counter()
    await c.stop()
    await c.start()
    await c.stop()
    await c.stop()
    assert not c.running
