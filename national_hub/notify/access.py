"""The hub's side of the notify store: what /v1/watch/* asks of it, off the event loop."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from national_hub.notify.dbthread import DbThread
from national_hub.notify.institutions import Institution, Institutions
from national_hub.notify.journal import Journal
from national_hub.notify.watchlist import Enrolment, WatchList
from national_hub.notify.webhooks import Webhook, Webhooks

T = TypeVar("T")


class WatchAccess:
    """Institutions, watch lists, webhooks, deliveries and the feed, for the web layer.

    Every call runs on the one thread of the store's connection (notify.dbthread), so a write
    waiting for the notifier's transaction never blocks the event loop.
    """

    def __init__(self, path: Path, watch_limit: int, poll_s: float) -> None:
        self._path = path
        self._watch_limit = watch_limit
        self._poll_s = poll_s
        self._db: DbThread | None = None

    async def start(self) -> None:
        """Open the store (made on first use)."""
        loop = asyncio.get_running_loop()
        self._db = await loop.run_in_executor(None, DbThread, self._path)

    async def stop(self) -> None:
        """Close the store."""
        if self._db is not None:
            db, self._db = self._db, None
            await asyncio.get_running_loop().run_in_executor(None, db.close)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._db is None:
            raise RuntimeError("the notify store is not open")
        return await self._db.run(functools.partial(fn, *args))

    def _conn(self) -> Any:
        assert self._db is not None
        return self._db.conn

    async def authenticate(self, key: str) -> Institution | None:
        """The institution whose key this is, if it is in force."""
        return await self._run(lambda: Institutions(self._conn()).authenticate(key))

    async def enrol(
        self, org_code: str, cert_nos: Sequence[str], known: Callable[[Sequence[str]], set[str]]
    ) -> Enrolment:
        """Watch certificates (WatchList.add)."""
        return await self._run(
            lambda: WatchList(self._conn(), self._watch_limit).add(org_code, cert_nos, known)
        )

    async def watched(
        self, org_code: str, after: str, limit: int
    ) -> tuple[list[tuple[str, float]], int, bool]:
        """A page of the watch list, how many are watched, whether the roster is."""

        def read() -> tuple[list[tuple[str, float]], int, bool]:
            watch = WatchList(self._conn(), self._watch_limit)
            return (
                watch.page(org_code, after, limit),
                watch.count(org_code),
                watch.roster_enabled(org_code),
            )

        return await self._run(read)

    async def unwatch(self, org_code: str, cert_no: str) -> bool:
        """Stop watching one certificate; whether it was watched."""
        return await self._run(
            lambda: WatchList(self._conn(), self._watch_limit).remove(org_code, cert_no)
        )

    async def set_roster(self, org_code: str, enabled: bool) -> None:
        """Watch the institution's roster, or stop."""
        await self._run(
            lambda: WatchList(self._conn(), self._watch_limit).set_roster(org_code, enabled)
        )

    async def create_webhook(self, org_code: str, url: str) -> Webhook:
        """A new webhook with its secret."""
        return await self._run(lambda: Webhooks(self._conn()).create(org_code, url))

    async def webhooks(self, org_code: str) -> list[Webhook]:
        """The institution's live webhooks."""
        return await self._run(lambda: Webhooks(self._conn()).live(org_code))

    async def delete_webhook(self, org_code: str, webhook_id: str) -> None:
        """Stop delivering to a webhook."""
        await self._run(lambda: Webhooks(self._conn()).delete(org_code, webhook_id))

    async def deliveries(
        self, org_code: str, webhook_id: str, after: int, limit: int
    ) -> list[dict[str, Any]]:
        """A page of a webhook's delivery log."""
        return await self._run(
            lambda: Webhooks(self._conn()).deliveries(org_code, webhook_id, after, limit)
        )

    async def redeliver(self, org_code: str, delivery_id: int) -> None:
        """Put a delivery back in line."""
        await self._run(lambda: Webhooks(self._conn()).redeliver(org_code, delivery_id))

    async def feed(
        self, org_code: str, after: int, limit: int, wait: float
    ) -> list[tuple[int, dict[str, Any]]]:
        """Notifications after a position; with wait > 0, the first ones to come within it.

        The notifier is another process, so nothing wakes this one: it looks again every
        poll_s (one indexed read each time).
        """
        deadline = time.monotonic() + wait
        while True:
            items = await self._run(lambda: Journal(self._conn()).feed(org_code, after, limit))
            if items or time.monotonic() >= deadline:
                return items
            await asyncio.sleep(min(self._poll_s * 2, max(0.0, deadline - time.monotonic())))
