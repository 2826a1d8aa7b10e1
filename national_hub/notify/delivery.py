"""Calling the webhooks: signed POSTs, a few at a time per receiver, each within a timeout."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable

import aiohttp

from national_hub.notify.dbthread import DbThread
from national_hub.notify.outbox import Due, Outbox
from national_hub.notify.retry import RetryPolicy
from national_hub.notify.signing import ID_HEADER, SIGNATURE_HEADER, signature_header
from national_hub.tuning import NotifyTuning

log = logging.getLogger(__name__)

# Told of each attempt: (institution, state the delivery is left in, seconds since the commit).
AttemptListener = Callable[[str, str, float], None]

# The start of an error body kept in the delivery log: enough to see what the receiver said.
ERROR_EXCERPT = 200


class Deliverer:
    """Delivers due deliveries until stopped.

    A webhook has at most receiver_concurrency calls in flight and all at most max_in_flight;
    a call that has not answered within timeout_s failed. A slow or dead receiver therefore
    only ever holds its own places: the others' deliveries are taken past it.
    """

    def __init__(
        self,
        outbox: Outbox,
        db: DbThread,
        tuning: NotifyTuning,
        on_attempt: AttemptListener | None = None,
    ) -> None:
        self._outbox = outbox
        self._db = db
        self._tuning = tuning
        self._policy = RetryPolicy(tuning.backoff_base_s, tuning.backoff_max_s, tuning.retry_for_s)
        self._on_attempt = on_attempt
        self._in_flight: dict[int, str] = {}
        self._per_hook: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """New deliveries were stored: look at once rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Take due deliveries and start their calls, until cancelled (calls are cancelled too:
        an interrupted call is owed still, and made again by whoever delivers next)."""
        timeout = aiohttp.ClientTimeout(total=self._tuning.timeout_s)
        connector = aiohttp.TCPConnector(limit=self._tuning.max_in_flight)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            try:
                while True:
                    await self._start_due(session)
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self._tuning.poll_s)
            finally:
                for task in list(self._tasks):
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _start_due(self, session: aiohttp.ClientSession) -> None:
        room = self._tuning.max_in_flight - len(self._in_flight)
        if room <= 0:
            return
        in_flight = set(self._in_flight)
        due = await self._db.run(lambda: self._outbox.due(time.time(), room, in_flight))
        for d in due:
            if self._per_hook[d.webhook_id] >= self._tuning.receiver_concurrency:
                continue
            if len(self._in_flight) >= self._tuning.max_in_flight:
                break
            self._in_flight[d.id] = d.webhook_id
            self._per_hook[d.webhook_id] += 1
            task = asyncio.create_task(self._deliver(session, d))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, session: aiohttp.ClientSession, due: Due) -> None:
        try:
            status, error, ms = await self._call(session, due)
            now = time.time()
            ok = status is not None and 200 <= status < 300
            next_at = None if ok else self._policy.next_at(due.attempts + 1, now, due.started)
            state = await self._db.run(
                lambda: self._outbox.record(due, now, status, error, ms, next_at)
            )
            if self._on_attempt is not None:
                self._on_attempt(due.org_code, state, now - due.committed_at)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The store refused the result (busy, or this process lost the lease): the delivery
            # is still owed and is taken again.
            log.exception("delivery %s: result not stored", due.id)
        finally:
            del self._in_flight[due.id]
            self._per_hook[due.webhook_id] -= 1
            self._wake.set()

    @staticmethod
    async def _call(
        session: aiohttp.ClientSession, due: Due
    ) -> tuple[int | None, str | None, float]:
        """(status, error, milliseconds) of one signed POST; status None if none came."""
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            ID_HEADER: due.notification_id,
            SIGNATURE_HEADER: signature_header(due.secret, due.body),
            "User-Agent": "regsync-notify/1",
        }
        start = time.perf_counter()
        try:
            async with session.post(
                due.url, data=due.body, headers=headers, allow_redirects=False
            ) as resp:
                text = "" if resp.status < 300 else (await resp.text(errors="replace"))
                ms = (time.perf_counter() - start) * 1000
                return resp.status, (text[:ERROR_EXCERPT] or None), ms
        except TimeoutError:
            return None, "timed out", (time.perf_counter() - start) * 1000
        except aiohttp.ClientError as exc:
            return (
                None,
                f"{type(exc).__name__}: {exc}"[:ERROR_EXCERPT],
                (time.perf_counter() - start) * 1000,
            )
