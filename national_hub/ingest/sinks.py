"""The two exactly-once sinks of the federation's log: the DuckDB store and the serving index.

Both decide with the same pure `store.decide.decide()` and each stores its own next offset
per partition in the transaction that applies the messages, so each holds every message once
whatever the other did. A batch goes to the store first, then to the index; a crash between
the two commits leaves the store ahead, the consumer then reads each partition from the lower
of the two offsets, and the sink ahead is handed only what it does not hold yet.

What a read is promised against is what serves it: public reads come from the index, history
and statistics from DuckDB, so a sync token counts as applied once both hold it, and apply
listeners (freshness, metrics, waiters) hear of a batch once both have committed it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from national_hub.index.index import ServingIndex
from national_hub.ingest.messages import Batch
from national_hub.store.progress import ApplyResult
from national_hub.store.store import Store

log = logging.getLogger(__name__)

Offsets = Mapping[tuple[str, int], int]


def lower_offsets(a: Offsets, b: Offsets) -> dict[tuple[str, int], int]:
    """Where to read each partition from so that neither sink misses a message: the lower of
    the two next offsets; a partition one sink has never read is absent (read from the start)."""
    return {tp: min(nxt, b[tp]) for tp, nxt in a.items() if tp in b}


class Sinks:
    """The store and the index, applied to together; the index is optional (tools, old tests)."""

    def __init__(self, store: Store, index: ServingIndex | None) -> None:
        self.store = store
        self.index = index
        # Next offset each partition is read from: a batch starts there, so the store can be
        # handed messages it holds only while its own offset is above it (then it is filtered;
        # the index always skips what is below its offsets itself).
        self._position: dict[tuple[str, int], int] = {}

    def offsets(self) -> dict[tuple[str, int], int]:
        """Where reading resumes: per partition, the lower offset of the two sinks."""
        if self.index is None:
            return dict(self.store.offsets())
        return lower_offsets(self.store.offsets(), self.index.offsets())

    def positioned(self, positions: Mapping[tuple[str, int], int]) -> None:
        """The consumer now reads these partitions from these offsets (0: from the start)."""
        self._position = dict(positions)

    def is_seq_applied(self, province: str, seq: int) -> bool:
        """Whether both sinks hold the province's seq (a sync token may be read against it)."""
        if not self.store.is_seq_applied(province, seq):
            return False
        return self.index is None or self.index.is_seq_applied(province, seq)

    def is_seq_rejected(self, province: str, seq: int) -> bool:
        """Whether the seq was processed but refused (both sinks decide alike)."""
        if self.store.is_seq_rejected(province, seq):
            return True
        return self.index is not None and self.index.is_seq_rejected(province, seq)

    def _for_store(self, batch: Batch) -> Batch:
        """The batch without what the store holds already (nearly always the batch itself)."""
        held = self.store.offsets()
        behind = any(held.get(tp, 0) > self._position.get(tp, 0) for tp in batch.offsets)
        return batch.since(held) if behind else batch

    async def apply(self, batch: Batch) -> ApplyResult:
        """Apply a batch to the store, then to the index; the store's account of it.

        One after the other, not at once: the index is never ahead of the store, so a record
        a lookup shows already has its history (the two at once cost the same CPU during a
        catch-up, where decoding fills both cores, and the index's part of a live batch is
        about a millisecond). A failure of either ends the consumer session: it restarts from
        the lower offsets and each sink skips what it holds.
        """
        store_batch = self._for_store(batch)
        for tp, nxt in batch.offsets.items():
            if nxt > self._position.get(tp, 0):
                self._position[tp] = nxt
        result = await self.store.apply(store_batch)
        if self.index is not None:
            await self.index.apply(batch)
        return result
