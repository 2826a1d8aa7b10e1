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


def test_a_request_takes_its_cost() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=10, burst=20, clock=lambda: now[0])
    taken = [limiter.acquire("a", 10) for _ in range(3)]
    assert taken == [0.0, 0.0, pytest.approx(1.0)]  # 10 tokens at 10/s
    now[0] += 1.0
    assert limiter.acquire("a", 10) == 0.0


def test_a_cost_above_the_burst_takes_the_full_bucket() -> None:
    limiter = RateLimiter(rate=1, burst=5, clock=lambda: 0.0)
    assert (limiter.acquire("a", 50), limiter.acquire("a")) == (0.0, pytest.approx(1.0))


def test_a_charge_after_the_fact_puts_the_client_in_debt() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=10, burst=20, clock=lambda: now[0])
    assert limiter.acquire("a") == 0.0
    limiter.charge("a", 100)  # at most one burst of debt: -20
    assert limiter.acquire("a") == pytest.approx(2.1)
    now[0] += 2.1
    assert limiter.acquire("a") == 0.0


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
