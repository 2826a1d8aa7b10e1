"""The fault matrix's consistency check can fail: it reports acknowledged writes the hub lacks."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.faults.harness import Load, check, federation


async def test_check_reports_every_acknowledged_write_the_hub_did_not_apply(
    bootstrap: str, tmp_path: Path
) -> None:
    async with federation(tmp_path / "stack", bootstrap=bootstrap) as fed:
        # With ingest paused nothing written from here on reaches the hub's store.
        await fed.set_ingest_paused(True)
        load = Load(fed, rate=10.0, seed=1)
        load.start()
        await asyncio.sleep(1.5)
        await load.stop()
        verdict = await check(fed, load.acks)
    assert load.acks and len(verdict.acked_lost) == len(load.acks), verdict.summary()
