"""Admission: a bound on requests served at once, a bounded FIFO queue, refusals that say when
to retry, and no place lost to a cancelled request (issue 13, item 4)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from national_hub.errors import Overloaded
from national_hub.web.admission import Admission, released


@contextlib.asynccontextmanager
async def holding(admission: Admission) -> AsyncIterator[asyncio.Event]:
    """A task that holds a place until the yielded event is set."""
    done = asyncio.Event()
    admitted = asyncio.Event()

    async def hold() -> None:
        async with admission.admitted():
            admitted.set()
            await done.wait()

    task = asyncio.create_task(hold())
    await admitted.wait()
    try:
        yield done
    finally:
        done.set()
        await task


async def waiting(admission: Admission, order: list[int], n: int) -> asyncio.Task[None]:
    """A task that waits its turn, notes n once admitted, and leaves; returned once queued."""

    async def wait_turn() -> None:
        async with admission.admitted():
            order.append(n)

    before = admission.queued
    task = asyncio.create_task(wait_turn())
    await asyncio.sleep(0)  # it runs until it waits for its turn
    assert admission.queued == before + 1
    return task


async def test_at_most_max_in_flight_are_admitted_at_once() -> None:
    admission = Admission(max_in_flight=2, max_queued=5, max_wait_s=5)
    async with holding(admission), holding(admission):
        third = await waiting(admission, [], 3)
        assert (admission.in_flight, admission.queued, third.done()) == (2, 1, False)
    await third


async def test_waiters_are_admitted_first_come_first_served() -> None:
    admission = Admission(max_in_flight=1, max_queued=5, max_wait_s=5)
    order: list[int] = []
    async with holding(admission):
        tasks = [await waiting(admission, order, n) for n in range(5)]
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4]


async def test_a_request_finding_the_queue_full_is_refused_at_once() -> None:
    admission = Admission(max_in_flight=1, max_queued=1, max_wait_s=5)
    async with holding(admission):
        queued = await waiting(admission, [], 1)
        with pytest.raises(Overloaded) as refused:
            async with admission.admitted():
                pass
    await queued
    assert refused.value.reason == "queue_full"


async def test_a_request_waiting_too_long_is_refused_and_leaves_the_queue() -> None:
    admission = Admission(max_in_flight=1, max_queued=5, max_wait_s=0.05)
    async with holding(admission):
        with pytest.raises(Overloaded) as refused:
            async with admission.admitted():
                pass
        assert (refused.value.reason, admission.queued) == ("queue_timeout", 0)


async def test_a_waiter_cancelled_before_its_turn_leaves_the_queue() -> None:
    admission = Admission(max_in_flight=1, max_queued=5, max_wait_s=5)
    async with holding(admission):
        task = await waiting(admission, [], 1)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert admission.queued == 0
    assert admission.in_flight == 0


async def test_a_waiter_cancelled_as_its_turn_came_passes_the_place_on() -> None:
    admission = Admission(max_in_flight=1, max_queued=5, max_wait_s=5)
    order: list[int] = []
    async with holding(admission) as done:
        first = await waiting(admission, order, 1)
        second = await waiting(admission, order, 2)
        # The holder frees the place when it runs next (handing it to `first`); `first` is
        # cancelled right after that, before it runs.
        done.set()
        asyncio.get_running_loop().call_soon(first.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await first
    await second
    assert (order, admission.in_flight, admission.queued) == ([2], 0, 0)


async def test_an_admitted_request_that_is_cancelled_frees_its_place() -> None:
    admission = Admission(max_in_flight=1, max_queued=0, max_wait_s=5)
    started = asyncio.Event()

    async def serve() -> None:
        async with admission.admitted():
            started.set()
            await asyncio.sleep(60)

    task = asyncio.create_task(serve())
    await started.wait()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert admission.in_flight == 0


async def test_released_frees_the_place_while_its_block_waits() -> None:
    admission = Admission(max_in_flight=1, max_queued=0, max_wait_s=5)
    inside = asyncio.Event()
    resume = asyncio.Event()

    async def lookup_waiting_for_its_token() -> None:
        async with admission.admitted():
            async with released():
                inside.set()
                await resume.wait()

    task = asyncio.create_task(lookup_waiting_for_its_token())
    await inside.wait()
    async with admission.admitted():  # would be refused (queue_full) if the place were held
        pass
    resume.set()
    await task


async def test_released_takes_a_place_again_after_its_block() -> None:
    admission = Admission(max_in_flight=1, max_queued=0, max_wait_s=5)
    async with admission.admitted():
        async with released():
            pass
        assert admission.in_flight == 1


async def test_released_outside_an_admission_does_nothing() -> None:
    async with released():
        pass


async def test_retry_after_is_the_queue_served_max_in_flight_at_a_time() -> None:
    admission = Admission(max_in_flight=2, max_queued=5, max_wait_s=5)
    admission.observe_service(2.0)
    async with holding(admission), holding(admission):
        queued = [await waiting(admission, [], n) for n in range(3)]
        # Three queued and the one asking: 4 x 2 s, two at a time.
        assert admission.retry_after() == 4
    await asyncio.gather(*queued)


def test_retry_after_is_at_least_one_second() -> None:
    admission = Admission(max_in_flight=4, max_queued=100, max_wait_s=5)
    admission.observe_service(0.001)
    assert admission.retry_after() == 1


def test_service_time_is_a_running_mean_led_by_the_first() -> None:
    admission = Admission(max_in_flight=1, max_queued=0, max_wait_s=5)
    admission.observe_service(1.0)
    admission.observe_service(2.0)
    assert admission.service_s == pytest.approx(1.1)


async def test_service_time_leaves_out_the_released_wait() -> None:
    now = [0.0]
    admission = Admission(max_in_flight=1, max_queued=0, max_wait_s=5, clock=lambda: now[0])
    async with admission.admitted():
        now[0] += 0.25
        async with released():
            now[0] += 30.0
        now[0] += 0.25
    assert admission.service_s == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("max_in_flight", "max_queued", "max_wait_s"),
    [(0, 1, 1.0), (1, -1, 1.0), (1, 1, 0.0), (1, 1, float("inf"))],
)
def test_bounds_must_be_positive(max_in_flight: int, max_queued: int, max_wait_s: float) -> None:
    with pytest.raises(ValueError, match="max_in_flight"):
        Admission(max_in_flight, max_queued, max_wait_s)


def test_an_admission_that_never_admitted_is_not_busy() -> None:
    assert not Admission(max_in_flight=1, max_queued=0, max_wait_s=5).busy(1.0)


async def test_a_request_in_flight_makes_it_busy() -> None:
    admission = Admission(max_in_flight=1, max_queued=0, max_wait_s=5, clock=lambda: 100.0)
    async with holding(admission):
        assert admission.busy(0.0)


async def test_it_stays_busy_for_within_s_after_the_last_admission() -> None:
    now = [0.0]
    admission = Admission(max_in_flight=1, max_queued=0, max_wait_s=5, clock=lambda: now[0])
    async with admission.admitted():
        pass
    now[0] = 1.0
    assert admission.busy(1.0)
    now[0] = 1.01
    assert not admission.busy(1.0)
