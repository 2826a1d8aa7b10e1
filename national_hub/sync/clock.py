"""How far a province's clock is from the hub's, estimated from its heartbeats.

A heartbeat carries sent_at on the province's clock; the hub notes on its own clock when it got
it. Each pair is a sample sent_at - received_at = offset - transit, and transit is never
negative, so every sample is a lower bound of the offset (province clock minus hub clock). The
largest sample of the last window (60 samples) is the estimate: never too high, and too low
only by the smallest transit in the window (tens of milliseconds while the hub keeps up; callers
feed only heartbeats that did not wait long in the hub, so catch-up does not drag it down).

The estimate is always applied, however small: it is then off by that smallest transit at
most, a province time converted with it never lies after the moment the hub received it, and
there is no threshold for an offset to flicker around.

A clock stepped forward shows at once (a larger sample). A clock stepped back only yields
smaller samples, which the maximum would ignore for a whole window; step_samples consecutive
samples more than step_seconds below the estimate are taken as such a step, and the window
restarts from them. Heartbeats delayed that long, that many times in a row, would look the same;
the next prompt heartbeat then corrects the estimate again.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta


class ClockOffset:
    """One province's clock minus the hub's, from (sent_at, received_at) samples.

    The defaults are hub.tuning.freshness's clock_window, clock_step_s and clock_step_samples.
    With one-second heartbeats a window of 60 is a minute of samples: longer windows keep a
    stale estimate longer after a clock step; shorter ones make a prompt sample more likely to
    be missing.
    """

    def __init__(self, window: int = 60, step_seconds: float = 1.0, step_samples: int = 5) -> None:
        self._samples: deque[float] = deque(maxlen=window)
        self._step_seconds = step_seconds
        self._step_samples = step_samples
        self._below = 0  # consecutive samples far below the estimate
        self._estimate: float | None = None

    @property
    def seconds(self) -> float | None:
        """The estimated offset in seconds (positive: the province runs ahead); None: no sample."""
        return self._estimate

    def add(self, sent_at: datetime, received_at: datetime) -> bool:
        """One heartbeat sent at `sent_at` (province clock), received at `received_at` (hub).

        True when this sample revealed that the province's clock was stepped back.
        """
        sample = (sent_at - received_at).total_seconds()
        self._samples.append(sample)
        estimate = self._estimate
        if estimate is None or sample >= estimate:
            self._estimate = sample
            self._below = 0
            return False
        self._below = self._below + 1 if sample < estimate - self._step_seconds else 0
        stepped = self._below >= self._step_samples
        if stepped:
            # Only the samples since the step still say anything about the clock.
            recent = list(self._samples)[-self._below :]
            self._samples.clear()
            self._samples.extend(recent)
            self._below = 0
        self._estimate = max(self._samples)
        return stepped

    def to_hub(self, at: datetime) -> datetime:
        """A province timestamp on the hub's clock (unchanged until there is a sample)."""
        estimate = self._estimate
        return at if estimate is None else at - timedelta(seconds=estimate)
