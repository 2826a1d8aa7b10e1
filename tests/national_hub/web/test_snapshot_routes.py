"""POST/GET /v1/ops/snapshot on a hub ingesting from real Kafka: the snapshot taken while events
flow, laid down in a new place, catches up to the same records and history as the original."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from hubkit import (
    HubEnv,
    cert,
    get_json,
    lifecycle,
    running_hub,
    send_events,
    table_dump,
    wait_for,
    wait_offsets,
)

from national_hub.snapshot.archive import read_manifest
from national_hub.snapshot.restore import Target, restore
from national_hub.snapshot.take import snapshot_dir

CERTS = 30
# Each certificate's whole story (hubkit.LIFECYCLE): 11 events.
STORY = 11


def _ops(env: HubEnv) -> dict[str, str]:
    return {"Authorization": f"Bearer {env.ops_token}"}


async def _snapshot(client: TestClient, env: HubEnv, name: str) -> dict[str, Any]:
    resp = await client.post("/v1/ops/snapshot", json={"name": name}, headers=_ops(env))
    assert resp.status == 202, await resp.text()

    async def finished() -> dict[str, Any] | None:
        state: dict[str, Any] = await get_json(client, "/v1/ops/snapshot", headers=_ops(env))
        return state if state["phase"] in ("done", "failed") else None

    return await wait_for(finished, seconds=60)


def _records(db: Path) -> list[tuple[Any, ...]]:
    return table_dump(
        db, "SELECT cert_no, province, status, seq, record_version FROM records ORDER BY cert_no"
    )


def _history(db: Path) -> list[tuple[Any, ...]]:
    return table_dump(
        db, "SELECT cert_no, record_version, seq FROM history ORDER BY cert_no, record_version"
    )


async def test_snapshot_while_events_flow_restores_to_an_equal_hub(
    kafka_env: HubEnv, tmp_path: Path
) -> None:
    env = kafka_env
    stories = [lifecycle(env, "50", cert("50", n)) for n in range(CERTS)]
    first, rest = stories[: CERTS // 2], stories[CERTS // 2 :]
    await send_events(env, [e for s in first for e in s])
    out = snapshot_dir(env.db) / "hub.snapshot"
    async with running_hub(env.settings()) as client:
        await wait_offsets(client, env, len(first) * STORY)

        async def flow() -> None:
            for story in rest:
                await send_events(env, story)
                await asyncio.sleep(0.1)

        sending = asyncio.create_task(flow())
        state = await _snapshot(client, env, out.name)
        await sending
        await wait_offsets(client, env, CERTS * STORY)
    assert state["phase"] == "done", state["error"]
    # Taken mid-flow: the replica has events to catch up on.
    taken = sum(n for tp, n in state["offsets"].items() if ".events." in tp)
    assert len(first) * STORY <= taken < CERTS * STORY

    target = Target(tmp_path / "replica" / "hub.duckdb", tmp_path / "replica" / "hub.sqlite3")
    manifest = restore(out, target, force=False, on_bytes=lambda _: None)
    assert manifest.records() == state["records"]
    replica = env.settings().replica(db=target.store, index=target.index)
    async with running_hub(replica) as client:
        await wait_offsets(client, env, CERTS * STORY)
    assert (_records(target.store), _history(target.store)) == (
        _records(env.db),
        _history(env.db),
    )


async def test_snapshot_needs_the_ops_token(kafka_env: HubEnv) -> None:
    async with running_hub(kafka_env.settings()) as client:
        resp = await client.post("/v1/ops/snapshot", json={"name": "s"})
        assert resp.status == 401


async def test_snapshot_refuses_a_name_with_a_folder(kafka_env: HubEnv) -> None:
    async with running_hub(kafka_env.settings()) as client:
        resp = await client.post(
            "/v1/ops/snapshot", json={"name": "/tmp/hub.snapshot"}, headers=_ops(kafka_env)
        )
        body = await resp.json()
        assert (resp.status, body["error"]["details"][0]["field"]) == (400, "name")


async def test_snapshot_while_events_flow_holds_both_sinks_at_one_point(
    kafka_env: HubEnv,
) -> None:
    env = kafka_env
    stories = [lifecycle(env, "11", cert("11", n)) for n in range(CERTS)]
    out = snapshot_dir(env.db) / "hub.snapshot"
    async with running_hub(env.settings()) as client:

        async def flow() -> None:
            for story in stories:
                await send_events(env, story)
                await asyncio.sleep(0.05)

        sending = asyncio.create_task(flow())
        await asyncio.sleep(0.5)
        state = await _snapshot(client, env, out.name)
        await sending
    manifest = read_manifest(out)
    assert (state["phase"], manifest.index.offsets) == ("done", manifest.store.offsets)
