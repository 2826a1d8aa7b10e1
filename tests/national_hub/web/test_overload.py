"""Overload is explicit (issue 13, item 4): beyond the reads the hub serves at once and lets
wait, a public read is answered 503 with Retry-After at once, while the probes and /metrics
keep answering, and the refusals are counted.

The hub runs on the session's Kafka with one place and no queue (or a queue of one); the test
takes the place itself through the app's Admission, as a slow read would.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from hubkit import HubEnv, hub_app, running_hub, wait_for

from national_hub.config import HubSettings
from national_hub.tuning import RateLimit
from national_hub.web.app import create_app
from national_hub.web.appkeys import ADMISSION
from national_hub.web.middleware import ADMITTED_ROUTES, EXEMPT_ROUTES

LOOKUP = "/v1/physicians/500000000000001"  # nobody holds it: 404 when served


def tuned(env: HubEnv, **web: Any) -> HubSettings:
    """The federation's hub settings with hub.tuning.web keys changed."""
    settings = env.settings()
    tuning = settings.tuning.model_copy(update={"web": settings.tuning.web.model_copy(update=web)})
    return dataclasses.replace(settings, tuning=tuning)


@contextlib.asynccontextmanager
async def full_hub(settings: HubSettings) -> AsyncIterator[TestClient]:
    """The hub, ready, with every place taken by the test."""
    async with running_hub(settings) as client, hub_app(client)[ADMISSION].admitted():
        yield client


@pytest.fixture
async def full(kafka_env: HubEnv) -> AsyncIterator[TestClient]:
    """One place, taken; no queue."""
    async with full_hub(tuned(kafka_env, max_in_flight=1, max_queued=0)) as client:
        yield client


async def _metric(client: TestClient, line_start: str) -> float:
    text = await (await client.get("/metrics")).text()
    values = [float(ln.rsplit(" ", 1)[1]) for ln in text.splitlines() if ln.startswith(line_start)]
    assert len(values) == 1, f"{line_start!r} in /metrics: {values}"
    return values[0]


async def test_a_read_beyond_the_bound_is_answered_503_overloaded(full: TestClient) -> None:
    resp = await full.get(LOOKUP)
    body = await resp.json()
    assert (resp.status, body["error"]["code"], body["error"]["details"]) == (503, "overloaded", [])


async def test_the_refusal_says_in_whole_seconds_when_to_retry(full: TestClient) -> None:
    resp = await full.get("/v1/physicians?name=张伟")
    assert int(resp.headers["Retry-After"]) >= 1


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/v1/sync/status"])
async def test_probes_metrics_and_status_answer_while_the_hub_is_full(
    full: TestClient, path: str
) -> None:
    assert (await full.get(path)).status == 200


async def test_a_refused_read_is_counted_as_shed(full: TestClient) -> None:
    await full.get(LOOKUP)
    shed = 'regsync_hub_requests_shed_total{reason="queue_full"}'
    assert await _metric(full, shed) == 1.0


async def test_the_reads_in_flight_are_a_gauge(full: TestClient) -> None:
    assert await _metric(full, "regsync_hub_requests_in_flight ") == 1.0


async def test_a_client_over_its_rate_limit_is_refused_before_it_waits(
    kafka_env: HubEnv,
) -> None:
    settings = tuned(
        kafka_env, max_in_flight=1, max_queued=0, rate_limit=RateLimit(rate=0.001, burst=1)
    )
    # running_hub polls /readyz, which the rate limit does not count.
    async with full_hub(settings) as client:
        assert (await client.get(LOOKUP)).status == 503  # takes the client's one token
        assert (await client.get(LOOKUP)).status == 429


async def test_a_queued_read_is_served_when_a_place_frees(kafka_env: HubEnv) -> None:
    async with running_hub(tuned(kafka_env, max_in_flight=1, max_queued=1)) as client:
        admission = hub_app(client)[ADMISSION]
        async with admission.admitted():
            read = asyncio.create_task(client.get(LOOKUP))

            async def arrived() -> bool:
                return admission.queued == 1

            await wait_for(arrived, seconds=5)
            assert await _metric(client, "regsync_hub_requests_queued ") == 1.0
        assert (await read).status == 404


async def test_a_lookup_waiting_for_its_token_holds_no_place(kafka_env: HubEnv) -> None:
    async with running_hub(tuned(kafka_env, max_in_flight=1, max_queued=0)) as client:
        waiting = asyncio.create_task(client.get(f"{LOOKUP}?min_token=50:999999&wait=3"))
        await asyncio.sleep(0.5)  # it has arrived and waits for ingest to apply 50:999999
        other = await client.get(LOOKUP)
        assert ((await waiting).status, other.status) == (409, 404)


def test_every_route_is_admitted_or_exempt_by_name(hub_env: HubEnv) -> None:
    names = {r.name for r in create_app(hub_env.settings()).router.routes() if r.name}
    assert (sorted(names), ADMITTED_ROUTES & EXEMPT_ROUTES) == (
        sorted(ADMITTED_ROUTES | EXEMPT_ROUTES),
        frozenset(),
    )
