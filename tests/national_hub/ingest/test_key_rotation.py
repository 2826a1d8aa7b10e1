"""A province's signing key rotated on the real broker: the federation file names the new key
and keeps the old one for an overlap window. Events signed before the rotation stay applied
(a hub replaying the topic decides them as the first hub did), the new key and the old one
within its window are accepted, the old key after its window is dead-lettered key_retired,
explained as the province's refusal and counted for it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from hubkit import (
    HubEnv,
    cert,
    create_topics,
    get_json,
    make_event,
    running_hub,
    send,
    signed,
    wait_offsets,
    write_federation,
)
from rotation import rotate_province_key

from schemas.events import Event
from schemas.timestamps import utc_now

pytestmark = pytest.mark.asyncio(loop_scope="module")

BEFORE = cert("50", 8101)  # old key, committed before the rotation
NEW_KEY = cert("50", 8102)  # new key
IN_WINDOW = cert("50", 8103)  # old key, committed within the window
AFTER = cert("50", 8104)  # old key, committed after the window


@dataclass
class Rotated:
    """What the hub answered after reading the whole topic under the rotated federation."""

    records: dict[str, int]  # cert_no -> HTTP status of its lookup
    dead: list[dict[str, Any]]
    applied_seq: int
    # /v1/sync/explain of the event after the window: by its sync token and by its cert_no.
    by_token: dict[str, Any]
    by_cert: dict[str, Any]
    metrics: str


def at(event: Event, moment: Any) -> Event:
    return event.model_copy(update={"committed_at": moment})


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rotated(
    bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Rotated]:
    env: HubEnv = write_federation(
        tmp_path_factory.mktemp("key-rotation"), bootstrap, f"kr_{uuid.uuid4().hex[:10]}"
    )
    await create_topics(env)
    old = env.signers["50"]
    window_end = utc_now()
    before = at(make_event(env, "registered", "50", BEFORE, 1), window_end - timedelta(hours=1))
    # The rotation: new key in the federation file, the old one trusted up to window_end.
    new = rotate_province_key(env, "50", window_end)
    # Seqs 2, 3 and 4, in this order.
    new_key = make_event(env, "registered", "50", NEW_KEY, 1)
    in_window = at(make_event(env, "registered", "50", IN_WINDOW, 1), window_end)
    after = at(make_event(env, "registered", "50", AFTER, 1), window_end + timedelta(seconds=1))
    messages = [
        signed(env, before, signer=old),
        signed(env, new_key, signer=new),
        signed(env, in_window, signer=old),
        signed(env, after, signer=old),
    ]
    await send(env, messages)
    async with running_hub(env.settings()) as client:
        await wait_offsets(client, env, len(messages))
        records = {
            c: (await client.get(f"/v1/physicians/{c}")).status
            for c in (BEFORE, NEW_KEY, IN_WINDOW, AFTER)
        }
        auth = {"Authorization": f"Bearer {env.ops_token}"}
        dead = (await get_json(client, "/v1/sync/dead-letters", headers=auth))["items"]
        status = await get_json(client, "/v1/sync/status")
        by_token = await get_json(client, f"/v1/sync/explain?token=50:{after.seq}")
        by_cert = await get_json(client, f"/v1/sync/explain?cert_no={AFTER}&province=50")
        metrics = await (await client.get("/metrics")).text()
    applied = next(p["applied_seq"] for p in status["provinces"] if p["province"] == "50")
    yield Rotated(records, dead, applied, by_token, by_cert, metrics)


async def test_event_signed_before_the_rotation_stays_applied(rotated: Rotated) -> None:
    assert rotated.records[BEFORE] == 200


async def test_event_signed_with_the_new_key_is_applied(rotated: Rotated) -> None:
    assert rotated.records[NEW_KEY] == 200


async def test_old_key_within_its_window_is_applied(rotated: Rotated) -> None:
    assert rotated.records[IN_WINDOW] == 200


async def test_old_key_after_its_window_is_dead_lettered_key_retired(rotated: Rotated) -> None:
    assert [(d["reason"].split(":")[0], d["key"]) for d in rotated.dead] == [("key_retired", AFTER)]


async def test_event_after_the_window_is_not_applied(rotated: Rotated) -> None:
    assert (rotated.records[AFTER], rotated.applied_seq) == (404, 3)


async def test_the_retired_keys_event_is_explained_rejected_by_its_sync_token(
    rotated: Rotated,
) -> None:
    answer = rotated.by_token
    assert (answer["state"], answer["rejection"]["reason"].split(":")[0]) == (
        "rejected",
        "key_retired",
    )


async def test_the_retired_keys_event_is_explained_rejected_by_its_cert_no(
    rotated: Rotated,
) -> None:
    answer = rotated.by_cert
    assert (answer["state"], answer["province"], answer["rejection"]["reason"][:11]) == (
        "rejected",
        "50",
        "key_retired",
    )


async def test_the_refusal_is_counted_for_the_province(rotated: Rotated) -> None:
    # What RegsyncProvinceKeyRetired (compose/prometheus/alerts.yml) fires on.
    line = 'regsync_hub_events_rejected_total{province="50",reason="key_retired"} 1.0'
    assert line in rotated.metrics.splitlines()
