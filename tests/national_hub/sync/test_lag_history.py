"""LagHistory: a bounded in-memory ring of lag samples per province."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from national_hub.sync.lag_history import LagHistory

T0 = datetime(2026, 11, 22, 4, 0, 0, tzinfo=UTC)


def test_since_returns_the_window_oldest_first() -> None:
    history = LagHistory(interval=60.0, retention_minutes=30)
    for minute in range(20):
        history.record(T0 + timedelta(minutes=minute), {"50": float(minute), "44": None})
    got = history.since(5, now=T0 + timedelta(minutes=19))
    assert [p["lag_seconds"] for p in got["50"]] == [14.0, 15.0, 16.0, 17.0, 18.0, 19.0]
    assert got["50"][0]["t"] == "2026-11-22T04:14:00.000Z"
    assert {p["lag_seconds"] for p in got["44"]} == {None}


def test_ring_keeps_no_more_than_the_retention() -> None:
    history = LagHistory(interval=60.0, retention_minutes=30)
    for minute in range(100):
        history.record(T0 + timedelta(minutes=minute), {"50": 1.0})
    got = history.since(1000, now=T0 + timedelta(minutes=99))
    assert 30 <= len(got["50"]) <= 40
