"""Ingest end to end: signed events on the real broker, applied by the hub, read over HTTP."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hubkit import (
    LIFECYCLE,
    HubEnv,
    Message,
    cert,
    get_json,
    heartbeat,
    hub_app,
    lifecycle,
    make_event,
    running_hub,
    send,
    send_events,
    signed,
    table_dump,
    wait_for,
    wait_offsets,
    wait_version,
)

from national_hub.web.appkeys import INGESTOR, STORE
from schemas.canonical import canonical_bytes
from schemas.wire import signed_headers


async def test_each_lifecycle_step_is_reflected_and_history_is_in_order(
    kafka_env: HubEnv,
) -> None:
    env = kafka_env
    cert_no = cert("50", 1)
    events = lifecycle(env, "50", cert_no)
    async with running_hub(env.settings()) as client:
        for ev in events:
            await send_events(env, [ev])
            body = await wait_version(client, cert_no, ev.record_version)
            expected = ev.record.model_dump(mode="json")
            expected.pop("person_ref")
            got = {k: v for k, v in body.items() if k in expected}
            assert got == expected, ev.type
            assert "person_ref" not in body
            assert (body["province"], body["record_version"]) == ("50", ev.record_version)
            assert body["synced_at"].endswith("Z")
        history = await get_json(client, f"/v1/physicians/{cert_no}/history")
    assert [(i["type"], i["seq"], i["record_version"]) for i in history["items"]] == [
        (e.type, e.seq, e.record_version) for e in events
    ]
    assert [e.type for e in events] == list(LIFECYCLE)
    item = history["items"][0]
    assert (
        item["committed_at"]
        == canonical_bytes(events[0]).decode().split('"committed_at":"')[1].split('"')[0]
    )
    assert item["applied_at"] >= item["committed_at"]


async def test_many_records_across_partitions_and_provinces(kafka_env: HubEnv) -> None:
    env = kafka_env
    events = []
    for province in ("50", "44", "11"):
        for n in range(40):
            events += lifecycle(env, province, cert(province, n), LIFECYCLE[:3])
    await send_events(env, events)
    async with running_hub(env.settings()) as client:
        await wait_offsets(client, env, len(events))
        for province in ("50", "44", "11"):
            body = await get_json(client, f"/v1/physicians/{cert(province, 39)}")
            assert (body["province"], body["record_version"], body["status"]) == (
                province,
                3,
                "active",
            )
        metrics = await (await client.get("/metrics")).text()
    assert 'regsync_hub_events_applied_total{province="44",type="changed"} 40.0' in metrics
    assert "regsync_hub_apply_latency_seconds_count 360.0" in metrics
    rows = table_dump(env.db, "SELECT province, applied_seq, max_seq FROM progress ORDER BY 1")
    assert rows == [("11", 120, 120), ("44", 120, 120), ("50", 120, 120)]


async def test_rejected_messages_are_dead_lettered_and_the_partition_moves_on(
    kafka_env: HubEnv,
) -> None:
    env = kafka_env
    c = cert("50", 7)
    good1 = make_event(env, "registered", "50", c, 1)
    forged = make_event(env, "suspended", "50", c, 2)
    wrong_topic = make_event(env, "registered", "44", cert("44", 7), 1)
    good2 = make_event(env, "assessed", "50", c, 2)
    unsigned = signed(env, make_event(env, "cancelled", "50", c, 3))
    unsigned.headers = [h for h in unsigned.headers if h[0] != "sig"]
    raw_sig = signed(env, make_event(env, "suspended", "50", c, 3))
    raw_sig.headers = [
        ("sig", base64.b64decode(raw_sig.headers[0][1])),
        raw_sig.headers[1],
    ]
    own = env.signers["50"]
    messages = [
        signed(env, good1),
        signed(env, forged, signer=env.signers["44"]),
        signed(env, wrong_topic, topic=env.topic("50"), signer=own),
        Message(env.topic("50"), c.encode(), b'{"not": json', signed_headers(own, b'{"not": json')),
        Message(
            env.topic("50"),
            c.encode(),
            b'{"schema_version": 1}',
            signed_headers(own, b'{"schema_version": 1}'),
        ),
        signed(env, good2),
        unsigned,
        raw_sig,
    ]
    await send(env, messages)
    async with running_hub(env.settings()) as client:
        body = await wait_version(client, c, 3)
        assert body["status"] == "suspended"  # the raw 64-byte signature is accepted
        await wait_offsets(client, env, len(messages))
        assert (await client.get("/v1/sync/dead-letters")).status == 401
        bad = await client.get("/v1/sync/dead-letters", headers={"Authorization": "Bearer nope"})
        assert bad.status == 403
        assert (await bad.json())["error"]["code"] == "forbidden"
        auth = {"Authorization": f"Bearer {env.ops_token}"}
        dead = await get_json(client, "/v1/sync/dead-letters", headers=auth)
        history = await get_json(client, f"/v1/physicians/{c}/history")
        metrics = await (await client.get("/metrics")).text()
    reasons = sorted(item["reason"].split(":")[0] for item in dead["items"])
    assert reasons == ["kid_mismatch", "malformed", "missing_signature", "schema", "wrong_topic"]
    by_code = {i["reason"].split(":")[0]: i for i in dead["items"]}
    assert "province 44's key" in by_code["kid_mismatch"]["reason"]
    assert by_code["wrong_topic"]["key"] == cert("44", 7)
    assert {i["topic"] for i in dead["items"]} == {env.topic("50")}
    # What 50's key did not sign is nobody's: no province, counted apart.
    assert {(i["reason"].split(":")[0], i["province"]) for i in dead["items"]} == {
        ("kid_mismatch", None),
        ("missing_signature", None),
        ("malformed", "50"),
        ("schema", "50"),
        ("wrong_topic", "50"),
    }
    assert [i["type"] for i in history["items"]] == ["registered", "assessed", "suspended"]
    assert 'regsync_hub_events_rejected_total{province="50",reason="wrong_topic"} 1.0' in metrics
    assert (
        f'regsync_hub_unauthenticated_messages_total{{reason="kid_mismatch",'
        f'topic="{env.topic("50")}"}} 1.0' in metrics
    )


async def test_rejected_event_is_explained_on_lookup(kafka_env: HubEnv) -> None:
    env = kafka_env
    c = cert("50", 8)
    doc = json.loads(canonical_bytes(make_event(env, "registered", "50", c, 1)))
    doc["record_version"] = 0
    value = json.dumps(doc).encode()
    await send(
        env, [Message(env.topic("50"), c.encode(), value, signed_headers(env.signers["50"], value))]
    )
    async with running_hub(env.settings()) as client:
        await wait_offsets(client, env, 1)
        body = await get_json(client, f"/v1/physicians/{c}", 404)
        unknown = await get_json(client, f"/v1/physicians/{cert('50', 9)}", 404)
    assert body["error"]["code"] == "not_found"
    assert body["explanation"]["state"] == "rejected"
    assert "schema" in body["explanation"]["reason"]
    assert unknown["explanation"]["state"] == "unknown_to_province"


async def test_an_event_not_signed_by_its_province_is_not_explained_as_its(
    kafka_env: HubEnv,
) -> None:
    env = kafka_env
    c = cert("50", 10)
    ev = make_event(env, "registered", "50", c, 1)
    await send(env, [signed(env, ev, signer=env.signers["11"])])
    async with running_hub(env.settings()) as client:
        await wait_offsets(client, env, 1)
        body = await get_json(client, f"/v1/physicians/{c}", 404)
    assert body["explanation"]["state"] == "unknown_to_province"


async def _transfer(env: HubEnv, old_first: bool) -> dict[str, Any]:
    old, new = cert("50", 20), cert("44", 20)
    before = lifecycle(env, "50", old, ("registered", "assessed"))
    out = make_event(env, "transferred_out", "50", old, 3, to_province="44")
    incoming = make_event(
        env, "registered", "44", new, 1, transfer_from={"province": "50", "cert_no": old}
    )
    old_side = [*before, out]
    async with running_hub(env.settings()) as client:
        first, second = (old_side, [incoming]) if old_first else ([incoming], old_side)
        await send_events(env, first)
        await wait_offsets(client, env, len(first))
        await send_events(env, second)
        await wait_offsets(client, env, 4)
        old_body = await get_json(client, f"/v1/physicians/{old}")
        new_body = await get_json(client, f"/v1/physicians/{new}")
    rows = table_dump(
        env.db,
        "SELECT province, cert_no, status, superseded_by_province, superseded_by_cert_no"
        " FROM records ORDER BY province",
    )
    return {"old": old_body, "new": new_body, "rows": rows, "old_no": old, "new_no": new}


async def test_transfer_old_province_first(kafka_env: HubEnv) -> None:
    got = await _transfer(kafka_env, old_first=True)
    _check_transfer(got)


async def test_transfer_new_province_first(kafka_env: HubEnv) -> None:
    got = await _transfer(kafka_env, old_first=False)
    _check_transfer(got)


def _check_transfer(got: dict[str, Any]) -> None:
    old, new = got["old_no"], got["new_no"]
    assert got["rows"] == [
        ("44", new, "active", None, None),
        ("50", old, "transferred_out", "44", new),
    ]
    assert got["old"]["superseded_by"] == {"province": "44", "cert_no": new}
    assert got["new"]["superseded_by"] is None
    assert got["new"]["transfer"] == {
        "from_province": "50",
        "from_cert_no": old,
        "to_province": None,
    }


async def test_heartbeats_are_kept_latest_per_province(kafka_env: HubEnv) -> None:
    env = kafka_env
    forged = heartbeat(env, "50", 99, 99)
    forged.headers = [("sig", forged.headers[0][1]), ("kid", env.signers["44"].kid.encode())]
    await send(env, [heartbeat(env, "50", 3, 2), heartbeat(env, "50", 5, 5), forged])
    await send(env, [heartbeat(env, "44", 1, 0)])
    async with running_hub(env.settings()) as client:
        store = hub_app(client)[STORE]

        async def both() -> bool:
            hbs = store.heartbeats()
            return "44" in hbs and hbs["50"].heartbeat.committed_seq == 5

        await wait_for(both)
        metrics = await (await client.get("/metrics")).text()
    assert 'regsync_hub_province_outbox_backlog{province="44"} 1.0' in metrics
    assert 'regsync_hub_heartbeat_age_seconds{province="50"}' in metrics
    assert (
        f'regsync_hub_unauthenticated_messages_total{{reason="kid_mismatch",'
        f'topic="{env.heartbeats_topic}"}} 1.0' in metrics
    )
    rows = table_dump(env.db, "SELECT province, committed_seq FROM heartbeats ORDER BY 1")
    assert rows == [("44", 1), ("50", 5)]
    assert table_dump(env.db, "SELECT count(*) FROM dead_letters") == [(0,)]


async def test_large_batches_decode_in_worker_processes(kafka_env: HubEnv) -> None:
    env = kafka_env
    events = [make_event(env, "registered", "11", cert("11", n), 1) for n in range(400)]
    bad = Message(
        env.topic("11"), b"bad", b'{"broken": ', signed_headers(env.signers["11"], b'{"broken": ')
    )
    await send(
        env, [*(signed(env, e) for e in events[:200]), bad, *(signed(env, e) for e in events[200:])]
    )
    async with running_hub(env.settings()) as client:
        await wait_offsets(client, env, 401)
        assert hub_app(client)[INGESTOR]._decode_pool is not None
        body = await get_json(client, f"/v1/physicians/{cert('11', 399)}")
    assert body["record_version"] == 1
    assert table_dump(env.db, "SELECT raw, split_part(reason, ':', 1) FROM dead_letters") == [
        (b'{"broken": ', "malformed")
    ]
    assert table_dump(env.db, "SELECT count(*) FROM records") == [(400,)]


async def test_a_failed_apply_is_retried_from_the_stored_offsets(
    kafka_env: HubEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = kafka_env
    from national_hub.store.store import Store

    real = Store.apply_batch
    calls = {"n": 0}

    def flaky(self: Store, batch: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk hiccup")
        return real(self, batch)

    monkeypatch.setattr(Store, "apply_batch", flaky)
    c = cert("50", 30)
    events = lifecycle(env, "50", c, ("registered", "suspended", "reinstated"))
    async with running_hub(env.settings()) as client:
        for ev in events:
            await send_events(env, [ev])
            await wait_version(client, c, ev.record_version)
        history = await get_json(client, f"/v1/physicians/{c}/history")
    assert calls["n"] >= 4
    assert [i["record_version"] for i in history["items"]] == [1, 2, 3]
