"""The serving index's record cache under a concurrent apply: never older than committed."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from indexkit import Feeder, build_registry

from national_hub.index.apply import Events
from national_hub.index.index import ServingIndex
from national_hub.ingest.messages import Batch
from tests.national_hub.hubkit import HubEnv


@pytest.fixture
def batches(hub_env: HubEnv) -> list[Batch]:
    reg = build_registry(hub_env, per_province=40, steps=400, seed=5)
    return reg.batches(Feeder(hub_env), most=10)


def _busiest(batches: list[Batch], n: int) -> list[str]:
    """The certificates the most events change."""
    counts: Counter[str] = Counter()
    for b in batches:
        counts.update(Events.of(b, {})[0].cols["cert_no"])
    return [c for c, _ in counts.most_common(n)]


def _key(row: dict[str, Any] | None) -> tuple[Any, ...] | None:
    return None if row is None else (row["province"], row["record_version"], row["status"])


async def test_a_cached_record_is_never_older_than_the_last_commit(
    tmp_path: Path, batches: list[Batch]
) -> None:
    index = ServingIndex.open(tmp_path / "i.sqlite", cache_records=1000)
    certs = _busiest(batches, 8)
    # What the file holds of each certificate after each apply returned (read past the
    # cache); a read begun after apply k must show the state of apply k or of a later one
    # (a transfer keeping the code shows another province's record, so versions alone are
    # not comparable).
    states: list[dict[str, tuple[Any, ...] | None]] = []
    seen: list[tuple[str, int, tuple[Any, ...] | None]] = []
    done = asyncio.Event()

    async def apply_all() -> None:
        for b in batches:
            await index.apply(b)
            states.append({c: _key(index.record_sync(c)) for c in certs})
            await asyncio.sleep(0)
        done.set()

    async def read() -> None:
        while not done.is_set():
            for c in certs:
                after = len(states)
                seen.append((c, after, _key(await index.record(c))))
                await asyncio.sleep(0)  # a cache hit does not yield; let the apply go on

    try:
        await asyncio.gather(apply_all(), read(), read())
        stale = [
            (c, after, key)
            for c, after, key in seen
            if after > 0 and key not in {s[c] for s in states[after - 1 :]}
        ]
        assert index.cache.hits > 0 and stale == []
    finally:
        index.close()
