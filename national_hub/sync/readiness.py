"""Whether a hub may take public reads: the decision a load balancer routes on (GET /readyz).

Behind a balancer (issue 16), a replica that is catching up (seeded from a snapshot, started on
an empty store, or back after an outage) must not answer the public: its answers would be older
than its siblings'. A province holds the replica back only while both are true:

- Kafka holds events of it the replica has not applied (consumer lag in messages > 0), and
- its freshness lag (national_hub.sync.freshness) is above the bound, or still unknown.

Either alone is no reason: under steady writes the consumer lag is rarely 0 though the copy is
seconds fresh, and a province whose node is down shows a growing freshness lag although every
replica holds all it ever published; holding every replica back for that would take the whole
hub out of the balancer for one quiet province.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProvinceLag:
    """What the replica knows of one province now."""

    consumer_lag: int
    lag_seconds: float | None


@dataclass(frozen=True, slots=True)
class Readiness:
    """The decision and, when not ready, which provinces hold it back (in code order)."""

    ready: bool
    behind: tuple[str, ...] = ()


def decide_readiness(lags: Mapping[str, ProvinceLag], max_lag_s: float) -> Readiness:
    """Ready unless some province has unapplied events in Kafka and is not fresh enough."""
    behind = tuple(
        sorted(
            code
            for code, lag in lags.items()
            if lag.consumer_lag > 0 and (lag.lag_seconds is None or lag.lag_seconds > max_lag_s)
        )
    )
    return Readiness(ready=not behind, behind=behind)
