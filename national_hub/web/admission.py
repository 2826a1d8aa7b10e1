"""Bounded admission: at most N requests run at once, M more wait in turn, the rest are refused.

Without a bound, a hub that receives more reads than it serves queues them invisibly (in the
event loop, the reader threads' work queue, the kernel's accept queue) and every answer gets
slower without limit. Here the excess waits in one FIFO queue of known length for a known
longest time, and beyond either a request is turned away at once with an estimate of when a
retry would be served (`Overloaded`), which the web edge answers as 503 with Retry-After.

Pure asyncio: the middleware (national_hub.web.middleware) puts the public reads through it,
and the tests drive it without a server.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar

from national_hub.errors import Overloaded

__all__ = ["Admission", "Slot", "released"]

# Weight of the newest service time in the running mean: the estimate follows a change of load
# within a few dozen requests, while one slow request moves it by a tenth only.
EWMA_WEIGHT = 0.1


class Slot:
    """One request's place among the admitted; it counts the time it was held (service time)."""

    __slots__ = ("_admission", "_since", "busy_s")

    def __init__(self, admission: Admission) -> None:
        self._admission = admission
        self._since: float | None = None  # when it was last taken; None while not held
        self.busy_s = 0.0

    @property
    def held(self) -> bool:
        return self._since is not None

    async def take(self) -> None:
        """Wait in turn for a place (Overloaded when refused)."""
        await self._admission._acquire()
        self._since = self._admission._clock()

    def give_back(self) -> None:
        """Free the place (a no-op when not held), adding the time held to busy_s."""
        if self._since is None:
            return
        self.busy_s += self._admission._clock() - self._since
        self._since = None
        self._admission._release()

    @contextlib.asynccontextmanager
    async def released(self) -> AsyncIterator[None]:
        """Free the place while the block waits without working, then wait in turn again.

        For waits that cost the hub nothing (a lookup waiting up to 30 s for ingest to apply
        its sync token): holding a place through them would refuse others for no work. Taking
        the place back goes through the queue like any arrival, so it may raise Overloaded.
        When the block raises (e.g. the client went away) the place is not taken back.
        """
        self.give_back()
        yield
        await self.take()


# The slot of the request the current task serves, so a handler can release it (`released`)
# without the middleware passing it down.
_CURRENT: ContextVar[Slot | None] = ContextVar("admission_slot", default=None)


@contextlib.asynccontextmanager
async def released() -> AsyncIterator[None]:
    """Slot.released() for the request this task serves; a no-op for one not admitted."""
    slot = _CURRENT.get()
    if slot is None or not slot.held:
        yield
        return
    async with slot.released():
        yield


class Admission:
    """At most `max_in_flight` admitted at once; up to `max_queued` more wait, first come first
    served, for at most `max_wait_s`; anyone else is refused with Overloaded.

    Cancellation-safe: a waiter cancelled before its turn leaves the queue, and one cancelled
    just as a place was handed to it passes the place on, so no place is ever lost.
    """

    def __init__(
        self,
        max_in_flight: int,
        max_queued: int,
        max_wait_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_in_flight < 1 or max_queued < 0 or not 0 < max_wait_s < math.inf:
            raise ValueError("need max_in_flight >= 1, max_queued >= 0 and 0 < max_wait_s < inf")
        self.max_in_flight = max_in_flight
        self.max_queued = max_queued
        self.max_wait_s = max_wait_s
        self._clock = clock
        self._in_flight = 0
        # A waiter's future gets its result when a place is handed to it.
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._service_s: float | None = None  # running mean of the time a slot is held
        self._last_admitted: float | None = None  # clock() of the latest admission

    @property
    def in_flight(self) -> int:
        """Requests admitted now."""
        return self._in_flight

    @property
    def queued(self) -> int:
        """Requests waiting for a place now."""
        return len(self._waiters)

    def busy(self, within_s: float) -> bool:
        """Whether requests are being served: one is in flight or waiting, or one was admitted
        within the last within_s seconds (ingest then applies in short steps)."""
        if self._in_flight or self._waiters:
            return True
        last = self._last_admitted
        return last is not None and self._clock() - last <= within_s

    @property
    def service_s(self) -> float | None:
        """The running mean of service time (a slot held), None before the first."""
        return self._service_s

    def observe_service(self, seconds: float) -> None:
        """Take one service time into the running mean."""
        mean = self._service_s
        self._service_s = seconds if mean is None else mean + EWMA_WEIGHT * (seconds - mean)

    def retry_after(self) -> int:
        """Whole seconds until a request arriving now would likely be served (at least 1):
        everyone queued and itself, served max_in_flight at a time at the mean service time."""
        estimate = (self.queued + 1) * (self._service_s or 0.0) / self.max_in_flight
        return max(1, math.ceil(estimate))

    @contextlib.asynccontextmanager
    async def admitted(self) -> AsyncIterator[Slot]:
        """Hold a place for the block (Overloaded when refused); its service time is observed
        when it ends, however it ends."""
        slot = Slot(self)
        await slot.take()
        self._last_admitted = self._clock()
        token = _CURRENT.set(slot)
        try:
            yield slot
        finally:
            _CURRENT.reset(token)
            slot.give_back()
            self.observe_service(slot.busy_s)

    async def _acquire(self) -> None:
        if self._in_flight < self.max_in_flight and not self._waiters:
            self._in_flight += 1
            return
        if len(self._waiters) >= self.max_queued:
            raise Overloaded("queue_full", self.retry_after())
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(self.max_wait_s):
                await waiter
        except TimeoutError:
            if _handed(waiter):
                return  # the place came as the wait ran out: it is ours
            self._leave(waiter)
            raise Overloaded("queue_timeout", self.retry_after()) from None
        except asyncio.CancelledError:
            if _handed(waiter):
                self._release()  # handed to us just before we were cancelled: pass it on
            else:
                self._leave(waiter)
            raise

    def _leave(self, waiter: asyncio.Future[None]) -> None:
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)

    def _release(self) -> None:
        # The place goes straight to the first waiter still waiting (in_flight is unchanged);
        # one cancelled but not yet resumed is skipped (it removes itself when it resumes).
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._in_flight -= 1


def _handed(waiter: asyncio.Future[None]) -> bool:
    """Whether a place was handed to this waiter."""
    return waiter.done() and not waiter.cancelled()
