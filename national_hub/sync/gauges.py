"""The gauges refreshed in the background, so a scrape between two changes still sees time pass."""

from __future__ import annotations

import asyncio
import logging
import time

from national_hub.metrics import HubMetrics
from national_hub.store.store import Store
from national_hub.sync.status import SyncMonitor
from schemas.errors import RegsyncError
from schemas.tasks import BackgroundTask

log = logging.getLogger(__name__)


class GaugeLoop(BackgroundTask):
    """Every `interval` s: the sync gauges; every `count_interval` s: records per province/status.

    The sync gauges are computed from memory; the record counts are a GROUP BY over the whole
    store, hence their slower pace.
    """

    task_name = "hub-gauges"

    def __init__(
        self,
        metrics: HubMetrics,
        monitor: SyncMonitor,
        store: Store,
        *,
        interval: float = 2.0,
        count_interval: float = 10.0,
    ) -> None:
        super().__init__()
        self._metrics = metrics
        self._monitor = monitor
        self._store = store
        self._interval = interval
        self._count_interval = count_interval

    async def run(self) -> None:
        next_counts = 0.0
        while True:
            self._monitor.update_metrics()
            if time.monotonic() >= next_counts:
                next_counts = time.monotonic() + self._count_interval
                try:
                    self._metrics.set_records(await self._store.record_counts())
                except RegsyncError as exc:
                    log.warning("metrics: cannot count records: %s", exc)
            await asyncio.sleep(self._interval)
