"""RateLimiter: per-client token buckets, and the client identity they are kept by."""

from __future__ import annotations

import pytest

from national_hub.web.ratelimit import RateLimiter
from schemas.throttle import client_key


def test_bucket_refills_at_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=10, burst=2, clock=lambda: now[0])
    drained = [limiter.acquire("a") for _ in range(3)]
    now[0] += 0.1
    assert (drained, limiter.acquire("a")) == ([0.0, 0.0, pytest.approx(0.1)], 0.0)


def test_buckets_are_per_client() -> None:
    limiter = RateLimiter(rate=1, burst=1, clock=lambda: 0.0)
    assert (limiter.acquire("a"), limiter.acquire("b")) == (0.0, 0.0)


def test_idle_clients_are_forgotten_when_full() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=1, burst=1, max_clients=2, clock=lambda: now[0])
    limiter.acquire("a")
    limiter.acquire("b")
    now[0] = 5.0
    limiter.acquire("c")
    assert len(limiter._buckets) == 1


@pytest.mark.parametrize(
    ("remote", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8::1", "2001:db8::/64"),
        ("2001:db8::ffff", "2001:db8::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        (None, "unknown"),
    ],
)
def test_client_key_groups_ipv6_by_64(remote: str | None, key: str) -> None:
    assert client_key(remote) == key
