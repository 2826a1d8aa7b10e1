"""The notifier's metrics: delivery states and latency per institution, no certificate."""

from __future__ import annotations

from national_hub.notify.metrics import NotifyMetrics

ORG = "12500000450400012K"


def test_delivered_attempt_observes_latency() -> None:
    m = NotifyMetrics()
    m.attempted(ORG, "delivered", 0.3)
    text = m.render().decode()
    assert f'regsync_notify_delivery_latency_seconds_count{{institution="{ORG}"}} 1.0' in text


def test_failed_attempt_is_counted_without_latency() -> None:
    m = NotifyMetrics()
    m.attempted(ORG, "retrying", 0.3)
    text = m.render().decode()
    assert f'regsync_notify_attempts_total{{institution="{ORG}",outcome="retrying"}} 1.0' in text
    assert "regsync_notify_delivery_latency_seconds_count{" not in text


def test_every_state_of_an_institution_is_set() -> None:
    m = NotifyMetrics()
    m.set_counts({(ORG, "dead"): 2})
    text = m.render().decode()
    assert f'regsync_notify_deliveries{{institution="{ORG}",state="dead"}} 2.0' in text
    assert f'regsync_notify_deliveries{{institution="{ORG}",state="pending"}} 0.0' in text
