"""The threads of a store the hub writes and reads: one writer, a pool of readers, each reader
thread with its own connection, all closed together.

The DuckDB store and the SQLite serving index both work this way: a single writer thread keeps
every apply in one order without locks, and reads run on connections of their own so the event
loop never waits for a query. Connection-type agnostic: the owner says how a reader connects.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, Protocol, TypeVar


class Closable(Protocol):
    def close(self) -> None: ...


C = TypeVar("C", bound=Closable)


class SinkThreads(Generic[C]):
    """`writer` (one thread) and `readers` (a pool); reader() is the calling thread's own
    connection, opened by `connect` on first use."""

    def __init__(self, name: str, readers: int, connect: Callable[[], C]) -> None:
        self._connect = connect
        self._local = threading.local()
        self._conns: list[C] = []
        self._lock = threading.Lock()
        self.readers = ThreadPoolExecutor(max_workers=readers, thread_name_prefix=f"{name}-read")
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-write")

    def reader(self) -> C:
        """This thread's own read connection."""
        con: C | None = getattr(self._local, "con", None)
        if con is None:
            con = self._connect()
            self._local.con = con
            with self._lock:
                self._conns.append(con)
        return con

    def shutdown(self) -> None:
        """Wait for queued work, stop the threads and close every reader connection."""
        self.writer.shutdown(wait=True)
        self.readers.shutdown(wait=True)
        with self._lock:
            conns, self._conns = self._conns, []
        for con in conns:
            con.close()
