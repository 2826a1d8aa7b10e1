"""When a failed delivery is tried again, and when it is given up: pure."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff from base_s doubling to max_s, for retry_for_s, then dead."""

    base_s: float
    max_s: float
    retry_for_s: float

    def delay(self, attempts: int, rng: random.Random | None = None) -> float:
        """The wait after the attempts-th failed attempt: base × 2^(attempts-1), capped, with
        up to 10 % jitter so receivers that failed together are not retried together."""
        plain = min(self.base_s * 2 ** min(attempts - 1, 40), self.max_s)
        return plain * (1 + 0.1 * (rng or random).random())

    def next_at(self, attempts: int, now: float, started: float) -> float | None:
        """When to try again after a failure at now, or None: dead (retried for long enough).

        The last retry is put at the end of the window rather than skipped, so a delivery is
        tried for at least retry_for_s.
        """
        end = started + self.retry_for_s
        if now >= end:
            return None
        return min(now + self.delay(attempts), end)
