"""At hub start, a new serving index is filled from the DuckDB store rather than left empty.

Reads are served from the index (national_hub.index); one that is new (first start after an
upgrade, file deleted, layout changed) would answer "not found" for everyone until ingest had
replayed the whole log. The store holds the same state at its own offsets, so the index is
copied from one snapshot of it (store.export -> index.seed) and both sinks resume from there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from national_hub.index.index import ServingIndex
from national_hub.store.store import Store

log = logging.getLogger(__name__)

# Longest gap between two progress lines in the log while a seed runs.
LOG_EVERY_S = 10.0


def seed_index_if_new(
    store: Store,
    index: ServingIndex,
    progress_cb: Callable[[int, int], None] | None = None,
) -> int | None:
    """Fill an empty index from the store; the rows copied (shown and aside records), or None
    when nothing was done (the index holds something, or the store holds nothing).

    Blocking (minutes at millions of records): call it from a thread, before ingest starts
    applying batches to either sink. progress_cb(rows copied, rows in all) is called after
    each committed chunk; an error from it (or any) empties the index again and is raised.
    """
    if not index.is_empty():
        return None
    t0 = time.perf_counter()
    last = t0

    def progress(done: int, total: int) -> None:
        nonlocal last
        now = time.perf_counter()
        if now - last >= LOG_EVERY_S:
            last = now
            log.info("index: filling from the store: %d of %d rows", done, total)
        if progress_cb is not None:
            progress_cb(done, total)

    with store.export_serving() as export:
        if export.empty:
            return None
        log.info(
            "index: %s is new; filling it from the store %s (%d records, %d aside)",
            index.path,
            store.path,
            export.record_count,
            export.unshown_count,
        )
        copied = index.seed(export, progress)
    seconds = time.perf_counter() - t0
    log.info(
        "index: filled from the store: %d rows in %.1f s (%.0f rows/s)",
        copied,
        seconds,
        copied / seconds if seconds > 0 else 0.0,
    )
    return copied
