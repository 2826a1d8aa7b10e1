"""The hub's sync routes in-process: status, explain, lag history, anomalies, ops, dashboard."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hubkit import (
    HubEnv,
    cert,
    get_json,
    heartbeat,
    hub_app,
    make_event,
    running_hub,
    send,
    send_events,
    signed,
    wait_for,
    wait_offsets,
    wait_version,
)

from national_hub.web.app import create_app
from national_hub.web.appkeys import LAG_SAMPLER

STATUS_KEYS = {
    "province",
    "name",
    "status",
    "reason",
    "lag_seconds",
    "applied_seq",
    "province_committed_seq",
    "province_published_seq",
    "outbox_backlog",
    "consumer_lag_messages",
    "last_heartbeat_at",
    "dead_letters",
    # Beyond the CONTRACT's list: the province clock's estimated offset (README "Clock skew").
    "clock_offset_seconds",
}


@pytest.fixture
async def offline_client(hub_env: HubEnv) -> AsyncIterator[TestClient]:
    """The hub with Kafka unreachable and no node token."""
    async with TestClient(TestServer(create_app(hub_env.settings()))) as client:
        yield client


def ops(env: HubEnv) -> dict[str, str]:
    return {"Authorization": f"Bearer {env.ops_token}"}


# ---- without Kafka ------------------------------------------------------------------------


async def test_status_lists_every_province_unknown_before_any_news(
    offline_client: TestClient,
) -> None:
    body = await get_json(offline_client, "/v1/sync/status")
    assert body["generated_at"].endswith("Z")
    assert [p["province"] for p in body["provinces"]] == ["50", "44", "11"]
    assert all(set(p) == STATUS_KEYS for p in body["provinces"])
    assert {p["status"] for p in body["provinces"]} == {"unknown"}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("", "cert_no"),
        ("?cert_no=500000000000001&token=50:1", "cert_no"),
        ("?cert_no=123", "cert_no"),
        ("?cert_no=500000000000001%0A", "cert_no"),
        ("?cert_no=500000000000001%0D%0A", "cert_no"),
        ("?cert_no=500000000000001&province=50%0A", "province"),
        ("?token=50:1%0A", "token"),
        ("?token=%2050:1", "token"),
        ("?cert_no=500000000000001&province=99", "province"),
        ("?token=50-1", "token"),
        ("?token=99:1", "token"),
        ("?token=50:0", "token"),
    ],
)
async def test_explain_refuses_bad_parameters(
    offline_client: TestClient, query: str, field: str
) -> None:
    body = await get_json(offline_client, f"/v1/sync/explain{query}", 400)
    assert [d["field"] for d in body["error"]["details"]] == [field]


async def test_explain_unknown_cert_without_node_token(offline_client: TestClient) -> None:
    body = await get_json(offline_client, "/v1/sync/explain?cert_no=500000000000001")
    assert (body["state"], body["visible"]) == ("unknown_to_province", False)
    assert set(body) >= {"reason", "province", "eta_seconds", "evidence"}


async def test_lag_history_validates_minutes_and_samples(offline_client: TestClient) -> None:
    await get_json(offline_client, "/v1/sync/lag-history?minutes=0", 400)
    hub_app(offline_client)[LAG_SAMPLER].sample()
    body = await get_json(offline_client, "/v1/sync/lag-history?minutes=15")
    assert set(body["provinces"]) == {"50", "44", "11"}
    assert all(pt["lag_seconds"] is None for pt in body["provinces"]["50"])


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/anomalies"), ("GET", "/v1/ops/ingest"), ("POST", "/v1/ops/ingest")],
)
async def test_ops_routes_need_the_ops_token(
    offline_client: TestClient, method: str, path: str
) -> None:
    none = await offline_client.request(method, path)
    wrong = await offline_client.request(method, path, headers={"Authorization": "Bearer x"})
    assert (none.status, wrong.status) == (401, 403)


async def test_ingest_pause_needs_a_boolean(offline_client: TestClient, hub_env: HubEnv) -> None:
    resp = await offline_client.post("/v1/ops/ingest", json={"paused": "yes"}, headers=ops(hub_env))
    body = await resp.json()
    assert (resp.status, body["error"]["details"][0]["field"]) == (400, "paused")


async def test_dashboard_and_static_files_are_served(offline_client: TestClient) -> None:
    page = await offline_client.get("/dashboard")
    script = await offline_client.get("/static/dashboard.js")
    assert (page.status, page.content_type) == (200, "text/html")
    assert 'id="status-rows"' in await page.text()
    assert script.status == 200


# ---- with Kafka ---------------------------------------------------------------------------


async def test_heartbeat_makes_a_province_ok_with_its_gauges(kafka_env: HubEnv) -> None:
    env = kafka_env
    async with running_hub(env.settings()) as client:
        await send(env, [heartbeat(env, "50", 0, 0)])

        async def ok() -> dict[str, object] | None:
            body = await get_json(client, "/v1/sync/status")
            entry = body["provinces"][0]
            return entry if entry["status"] == "ok" else None

        entry = await wait_for(ok)
        metrics = await (await client.get("/metrics")).text()
    assert entry["lag_seconds"] is not None and entry["lag_seconds"] < 5
    assert 'regsync_hub_sync_status{province="50",status="ok"} 1.0' in metrics
    assert 'regsync_hub_sync_status{province="50",status="unknown"} 0.0' in metrics
    assert 'regsync_hub_province_outbox_backlog{province="50"} 0.0' in metrics
    assert 'regsync_hub_heartbeat_age_seconds{province="50"}' in metrics
    assert 'regsync_hub_freshness_lag_seconds{province="50"} NaN' not in metrics


async def test_search_freshness_comes_from_sync_status(kafka_env: HubEnv) -> None:
    env = kafka_env
    c = cert("50", 1)
    async with running_hub(env.settings()) as client:
        await send_events(env, [make_event(env, "registered", "50", c, 1, name="张伟")])
        await send(env, [heartbeat(env, "50", 1, 1)])
        await wait_version(client, c, 1)

        async def fresh() -> dict[str, object] | None:
            body = await get_json(client, "/v1/physicians", params={"name": "张伟"})
            return body if body["freshness"]["50"]["status"] == "ok" else None

        body = await wait_for(fresh)
    assert body["freshness"]["50"]["lag_seconds"] < 5
    assert body["freshness"]["44"] == {"lag_seconds": None, "status": "unknown"}


async def test_rejected_sync_token_is_explained(kafka_env: HubEnv) -> None:
    env = kafka_env
    ev = make_event(env, "registered", "50", cert("50", 2), 1)
    # Signed by 50, but keyed by another certificate: 50's own event, refused.
    message = signed(env, ev)
    message.key = cert("50", 3).encode()
    async with running_hub(env.settings()) as client:
        await send(env, [message])
        await wait_offsets(client, env, 1)
        body = await get_json(client, f"/v1/sync/explain?token=50:{ev.seq}")
    assert (body["state"], body["province"]) == ("rejected", "50")
    assert body["rejection"]["reason"].startswith("wrong_key")


async def test_anomalies_list_both_kinds(kafka_env: HubEnv) -> None:
    env = kafka_env
    held, other = cert("50", 3), cert("44", 3)
    events = [
        # The sample records share one person_ref: the same person active in 50 and 44.
        make_event(env, "registered", "50", held, 1),
        make_event(env, "registered", "44", other, 1),
    ]
    claim = make_event(env, "registered", "44", held, 1)
    async with running_hub(env.settings()) as client:
        await send_events(env, events)
        await wait_version(client, other, 1)
        await send_events(env, [claim])
        await wait_offsets(client, env, 3)
        body = await get_json(client, "/v1/anomalies", headers=ops(env))
    kinds = {item["kind"]: item for item in body["items"]}
    person = kinds["person_active_in_two_provinces"]
    assert [(r["province"], r["cert_no"]) for r in person["records"]] == [
        ("44", other),
        ("50", held),
    ]
    conflict = kinds["cert_no_claimed_by_two_provinces"]
    assert (conflict["cert_no"], conflict["held_by"], conflict["claimed_by"]) == (held, "50", "44")
    assert body["counts"] == {
        "person_active_in_two_provinces": 1,
        "person_active_twice_in_one_province": 0,
        "cert_no_claimed_by_two_provinces": 1,
        "unconfirmed_transfer": 0,
    }


async def test_paused_ingest_applies_nothing_until_resumed(kafka_env: HubEnv) -> None:
    env = kafka_env
    c = cert("50", 4)
    ev = make_event(env, "registered", "50", c, 1)
    async with running_hub(env.settings()) as client:
        paused = await client.post("/v1/ops/ingest", json={"paused": True}, headers=ops(env))
        assert (await paused.json())["in_effect"] is True
        await send_events(env, [ev])
        await send(env, [heartbeat(env, "50", ev.seq, ev.seq)])

        async def in_transit() -> dict[str, object] | None:
            # Consumer lag of paused partitions is re-measured every second, so it may lag.
            body = await get_json(client, f"/v1/sync/explain?token=50:{ev.seq}")
            counted = body["evidence"]["consumer_lag_messages"] == 1
            return body if body["state"] == "in_transit" and counted else None

        explained = await wait_for(in_transit)
        assert (await client.get(f"/v1/physicians/{c}")).status == 404
        await client.post("/v1/ops/ingest", json={"paused": False}, headers=ops(env))
        await wait_version(client, c, 1)
    assert explained["eta_seconds"] > 0
