"""Per-client token buckets for the public endpoints."""

from __future__ import annotations

import time
from collections.abc import Callable

from national_hub.tuning import RateLimit


class RateLimiter:
    """Per-client token buckets: `rate` requests per second sustained, bursts up to `burst`."""

    __slots__ = ("_buckets", "_clock", "burst", "enabled", "max_clients", "rate")

    def __init__(
        self,
        rate: float = 50.0,
        burst: float = 100.0,
        *,
        enabled: bool = True,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self.enabled = enabled
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: dict[str, list[float]] = {}  # client -> [tokens, last refill time]

    @classmethod
    def from_limit(cls, limit: RateLimit) -> RateLimiter:
        """The limiter of the hub's tuning (hub.tuning.web.rate_limit)."""
        return cls(limit.rate, limit.burst, enabled=limit.enabled)

    def acquire(self, client: str) -> float:
        """Take one token for client: 0.0 if allowed, else the seconds until one is available."""
        if not self.enabled:
            return 0.0
        now = self._clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= self.max_clients:
                self._prune(now)
            bucket = self._buckets[client] = [self.burst, now]
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        """Forget clients whose bucket has refilled (they lose nothing); else the oldest half."""
        refill = self.burst / self.rate
        self._buckets = {k: b for k, b in self._buckets.items() if now - b[1] < refill}
        if len(self._buckets) >= self.max_clients:
            # Many distinct clients at once (e.g. spoofed IPv6 sources): bound the memory.
            recent = sorted(self._buckets.items(), key=lambda kv: kv[1][1])
            self._buckets = dict(recent[len(recent) // 2 :])
