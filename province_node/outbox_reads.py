"""Reads of the outbox for the console's pages: one change's state, and how many changes the
node committed lately. The relay's reads and writes stay in outbox.py."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from province_node.outbox import LatestEvent
from schemas.timestamps import format_utc

# The windows of the health page's commit rates, in minutes.
RATE_WINDOWS_MIN = (1, 15, 60)


@dataclass(frozen=True, slots=True)
class CommitRate:
    """Changes committed in the last `minutes` minutes, and the rate per minute."""

    minutes: int
    count: int

    @property
    def per_minute(self) -> float:
        """The window's average rate."""
        return self.count / self.minutes


def event(conn: sqlite3.Connection, seq: int) -> LatestEvent | None:
    """The change with this seq and whether the outbox marks it published, or None."""
    row = conn.execute(
        'SELECT seq, record_version, committed_at, published_at, partition, "offset"'
        " FROM outbox WHERE seq = ?",
        (seq,),
    ).fetchone()
    return None if row is None else LatestEvent(*row)


def commit_rates(conn: sqlite3.Connection, now: datetime) -> tuple[CommitRate, ...]:
    """Changes committed in each window of RATE_WINDOWS_MIN up to now.

    Seqs are committed in order, so the changes of a window are the seqs from the first one
    committed at or after its start to the last: each count is a difference of seqs, the start
    found by a binary search over seq (about 20 primary-key reads however busy the hour was; a
    page polled every 5 s must not read an hour of a bulk import's rows each time).
    committed_at is format_utc text, which sorts as time does, so it is compared as text.
    """
    last = conn.execute("SELECT MAX(seq) FROM outbox").fetchone()[0]
    if last is None:
        return tuple(CommitRate(m, 0) for m in RATE_WINDOWS_MIN)
    first = conn.execute("SELECT MIN(seq) FROM outbox").fetchone()[0]
    counts = {}
    for minutes in RATE_WINDOWS_MIN:
        start = _first_seq_since(conn, format_utc(now - timedelta(minutes=minutes)), first, last)
        counts[minutes] = 0 if start is None else last - start + 1
    return tuple(CommitRate(m, counts[m]) for m in RATE_WINDOWS_MIN)


def _first_seq_since(conn: sqlite3.Connection, since: str, low: int, high: int) -> int | None:
    """The lowest seq in [low, high] committed at or after `since`, or None."""
    found: int | None = None
    while low <= high:
        middle = (low + high) // 2
        # A seq below the outbox's first (pruned or never held) is older than any window.
        row = conn.execute(
            "SELECT seq, committed_at FROM outbox WHERE seq >= ? ORDER BY seq LIMIT 1", (middle,)
        ).fetchone()
        if row is None:
            high = middle - 1
        elif row[1] >= since:
            found = row[0]
            high = middle - 1
        else:
            low = row[0] + 1
    return found
