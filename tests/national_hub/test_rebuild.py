"""`national-hub rebuild` replays the topics into an empty store and ends with the live answers."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

from hubkit import (
    HubEnv,
    Message,
    cert,
    get_json,
    lifecycle,
    make_event,
    running_hub,
    send,
    signed,
    snapshot,
    store_held_elsewhere,
    wait_offsets,
)

BIN = Path(sys.executable).parent / "national-hub"
# Columns that say when the hub did something, not what it holds.
WHEN = {"synced_at", "applied_at", "apply_id", "received_at", "updated_at", "linked_at"}


def comparable(snap: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Table contents without the hub's own timestamps, order-independent."""
    out = {}
    for table, rows in snap.items():
        if table == "offsets":
            continue
        out[table] = sorted(
            repr(sorted((k, v) for k, v in row.items() if k not in WHEN)) for row in rows
        )
    return out


async def test_rebuild_yields_the_live_store(kafka_env: HubEnv) -> None:
    env = kafka_env
    events = []
    for province in ("50", "44", "11"):
        for n in range(40):
            events += lifecycle(
                env, province, cert(province, n), ("registered", "site_filed", "changed")
            )
    old, new = cert("50", 99), cert("44", 99)
    events += [
        make_event(env, "registered", "50", old, 1),
        make_event(env, "transferred_out", "50", old, 2, to_province="44"),
        make_event(
            env, "registered", "44", new, 1, transfer_from={"province": "50", "cert_no": old}
        ),
    ]
    messages = [signed(env, e) for e in events]
    messages.append(Message(env.topic("44"), b"k", b"{}", []))
    await send(env, messages)
    looked_up = [cert("50", 3), cert("11", 39), old, new]
    async with running_hub(env.settings()) as client:
        await wait_offsets(client, env, len(messages))
        live_answers = [await get_json(client, f"/v1/physicians/{c}") for c in looked_up]
        live_history = await get_json(client, f"/v1/physicians/{cert('44', 7)}/history")
    live = snapshot(env.db)

    proc = await asyncio.to_thread(
        subprocess.run,
        [str(BIN), "rebuild", "--config", str(env.config)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"rebuilt 122 records from {len(messages)} messages" in proc.stdout
    rebuilt = snapshot(env.db)
    assert comparable(rebuilt) == comparable(live)
    assert rebuilt["offsets"] == live["offsets"]

    async with running_hub(env.settings()) as client:
        answers = [await get_json(client, f"/v1/physicians/{c}") for c in looked_up]
        history = await get_json(client, f"/v1/physicians/{cert('44', 7)}/history")
    for before, after in zip(live_answers, answers, strict=True):
        assert {k: v for k, v in before.items() if k != "synced_at"} == {
            k: v for k, v in after.items() if k != "synced_at"
        }
    assert [(i["seq"], i["type"]) for i in history["items"]] == [
        (i["seq"], i["type"]) for i in live_history["items"]
    ]


def test_rebuild_refuses_while_the_store_is_held(hub_env: HubEnv) -> None:
    with store_held_elsewhere(hub_env.db):
        proc = subprocess.run(
            [str(BIN), "rebuild", "--config", str(hub_env.config)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 2
    assert "in use by another process" in proc.stderr
    assert "Traceback" not in proc.stderr
