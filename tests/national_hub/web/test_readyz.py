"""GET /readyz as a load balancer sees it: not ready while catching up or draining (issue 16)."""

from __future__ import annotations

from hubkit import (
    HubEnv,
    cert,
    get_json,
    hub_app,
    make_event,
    running_hub,
    send_events,
    wait_for,
)

from national_hub.web.appkeys import DRAINING


def ops(env: HubEnv) -> dict[str, str]:
    return {"Authorization": f"Bearer {env.ops_token}"}


def with_ready_bound(env: HubEnv, seconds: float) -> None:
    """Append [hub.tuning.web] ready_max_lag_s to the env's federation file."""
    env.config.write_text(
        env.config.read_text() + f"\n[hub.tuning.web]\nready_max_lag_s = {seconds}\n"
    )


async def test_unapplied_events_beyond_the_bound_make_it_not_ready(kafka_env: HubEnv) -> None:
    env = kafka_env
    with_ready_bound(env, 0.5)
    async with running_hub(env.settings()) as client:
        # Ingest paused: the events wait in Kafka, as they do for a replica catching up.
        await client.post("/v1/ops/ingest", json={"paused": True}, headers=ops(env))
        await send_events(env, [make_event(env, "registered", "50", cert("50", 1), 1)])

        async def held_back() -> str | None:
            resp = await client.get("/readyz")
            body = await resp.json()
            return body["error"]["message"] if resp.status == 503 else None

        message = await wait_for(held_back, seconds=15)
    assert "50" in message


async def test_ready_again_once_caught_up(kafka_env: HubEnv) -> None:
    env = kafka_env
    with_ready_bound(env, 0.5)
    async with running_hub(env.settings()) as client:
        await client.post("/v1/ops/ingest", json={"paused": True}, headers=ops(env))
        await send_events(env, [make_event(env, "registered", "50", cert("50", 2), 1)])

        async def status_is(code: int) -> bool:
            return (await client.get("/readyz")).status == code

        await wait_for(lambda: status_is(503), seconds=15)
        await client.post("/v1/ops/ingest", json={"paused": False}, headers=ops(env))
        assert await wait_for(lambda: status_is(200), seconds=15)


async def test_draining_hub_is_not_ready_but_still_answers(kafka_env: HubEnv) -> None:
    async with running_hub(kafka_env.settings()) as client:
        hub_app(client)[DRAINING].set()
        readyz = await client.get("/readyz")
        healthz = await get_json(client, "/healthz")
    assert (readyz.status, healthz["status"]) == (503, "ok")
