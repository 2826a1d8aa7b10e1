"""The hub SIGKILLed mid-ingest and restarted: its records equal the province registries."""

from __future__ import annotations

import asyncio
from typing import Any

from province_node.synthetic import registrations
from tests.e2e.federation import Federation
from tests.e2e.test_nodes_to_hub import public, until

COUNT = 1000  # registrations; with one change request each, 2,000 events


async def _write_all(fed: Federation, bodies: list[dict[str, Any]]) -> None:
    sem = asyncio.Semaphore(16)

    async def one(body: dict[str, Any]) -> None:
        async with sem:
            await fed.register("44", body)
            await fed.step(
                "44",
                body["cert_no"],
                {"type": "change_requested", "changes": {"scopes": ["全科医学专业"]}},
            )

    await asyncio.gather(*(one(b) for b in bodies))


async def _hub_count(fed: Federation) -> int:
    status, body = await fed.hub_get("/v1/stats", group_by="province")
    assert status == 200
    return sum(item["count"] for item in body["items"] if item["province"] == "44")


async def test_hub_killed_mid_ingest_ends_equal_to_the_registry(federation: Federation) -> None:
    bodies = [
        b
        for b in registrations("44", COUNT, seed=900)
        if b["category"] in ("clinical", "tcm")  # 全科医学专业 is valid for both
    ]
    before = await _hub_count(federation)
    writer = asyncio.create_task(_write_all(federation, bodies))
    await until(lambda: _count_above(federation, before + 50))
    federation.stack.kill("hub")
    await writer
    federation.stack.restart("hub")

    async def caught_up() -> bool:
        return await _hub_count(federation) >= before + len(bodies)

    await until(caught_up, within=60)
    mismatched, duplicated = [], []
    for body in bodies:
        cert_no = body["cert_no"]
        node = await federation.node_record("44", cert_no)
        node_record = public(node.get("record", node))
        status, hub = await federation.hub_get(f"/v1/physicians/{cert_no}")
        if status != 200 or {k: hub.get(k) for k in node_record} != node_record:
            mismatched.append(cert_no)
        _, history = await federation.hub_get(f"/v1/physicians/{cert_no}/history")
        versions = [item["record_version"] for item in history["items"]]
        if versions != [1, 2]:
            duplicated.append((cert_no, versions))
    assert (mismatched, duplicated) == ([], [])


async def _count_above(fed: Federation, n: int) -> bool:
    return await _hub_count(fed) >= n
