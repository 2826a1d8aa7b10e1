"""ClockOffset: a province's clock offset from heartbeat (sent_at, received_at) pairs."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from national_hub.sync.clock import ClockOffset
from national_hub.tuning import FreshnessTuning

# The clock estimate's window and step detection the hub runs with (hub.tuning.freshness).
WINDOW = FreshnessTuning().clock_window
STEP_SAMPLES = FreshnessTuning().clock_step_samples

T0 = datetime(2026, 11, 22, 4, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def feed(clock: ClockOffset, offset: float, start: int, n: int, rng: random.Random) -> float:
    """n one-second heartbeats from a province `offset` s ahead, 5-300 ms of transit each.

    Returns the smallest transit.
    """
    transits = [rng.uniform(0.005, 0.3) for _ in range(n)]
    for second, transit in zip(range(start, start + n), transits, strict=True):
        clock.add(at(second + offset), at(second + transit))
    return min(transits)


def test_no_sample_means_no_estimate_and_no_correction() -> None:
    clock = ClockOffset()
    assert clock.seconds is None
    assert clock.to_hub(at(5)) == at(5)


@pytest.mark.parametrize("offset", [30.0, -30.0, 0.0])
def test_estimate_is_within_the_smallest_transit_of_the_true_offset(offset: float) -> None:
    clock = ClockOffset()
    quickest = feed(clock, offset, 0, 60, random.Random(7))
    # Never above the truth, and below it by the quickest heartbeat's transit.
    assert clock.seconds == pytest.approx(offset - quickest, abs=1e-6)


def test_to_hub_moves_a_province_time_onto_the_hub_clock() -> None:
    clock = ClockOffset()
    clock.add(at(130), at(100.05))  # province 30 s ahead, 50 ms transit
    assert clock.to_hub(at(140)) == at(110.05)


def test_a_slow_heartbeat_does_not_drag_the_estimate_down() -> None:
    clock = ClockOffset()
    feed(clock, 30.0, 0, 10, random.Random(1))
    before = clock.seconds
    clock.add(at(40), at(20))  # waited 10 s somewhere
    assert clock.seconds == before


def test_clock_stepped_forward_is_followed_at_once() -> None:
    clock = ClockOffset()
    feed(clock, 0.0, 0, 30, random.Random(2))
    assert clock.add(at(30 + 30), at(30.01)) is False
    assert clock.seconds == pytest.approx(29.99)


def test_clock_stepped_back_is_followed_after_a_few_samples() -> None:
    clock = ClockOffset()
    rng = random.Random(3)
    feed(clock, 30.0, 0, 30, rng)
    stepped = [clock.add(at(s - 30), at(s + 0.01)) for s in range(30, 30 + STEP_SAMPLES)]
    assert stepped == [False] * (STEP_SAMPLES - 1) + [True]
    assert clock.seconds == pytest.approx(-30.01)


def test_old_samples_leave_the_window() -> None:
    clock = ClockOffset()
    clock.add(at(0.5), at(0))  # one sample 0.5 s higher than all later ones (a 0.5 s step back)
    feed(clock, 0.0, 1, WINDOW - 1, random.Random(4))
    assert clock.seconds == 0.5
    clock.add(at(WINDOW), at(WINDOW + 0.01))
    assert clock.seconds is not None and clock.seconds < 0.0
