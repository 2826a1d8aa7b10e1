"""Old events put on the topic again, after newer ones were applied, change nothing.

A copy of an old event's exact bytes is what a replaying attacker (or a confused tool) can
produce without the key; a re-signed old record_version under a new seq is what a province
bug would produce. Either way the hub keeps what it holds (CONTRACT §3: it applies an event
only if it is newer), and the re-signed one's seq still counts as processed, so the
province's applied-seq frontier does not stall behind it.
"""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from hubkit import (
    HubEnv,
    Message,
    cert,
    get_json,
    hub_app,
    lifecycle,
    make_event,
    running_hub,
    send,
    signed,
    wait_for,
    wait_version,
)

from national_hub.store.store import Store
from national_hub.web.appkeys import STORE

KINDS = ("registered", "suspended", "reinstated")
# What a replay must leave alone: every table an applied event writes to, and the stats.
TABLES = {
    "records": "cert_no",
    "history": "apply_id",
    "applied_counts": "province, type",
    "dead_letters": 'topic, partition, "offset"',
    "rejected_seqs": "province, seq",
}
COUNTERS = ("regsync_hub_events_applied_total", "regsync_hub_events_rejected_total")


async def _state(client: TestClient, store: Store, cert_no: str) -> dict[str, Any]:
    """The tables, the lookup, the history, the stats and the event counters, as served now."""
    state: dict[str, Any] = {
        t: await store.fetch(f"SELECT * FROM {t} ORDER BY {order}") for t, order in TABLES.items()
    }
    state["lookup"] = await get_json(client, f"/v1/physicians/{cert_no}")
    state["history"] = await get_json(client, f"/v1/physicians/{cert_no}/history")
    state["stats"] = await get_json(client, "/v1/stats?group_by=province,category,status")
    metrics = await (await client.get("/metrics")).text()
    state["counters"] = sorted(line for line in metrics.splitlines() if line.startswith(COUNTERS))
    return state


async def _processed(store: Store, messages: int) -> None:
    """Wait until the hub has stored offsets past this many messages (a fresh prefix)."""

    async def probe() -> bool:
        return sum(store.offsets().values()) >= messages

    await wait_for(probe)


def _replays(env: HubEnv, originals: list[Message], cert_no: str) -> list[Message]:
    """Byte-identical copies of versions 1 and 2, and version 2 re-signed under a new seq."""
    resigned = make_event(env, "suspended", "50", cert_no, 2)
    return [originals[0], originals[1], signed(env, resigned)]


async def test_old_versions_put_on_the_topic_again_change_nothing(kafka_env: HubEnv) -> None:
    env = kafka_env
    c = cert("50", 1)
    originals = [signed(env, e) for e in lifecycle(env, "50", c, KINDS)]
    replays = _replays(env, originals, c)
    async with running_hub(env.settings()) as client:
        store = hub_app(client)[STORE]
        await send(env, originals)
        await wait_version(client, c, 3)
        await _processed(store, len(originals))
        before = await _state(client, store, c)
        landed = await send(env, replays)
        await _processed(store, len(originals) + len(replays))
        after = await _state(client, store, c)
    # The copies really are at later offsets of the record's partition, not deduplicated.
    assert [md.offset for md in landed] == [3, 4, 5]
    assert after == before


async def test_a_resigned_old_version_does_not_stall_the_seq_frontier(kafka_env: HubEnv) -> None:
    env = kafka_env
    c = cert("50", 2)
    originals = [signed(env, e) for e in lifecycle(env, "50", c, KINDS)]
    replays = _replays(env, originals, c)
    newer = make_event(env, "assessed", "50", c, 4)
    async with running_hub(env.settings()) as client:
        store = hub_app(client)[STORE]
        await send(env, [*originals, *replays])
        await _processed(store, len(originals) + len(replays))
        frontier = store.applied_seq("50")
        await send(env, [signed(env, newer)])
        await wait_version(client, c, 4)
        history = await get_json(client, f"/v1/physicians/{c}/history")
    # Seq 4 (version 2 again) was processed and skipped: the frontier went past it.
    assert frontier == 4
    assert [(i["seq"], i["record_version"]) for i in history["items"]] == [
        (1, 1),
        (2, 2),
        (3, 3),
        (5, 4),
    ]
