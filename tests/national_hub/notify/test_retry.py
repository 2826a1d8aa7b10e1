"""Backoff and the dead state."""

from __future__ import annotations

import random

from national_hub.notify.retry import RetryPolicy

POLICY = RetryPolicy(base_s=5, max_s=3600, retry_for_s=86_400)


def test_delay_doubles() -> None:
    rng = random.Random(0)
    first, third = POLICY.delay(1, rng), POLICY.delay(3, rng)
    assert 5 <= first <= 5.5 and 20 <= third <= 22


def test_delay_is_capped() -> None:
    assert POLICY.delay(30) <= 3600 * 1.1


def test_retried_within_the_window() -> None:
    assert POLICY.next_at(3, now=1000, started=0) is not None


def test_last_retry_is_at_the_end_of_the_window() -> None:
    assert POLICY.next_at(20, now=86_000, started=0) == 86_400


def test_dead_after_the_window() -> None:
    assert POLICY.next_at(40, now=86_400, started=0) is None


def test_a_whole_day_of_retries_takes_many_attempts() -> None:
    now, attempts = 0.0, 0
    while (nxt := POLICY.next_at(attempts + 1, now, 0)) is not None:
        now, attempts = nxt, attempts + 1
    assert now >= 86_400 and attempts > 10
