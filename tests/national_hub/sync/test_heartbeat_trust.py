"""A node clock glitch on the real broker (issue 12, finding 3): one heartbeat an hour ahead.

The hub (the app `national-hub serve` runs) reads signed heartbeats of province 50 from Kafka:
one sent now, one whose sent_at is an hour ahead, then one every half second for a few seconds.
It must go on taking the true ones: liveness and the clock estimate follow them, not the glitch.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from hubkit import (
    HubEnv,
    create_topics,
    get_json,
    heartbeat,
    running_hub,
    send,
    write_federation,
)

from schemas.timestamps import utc_now

# Short, so the test need not wait five seconds for "offline".
STALE_S = 2.0
TRUE_BEATS = 10
INTERVAL_S = 0.5


@dataclass
class Seen:
    """Province 50's sync state after the glitch and TRUE_BEATS true heartbeats."""

    status: dict[str, Any]


async def _run(env: HubEnv) -> Seen:
    await create_topics(env)
    now = utc_now()
    async with running_hub(env.settings()) as client:
        await send(
            env,
            [heartbeat(env, "50", 0, 0, now), heartbeat(env, "50", 0, 0, now + timedelta(hours=1))],
        )
        for _ in range(TRUE_BEATS):
            await asyncio.sleep(INTERVAL_S)
            await send(env, [heartbeat(env, "50", 0, 0)])
        await asyncio.sleep(INTERVAL_S)
        body = await get_json(client, "/v1/sync/status")
    return Seen(status=next(p for p in body["provinces"] if p["province"] == "50"))


@pytest.fixture(scope="module")
def seen(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Seen:
    root = tmp_path_factory.mktemp("glitch")
    env = write_federation(root, bootstrap, f"rs_glitch_{uuid.uuid4().hex[:8]}")
    with env.config.open("a", encoding="utf-8") as fh:
        fh.write(f"\n[hub.tuning.sync]\nheartbeat_stale_s = {STALE_S}\n")
    return asyncio.run(_run(env))


def test_the_province_is_not_called_offline_while_true_heartbeats_arrive(seen: Seen) -> None:
    assert seen.status["status"] != "offline", seen.status["reason"]


def test_the_clock_estimate_ignores_the_glitch(seen: Seen) -> None:
    assert abs(seen.status["clock_offset_seconds"]) < 5.0
