"""The hub's core HTTP surface: errors, readiness, metrics, sync tokens."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hubkit import (
    HubEnv,
    cert,
    get_json,
    make_event,
    running_hub,
    send_events,
    signed,
    wait_version,
)

from national_hub.ingest.decode import Decoder, DecoderSpec
from national_hub.ingest.messages import Batch, Raw
from national_hub.store.store import Store
from national_hub.web.app import create_app


@pytest.fixture
async def offline_client(hub_env: HubEnv) -> AsyncIterator[TestClient]:
    """The hub with Kafka unreachable: the API must still answer from its store."""
    async with TestClient(TestServer(create_app(hub_env.settings()))) as client:
        yield client


async def test_liveness_without_kafka_and_not_ready(offline_client: TestClient) -> None:
    assert await get_json(offline_client, "/healthz") == {"status": "ok"}
    body = await get_json(offline_client, "/readyz", 503)
    assert body["error"]["code"] == "not_ready"


@pytest.mark.parametrize(
    ("path", "status", "code", "field"),
    [
        ("/nope", 404, "not_found", None),
        ("/v1/physicians/12345", 400, "invalid_parameter", "cert_no"),
        ("/v1/physicians/12345/history", 400, "invalid_parameter", "cert_no"),
        # A trailing newline is no part of a certificate number (a `$` regex let it through).
        ("/v1/physicians/500000000000001%0A", 400, "invalid_parameter", "cert_no"),
        ("/v1/physicians/500000000000001%0A/history", 400, "invalid_parameter", "cert_no"),
        ("/v1/physicians/%0A500000000000001", 400, "invalid_parameter", "cert_no"),
        ("/v1/physicians/500000000000001%20", 400, "invalid_parameter", "cert_no"),
        # The sync token is matched whole, as the cert_no is: no trailing newline or space.
        (
            "/v1/physicians/500000000000001?min_token=50:3%0A",
            400,
            "invalid_parameter",
            "min_token",
        ),
        (
            "/v1/physicians/500000000000001?min_token=50:3%20",
            400,
            "invalid_parameter",
            "min_token",
        ),
        # Arabic-Indic one: a `\d` regex read it as seq 1.
        (
            "/v1/physicians/500000000000001?min_token=50:%D9%A1",
            400,
            "invalid_parameter",
            "min_token",
        ),
        ("/v1/physicians/500000000000001?min_token=50-3", 400, "invalid_parameter", "min_token"),
        ("/v1/physicians/500000000000001?min_token=99:3", 400, "invalid_parameter", "min_token"),
        ("/v1/physicians/500000000000001?min_token=50:3&wait=x", 400, "invalid_parameter", "wait"),
        ("/v1/physicians/500000000000001?min_token=50:3&wait=99", 400, "invalid_parameter", "wait"),
        (
            "/v1/physicians/500000000000001?min_token=50:3&wait=nan",
            400,
            "invalid_parameter",
            "wait",
        ),
    ],
)
async def test_bad_requests_get_the_error_body(
    offline_client: TestClient, path: str, status: int, code: str, field: str | None
) -> None:
    body = await get_json(offline_client, path, status)
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    fields = [d["field"] for d in body["error"]["details"]]
    assert fields == ([field] if field else [])


async def test_wrong_method_is_405_in_the_same_format(offline_client: TestClient) -> None:
    resp = await offline_client.post("/v1/physicians/500000000000001")
    body = await resp.json()
    assert (resp.status, body["error"]["code"]) == (405, "method_not_allowed")


async def test_unknown_cert_is_404_with_explanation(offline_client: TestClient) -> None:
    body = await get_json(offline_client, "/v1/physicians/500000000000001", 404)
    assert body["error"]["code"] == "not_found"
    explanation = body["explanation"]
    assert (explanation["visible"], explanation["state"]) == (False, "unknown_to_province")
    assert set(explanation["evidence"]) >= {"hub_applied_seq", "last_heartbeat_at"}
    history = await get_json(offline_client, "/v1/physicians/500000000000001/history", 404)
    assert history["explanation"]["state"] == "unknown_to_province"


async def test_token_not_applied_is_409_after_waiting(offline_client: TestClient) -> None:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    body = await get_json(
        offline_client, "/v1/physicians/500000000000001?min_token=50:3&wait=0.3", 409
    )
    assert loop.time() - t0 >= 0.3
    assert body["error"]["code"] == "not_yet_applied"
    assert body["explanation"]["evidence"]["event_seq"] == 3


async def test_metrics_exposes_the_contract_names(offline_client: TestClient) -> None:
    resp = await offline_client.get("/metrics")
    text = await resp.text()
    assert resp.status == 200 and resp.content_type == "text/plain"
    for name in (
        "regsync_hub_events_applied_total",
        "regsync_hub_events_rejected_total",
        "regsync_hub_apply_latency_seconds_bucket",
        "regsync_hub_freshness_lag_seconds",
        "regsync_hub_consumer_lag_messages",
        "regsync_hub_heartbeat_age_seconds",
        "regsync_hub_province_outbox_backlog",
        "regsync_hub_sync_status",
        "regsync_hub_records",
    ):
        assert f"# HELP {name.removesuffix('_bucket').removesuffix('_total')}" in text, name
    assert 'regsync_hub_sync_status{province="44",status="unknown"} 1.0' in text


async def test_lookup_waits_for_a_sync_token(kafka_env: HubEnv) -> None:
    env = kafka_env
    c = cert("50", 1)
    first = make_event(env, "registered", "50", c, 1)
    second = make_event(env, "suspended", "50", c, 2)
    async with running_hub(env.settings()) as client:
        await send_events(env, [first])
        await wait_version(client, c, 1)
        pending = asyncio.ensure_future(
            client.get(
                f"/v1/physicians/{c}", params={"min_token": f"50:{second.seq}", "wait": "10"}
            )
        )
        await asyncio.sleep(0.3)
        assert not pending.done()
        await send_events(env, [second])
        resp = await pending
        body = await resp.json()
        assert (resp.status, body["record_version"], body["status"]) == (200, 2, "suspended")
        # An applied token answers at once.
        now = await get_json(client, f"/v1/physicians/{c}", params={"min_token": "50:1"})
        assert now["record_version"] == 2
        metrics = await (await client.get("/metrics")).text()
    assert 'regsync_hub_records{province="50",status="suspended"}' in metrics
    assert 'regsync_hub_consumer_lag_messages{province="50"} 0.0' in metrics


async def test_token_of_a_refused_cert_conflict_is_409_rejected(hub_env: HubEnv) -> None:
    c = cert("50", 30)
    held = make_event(hub_env, "registered", "50", c, 1)
    claim = make_event(hub_env, "registered", "11", c, 1)
    decoder = Decoder(DecoderSpec.from_settings(hub_env.settings()))
    store = Store.open(hub_env.db)
    try:
        for ev in (held, claim):
            m = signed(hub_env, ev)
            batch = Batch()
            batch.extend([decoder.decode(Raw(m.topic, 0, 0, m.key, m.value, m.headers))])
            store.apply_batch(batch)
    finally:
        store.close()
    async with TestClient(TestServer(create_app(hub_env.settings()))) as client:
        body = await get_json(client, f"/v1/physicians/{c}?min_token=11:{claim.seq}", 409)
        ok = await get_json(client, f"/v1/physicians/{c}?min_token=50:{held.seq}")
    assert body["error"]["code"] == "token_rejected"
    assert body["explanation"]["state"] == "rejected"
    assert body["explanation"]["rejection"]["reason"].startswith("cert_conflict")
    assert ok["province"] == "50"
