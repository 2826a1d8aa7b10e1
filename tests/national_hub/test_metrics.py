"""The hub's metrics: apply latency on the hub's clock."""

from __future__ import annotations

import pytest

from national_hub.metrics import HubMetrics


def _latency_sum(metrics: HubMetrics) -> float | None:
    return metrics.registry.get_sample_value("regsync_hub_apply_latency_seconds_sum")


def test_apply_latency_is_corrected_by_the_provinces_clock_offset() -> None:
    metrics = HubMetrics(["50", "11"])
    # 11's clock runs 30 s ahead: its committed_at lies 30 s in the hub's future.
    offsets = {"50": 0.0, "11": 30.0}
    metrics.observe_applied({}, [("50", 0.2), ("11", -29.7)], offsets.get)
    assert _latency_sum(metrics) == pytest.approx(0.5)


def test_apply_latency_without_an_estimate_is_taken_as_measured() -> None:
    metrics = HubMetrics(["50"])
    metrics.observe_applied({}, [("50", 0.25)], lambda _: None)
    assert _latency_sum(metrics) == 0.25
