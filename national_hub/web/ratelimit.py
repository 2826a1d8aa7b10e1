"""Per-client token buckets for the public endpoints."""

from __future__ import annotations

import time
from collections.abc import Callable

from national_hub.tuning import RateLimit


class RateLimiter:
    """Per-client token buckets: `rate` tokens per second sustained, bursts up to `burst`.

    A request takes as many tokens as it costs (a lookup 1, an explanation that asks every node
    10: national_hub.web.middleware weighs them); a cost above the burst takes the full bucket.
    A refusal is answered after `refusal_delay` seconds (at most the wait), for at most
    `max_delayed` refusals at once: a client that loops on 429s then asks a few times a second
    instead of thousands, and each refusal still costs the hub little.
    """

    __slots__ = (
        "_buckets",
        "_clock",
        "burst",
        "delayed",
        "enabled",
        "max_clients",
        "max_delayed",
        "rate",
        "refusal_delay",
    )

    def __init__(
        self,
        rate: float = 50.0,
        burst: float = 100.0,
        *,
        enabled: bool = True,
        max_clients: int = 100_000,
        refusal_delay: float = 0.0,
        max_delayed: int = 1_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self.enabled = enabled
        self.max_clients = max_clients
        self.refusal_delay = refusal_delay
        self.max_delayed = max_delayed
        self.delayed = 0  # refusals waiting now (the middleware counts them)
        self._clock = clock
        self._buckets: dict[str, list[float]] = {}  # client -> [tokens, last refill time]

    @classmethod
    def from_limit(
        cls, limit: RateLimit, refusal_delay: float = 0.0, max_delayed: int = 1_000
    ) -> RateLimiter:
        """The limiter of the hub's tuning (hub.tuning.web.rate_limit, refusal_delay_s,
        refusals_delayed_max)."""
        return cls(
            limit.rate,
            limit.burst,
            enabled=limit.enabled,
            refusal_delay=refusal_delay,
            max_delayed=max_delayed,
        )

    def delay_for(self, wait: float) -> float:
        """How long to hold a refusal whose client must wait `wait` s: 0 when max_delayed
        refusals already wait."""
        if self.delayed >= self.max_delayed:
            return 0.0
        return min(wait, self.refusal_delay)

    def acquire(self, client: str, cost: float = 1.0) -> float:
        """Take `cost` tokens for client: 0.0 if allowed, else the seconds until they are there."""
        if not self.enabled:
            return 0.0
        cost = min(cost, self.burst)
        bucket, tokens = self._refill(client)
        if tokens >= cost:
            bucket[0] = tokens - cost
            return 0.0
        bucket[0] = tokens
        return (cost - tokens) / self.rate

    def charge(self, client: str, cost: float) -> None:
        """Take `cost` more tokens for work a request turned out to cause (no refusal: the
        bucket may go below zero, down to minus one burst, and the client waits it off)."""
        if not self.enabled or cost <= 0:
            return
        bucket, tokens = self._refill(client)
        bucket[0] = max(-self.burst, tokens - cost)

    def _refill(self, client: str) -> tuple[list[float], float]:
        """The client's bucket and its tokens now (its time is set to now)."""
        now = self._clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= self.max_clients:
                self._prune(now)
            bucket = self._buckets[client] = [self.burst, now]
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        return bucket, tokens

    def _prune(self, now: float) -> None:
        """Forget clients whose bucket has refilled (they lose nothing); else the oldest half."""
        refill = 2 * self.burst / self.rate  # from one burst in debt (charge) to full
        self._buckets = {k: b for k, b in self._buckets.items() if now - b[1] < refill}
        if len(self._buckets) >= self.max_clients:
            # Many distinct clients at once (e.g. spoofed IPv6 sources): bound the memory.
            recent = sorted(self._buckets.items(), key=lambda kv: kv[1][1])
            self._buckets = dict(recent[len(recent) // 2 :])
