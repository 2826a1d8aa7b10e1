"""The one thread a process's notify-store connection is used from."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from national_hub.notify.schema import connect

T = TypeVar("T")


class DbThread:
    """A connection to the notify store and the single thread that uses it.

    One thread: a sqlite3 connection must not run two transactions at once, and a write that
    waits for another process's transaction (busy_timeout) must not block the event loop.
    """

    def __init__(self, path: Path) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="notify-db")
        self.conn: sqlite3.Connection = self._pool.submit(connect, path).result()

    async def run(self, fn: Callable[[], T]) -> T:
        """Run a blocking call on the thread."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    def close(self) -> None:
        """Close the connection on its thread and stop the thread."""
        self._pool.submit(self.conn.close).result()
        self._pool.shutdown()
