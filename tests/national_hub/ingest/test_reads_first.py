"""Reads first (issue 13, item 3): while the public is served, a catch-up commits in short
steps, and the decode workers run below the hub's CPU priority."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses

from hubkit import HubEnv, cert, hub_app, make_event, running_hub, send_events, wait_offsets

from national_hub.ingest.ingestor import batch_limit
from national_hub.store.progress import ApplyResult
from national_hub.tuning import IngestTuning
from national_hub.web.appkeys import INGESTOR


def test_an_idle_hub_applies_up_to_max_batch() -> None:
    tuning = IngestTuning(max_batch=50_000, serving_batch=2_000)
    assert batch_limit(tuning, reads_active=False) == 50_000


def test_while_reads_are_served_the_batch_stops_at_serving_batch() -> None:
    tuning = IngestTuning(max_batch=50_000, serving_batch=2_000)
    assert batch_limit(tuning, reads_active=True) == 2_000


def test_serving_batch_never_raises_the_limit_above_max_batch() -> None:
    tuning = IngestTuning(max_batch=500, serving_batch=2_000)
    assert batch_limit(tuning, reads_active=True) == 500


async def test_a_catch_up_under_reads_commits_at_most_serving_batch_at_a_time(
    kafka_env: HubEnv,
) -> None:
    env = kafka_env
    settings = env.settings()
    ingest = settings.tuning.ingest.model_copy(update={"serving_batch": 100})
    settings = dataclasses.replace(
        settings, tuning=settings.tuning.model_copy(update={"ingest": ingest})
    )
    sizes: list[int] = []
    async with running_hub(settings) as client:
        hub_app(client)[INGESTOR].add_listener(lambda r: sizes.append(_events(r)))

        async def read_all_the_time() -> None:
            while True:
                await (await client.get(f"/v1/physicians/{cert('44', 1)}")).read()

        reads = asyncio.create_task(read_all_the_time())
        try:
            await asyncio.sleep(0.2)
            events = [make_event(env, "registered", "44", cert("44", n), 1) for n in range(1500)]
            await send_events(env, events)
            await wait_offsets(client, env, 1500)
        finally:
            reads.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reads
    assert sum(sizes) == 1500
    assert max(sizes) <= 100


def _events(result: ApplyResult) -> int:
    return sum(result.applied_counts.values())
