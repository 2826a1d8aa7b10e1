"""The readiness decision a load balancer routes on (national_hub.sync.readiness)."""

from __future__ import annotations

from national_hub.sync.readiness import ProvinceLag, decide_readiness

BOUND = 10.0


def test_caught_up_everywhere_is_ready() -> None:
    lags = {"11": ProvinceLag(0, 3.0), "50": ProvinceLag(0, None)}
    assert decide_readiness(lags, BOUND).ready


def test_unapplied_events_and_stale_hold_back_that_province() -> None:
    lags = {"11": ProvinceLag(0, 3.0), "50": ProvinceLag(120_000, 5_000.0)}
    assert decide_readiness(lags, BOUND).behind == ("50",)


def test_unapplied_events_without_freshness_evidence_hold_back() -> None:
    # A replica starting on an empty store: no heartbeat applied yet, the whole topic ahead.
    assert not decide_readiness({"44": ProvinceLag(5, None)}, BOUND).ready


def test_steady_writes_within_the_bound_are_ready() -> None:
    # Under writes a few messages always wait in Kafka though the copy is seconds fresh.
    assert decide_readiness({"50": ProvinceLag(40, 1.5)}, BOUND).ready


def test_a_silent_province_with_nothing_unapplied_does_not_hold_back() -> None:
    # Its node is down: the lag grows, but this replica holds all it ever published.
    assert decide_readiness({"50": ProvinceLag(0, 3_600.0)}, BOUND).ready


def test_every_province_behind_is_named_in_code_order() -> None:
    lags = {"50": ProvinceLag(1, 60.0), "11": ProvinceLag(1, 60.0)}
    assert decide_readiness(lags, BOUND).behind == ("11", "50")
