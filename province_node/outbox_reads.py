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

    committed_at is format_utc text, which sorts as time does, so it is compared as text. The
    rows are read newest first by seq (commit order) and the read stops at the first one older
    than the widest window: an hour's count reads an hour's rows, never the whole outbox.
    """
    since = {m: format_utc(now - timedelta(minutes=m)) for m in RATE_WINDOWS_MIN}
    widest = since[max(RATE_WINDOWS_MIN)]
    counts = dict.fromkeys(RATE_WINDOWS_MIN, 0)
    for (committed,) in conn.execute("SELECT committed_at FROM outbox ORDER BY seq DESC"):
        if committed < widest:
            break
        for m in RATE_WINDOWS_MIN:
            if committed >= since[m]:
                counts[m] += 1
    return tuple(CommitRate(m, counts[m]) for m in RATE_WINDOWS_MIN)
