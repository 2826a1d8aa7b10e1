"""FreshnessTracker: the time up to which the hub is complete for a province, and the ETA."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from national_hub.store.progress import ApplyResult, HeartbeatState, Progress
from national_hub.sync.freshness import FreshnessTracker
from national_hub.tuning import FreshnessTuning
from schemas.events import Heartbeat

T0 = datetime(2026, 11, 22, 4, 0, 0, tzinfo=UTC)
# The ETA's assumptions a tracker built without tuning uses (hub.tuning.freshness's defaults).
DEFAULT_APPLY_RATE = FreshnessTuning().default_apply_rate
PIPELINE_SECONDS = FreshnessTuning().pipeline_s


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def beat(committed: int, published: int | None = None, *, sent: float, oldest: float | None = None
         ) -> Heartbeat:  # fmt: skip
    published = committed if published is None else published
    return Heartbeat(
        province="50",
        committed_seq=committed,
        published_seq=published,
        outbox_backlog=committed - published,
        oldest_unpublished_at=at(oldest) if oldest is not None else None,
        sent_at=at(sent),
    )


def applied(tracker: FreshnessTracker, frontier: int, commits: dict[int, float]) -> None:
    """Tell the tracker a batch brought the frontier to `frontier`."""
    result = ApplyResult(
        events=len(commits),
        progress={"50": frontier},
        commit_times={"50": {s: at(t) for s, t in commits.items()}},
    )
    tracker.observe_apply(result, {"50": Progress(frontier, frontier)})


def test_nothing_known_means_no_lag() -> None:
    assert FreshnessTracker().lag_seconds("50", at(10)) is None


def test_idle_province_lags_by_the_heartbeat_age_not_a_growing_number() -> None:
    tracker = FreshnessTracker()
    applied(tracker, 7, {7: 0.0})
    for second in range(1, 100):
        tracker.observe_heartbeat(beat(7, sent=second))
    assert tracker.lag_seconds("50", at(99.8)) == pytest.approx(0.8)


def test_unapplied_commit_makes_the_lag_grow_from_the_last_complete_heartbeat() -> None:
    tracker = FreshnessTracker()
    applied(tracker, 7, {7: 0.0})
    tracker.observe_heartbeat(beat(7, sent=10))
    # Seq 8 committed between 10 and 11 and is published; the hub has not applied it.
    for second in range(11, 30):
        tracker.observe_heartbeat(beat(8, sent=second))
    assert tracker.complete_until("50") == at(10)
    assert tracker.lag_seconds("50", at(40)) == pytest.approx(30)


def test_frontier_commit_time_counts_when_heartbeats_are_behind() -> None:
    tracker = FreshnessTracker()
    tracker.observe_heartbeat(beat(3, sent=1))
    tracker.observe_heartbeat(beat(12, sent=20))
    applied(tracker, 10, {9: 14.0, 10: 15.0})
    assert tracker.complete_until("50") == at(15)


def test_poll_observations_count_like_heartbeats() -> None:
    tracker = FreshnessTracker()
    applied(tracker, 5, {5: 0.0})
    tracker.observe_poll("50", at(50), 5, 5, None)
    assert tracker.complete_until("50") == at(50)


def test_known_next_commit_caps_completeness() -> None:
    tracker = FreshnessTracker()
    applied(tracker, 5, {5: 0.0})
    # A poll at 50 claims nothing new, but the heartbeat says seq 6 waits since 40.
    tracker.observe_poll("50", at(50), 5, 5, None)
    tracker.observe_heartbeat(beat(6, 5, sent=51, oldest=40))
    complete = tracker.complete_until("50")
    assert complete is not None and complete < at(40)


def test_pending_seq_commit_time_is_used_once_the_gap_fills() -> None:
    tracker = FreshnessTracker()
    applied(tracker, 4, {4: 1.0, 6: 9.0})  # 6 arrived before 5
    applied(tracker, 6, {5: 8.0})
    assert tracker.complete_until("50") == at(9)


def test_last_advance_moves_only_with_the_frontier() -> None:
    tracker = FreshnessTracker()
    tracker.seed([], {"50": Progress(4, 4)})
    assert tracker.last_advance("50") is None
    applied(tracker, 4, {})
    assert tracker.last_advance("50") is None
    applied(tracker, 5, {5: 1.0})
    assert tracker.last_advance("50") is not None


def test_eta_uses_the_default_rate_before_anything_was_measured() -> None:
    tracker = FreshnessTracker()
    applied(tracker, 10, {10: 0.0})
    expected = PIPELINE_SECONDS + 5 / DEFAULT_APPLY_RATE
    assert tracker.eta_seconds("50", 15) == pytest.approx(expected, abs=0.01)


def test_eta_follows_the_measured_apply_rate() -> None:
    tracker = FreshnessTracker()
    tracker.observe_apply(
        ApplyResult(events=1000, seconds=2.0, progress={"50": 1000}),
        {"50": Progress(1000, 1000)},
    )
    assert tracker.apply_rate() == pytest.approx(500)
    assert tracker.eta_seconds("50", 1500) == pytest.approx(PIPELINE_SECONDS + 1.0, abs=0.01)


# ---- a province whose clock is off ------------------------------------------------------------


def received(tracker: FreshnessTracker, hb: Heartbeat, at_hub: float, seconds: float = 0.01
             ) -> None:  # fmt: skip
    """A batch holding one heartbeat, whose apply began at `at_hub` (hub clock)."""
    frontier = tracker.applied_seq("50")
    tracker.observe_apply(
        ApplyResult(beats=[hb], seconds=seconds),
        {"50": Progress(frontier, frontier)},
        {"50": HeartbeatState(hb, at(at_hub))},
    )


@pytest.mark.parametrize("offset", [30.0, -30.0])
def test_lag_of_a_province_with_a_skewed_clock_is_corrected(offset: float) -> None:
    rng = random.Random(11)
    tracker = FreshnessTracker()
    # Seq 7 committed at true time 0.5 and applied; seq 8 committed at true 10.5 and not.
    applied(tracker, 7, {7: 0.5 + offset})
    for second in range(1, 21):
        committed = 7 if second <= 10 else 8
        received(tracker, beat(committed, sent=second + offset), second + rng.uniform(0.005, 0.3))
    assert tracker.clock_offset("50") == pytest.approx(offset, abs=0.3)
    # The truth at true time 20.2: seq 8 has waited since 10.5.
    lag = tracker.lag_seconds("50", at(20.2))
    assert lag is not None and abs(lag - (20.2 - 10.5)) <= 1.0


def test_outbox_head_of_a_skewed_province_caps_completeness_on_the_hub_clock() -> None:
    tracker = FreshnessTracker()
    applied(tracker, 5, {5: 60.0})
    for second in range(31, 40):  # 30 s ahead
        received(tracker, beat(5, sent=second + 30), second + 0.01)
    # A poll at 50 claims nothing new, but the heartbeat says seq 6 waits since true time 40.
    tracker.observe_poll("50", at(50), 5, 5, None)
    received(tracker, beat(6, 5, sent=81, oldest=70), 51.01)
    assert tracker.lag_seconds("50", at(52)) == pytest.approx(52 - 40, abs=0.1)


def test_heartbeats_from_a_slow_apply_are_not_clock_samples() -> None:
    tracker = FreshnessTracker()
    # Applying took 2 s: the heartbeat may have waited that long in the hub.
    received(tracker, beat(0, sent=31), 1.0, seconds=2.0)
    assert tracker.clock_offset("50") is None


def test_a_restarted_hub_estimates_the_offset_from_the_stored_heartbeat() -> None:
    tracker = FreshnessTracker()
    tracker.seed([HeartbeatState(beat(4, sent=30), at(0.02))], {"50": Progress(4, 4)})
    assert tracker.clock_offset("50") == pytest.approx(29.98)


def test_heartbeats_before_a_clock_step_back_claim_nothing_after_it() -> None:
    tracker = FreshnessTracker()
    applied(tracker, 3, {3: 0.5})
    for second in range(1, 11):
        received(tracker, beat(3, sent=second + 30), second + 0.01)
    # The province's clock is set right at true 11; seq 4 commits at true 11.5, unapplied.
    for second in range(11, 21):
        received(tracker, beat(4, sent=second), second + 0.01)
    assert tracker.clock_offset("50") == pytest.approx(-0.01)
    lag = tracker.lag_seconds("50", at(21))
    assert lag is not None and lag >= 21 - 11.5
