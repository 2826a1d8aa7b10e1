"""Every province's freshness lag sampled every few seconds into an in-memory ring.

Feeds the dashboard's lag chart (GET /v1/sync/lag-history). Memory only: after a restart the
chart starts empty, which the page shows as "no lag history yet".
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from schemas.tasks import BackgroundTask
from schemas.timestamps import format_utc, utc_now

log = logging.getLogger(__name__)

LagSource = Callable[[], Mapping[str, float | None]]


class LagHistory:
    """A ring of (time, lag seconds or None) per province covering retention_minutes.

    interval and retention_minutes: hub.tuning.sync.lag_sample_s and lag_retention_minutes
    (these defaults are theirs).
    """

    def __init__(self, interval: float = 2.0, retention_minutes: int = 30) -> None:
        self.interval = interval
        self.retention_minutes = retention_minutes
        self._maxlen = int(retention_minutes * 60 / interval) + 10
        self._rings: dict[str, deque[tuple[datetime, float | None]]] = {}

    def record(self, at: datetime, lags: Mapping[str, float | None]) -> None:
        """Append one sample per province."""
        for province, lag in lags.items():
            ring = self._rings.get(province)
            if ring is None:
                ring = self._rings[province] = deque(maxlen=self._maxlen)
            ring.append((at, lag))

    def since(self, minutes: float, now: datetime | None = None) -> dict[str, list[dict[str, Any]]]:
        """{"50": [{"t", "lag_seconds"}, ...]} for the last `minutes`, oldest first."""
        cutoff = (now or utc_now()) - timedelta(minutes=minutes)
        return {
            province: [
                {"t": format_utc(t), "lag_seconds": None if v is None else round(v, 3)}
                for t, v in ring
                if t >= cutoff
            ]
            for province, ring in sorted(self._rings.items())
        }


class LagSampler(BackgroundTask):
    """Samples a lag source into a LagHistory every interval; start() and stop() bracket it."""

    task_name = "hub-lag-sampler"

    def __init__(self, history: LagHistory, source: LagSource) -> None:
        super().__init__()
        self.history = history
        self._source = source

    def sample(self) -> None:
        """Take one sample now."""
        self.history.record(utc_now(), self._source())

    async def run(self) -> None:
        # The first sample is taken at once.
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                self.sample()
            except Exception:
                # A bad sample must not end the chart for the rest of the process's life.
                log.exception("lag sampler failed")
            await asyncio.sleep(max(0.05, self.history.interval - (loop.time() - started)))
