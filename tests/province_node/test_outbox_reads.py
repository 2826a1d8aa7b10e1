"""The outbox reads of the console's health page: commits per window, found by seq."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from province_node import outbox
from province_node.outbox_reads import commit_rates
from schemas.timestamps import format_utc

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def _outbox(minutes_ago: list[float]) -> sqlite3.Connection:
    """An outbox whose seqs 1.. were committed the given minutes before NOW, oldest first."""
    conn = sqlite3.connect(":memory:")
    conn.executescript(outbox.SCHEMA)
    for seq, ago in enumerate(minutes_ago, start=1):
        conn.execute(
            "INSERT INTO outbox (seq, event_id, cert_no, type, record_version, value, sig,"
            " committed_at) VALUES (?, 'e', 'c', 'registered', 1, x'', x'', ?)",
            (seq, format_utc(NOW - timedelta(minutes=ago))),
        )
    return conn


def _counts(conn: sqlite3.Connection) -> dict[int, int]:
    return {rate.minutes: rate.count for rate in commit_rates(conn, NOW)}


def test_an_empty_outbox_counts_nothing() -> None:
    assert _counts(_outbox([])) == {1: 0, 15: 0, 60: 0}


def test_each_window_counts_the_commits_since_its_start() -> None:
    conn = _outbox([120, 59, 30, 14, 10, 0.5, 0.1])
    assert _counts(conn) == {1: 2, 15: 4, 60: 6}


@pytest.mark.parametrize("size", [1, 2, 3, 1000])
def test_a_busy_hour_is_counted_exactly(size: int) -> None:
    # Oldest first: the first half two hours ago, the rest within the last minute.
    ages = [120.0] * (size // 2) + [0.5] * (size - size // 2)
    assert _counts(_outbox(ages))[1] == size - size // 2


def test_commits_older_than_every_window_count_nothing() -> None:
    assert _counts(_outbox([180, 120, 61])) == {1: 0, 15: 0, 60: 0}
