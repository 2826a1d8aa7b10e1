"""SinkThreads: a connection per reader thread, all closed at shutdown."""

from __future__ import annotations

import threading

from national_hub.sinkthreads import SinkThreads


class Conn:
    def __init__(self) -> None:
        self.thread = threading.get_ident()
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_a_thread_keeps_its_own_connection() -> None:
    threads: SinkThreads[Conn] = SinkThreads("t", 2, Conn)
    try:
        twice = threads.readers.submit(lambda: (threads.reader(), threads.reader())).result()
    finally:
        threads.shutdown()
    assert twice[0] is twice[1]


def test_each_thread_has_a_connection_of_its_own() -> None:
    threads: SinkThreads[Conn] = SinkThreads("t", 2, Conn)
    try:
        there = threads.readers.submit(threads.reader).result()
        here = threads.reader()
    finally:
        threads.shutdown()
    assert here is not there
    assert here.thread == threading.get_ident()


def test_shutdown_closes_every_reader_connection() -> None:
    threads: SinkThreads[Conn] = SinkThreads("t", 2, Conn)
    made = [threads.readers.submit(threads.reader).result() for _ in range(4)]
    made.append(threads.reader())
    threads.shutdown()
    assert all(c.closed for c in made)
