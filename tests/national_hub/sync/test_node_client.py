"""The hub asking province nodes over HTTP, and the explanations built on their answers."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hubkit import HubEnv, free_port

from national_hub.config import HubSettings
from national_hub.store.store import Store
from national_hub.sync.explain import Explainer
from national_hub.sync.node_client import NodeClient, NodePoller, NodeUnreachable

TOKEN = "hub-token"
HELD = "500000000000009"  # cert_no node 50 holds, its latest event not yet published
SENT = "500000000000010"  # cert_no node 50 holds, its latest event published


class FakeNode:
    """A province node's hub-role sync endpoints with canned answers."""

    def __init__(self) -> None:
        self.delay = 0.0
        self.record_requests = 0
        self.app = web.Application()
        self.app.router.add_get("/v1/sync/status", self.status)
        self.app.router.add_get("/v1/sync/records/{cert_no}", self.record)

    def _check(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            raise web.HTTPUnauthorized()

    async def status(self, request: web.Request) -> web.Response:
        self._check(request)
        await asyncio.sleep(self.delay)
        return web.json_response(
            {
                "province": "50",
                "committed_seq": 12,
                "published_seq": 11,
                "outbox_backlog": 1,
                "oldest_unpublished_at": "2026-11-22T04:10:00.123Z",
                "kafka": {"connected": False, "last_error": "timed out", "last_success_at": None},
            }
        )

    async def record(self, request: web.Request) -> web.Response:
        self._check(request)
        self.record_requests += 1
        cert_no = request.match_info["cert_no"]
        body: dict[str, Any] = {
            "exists": cert_no in (HELD, SENT),
            "latest_seq": {HELD: 12, SENT: 11}.get(cert_no),
            "record_version": 1 if cert_no in (HELD, SENT) else None,
            "committed_at": "2026-11-22T04:10:00.123Z" if cert_no in (HELD, SENT) else None,
            "published": cert_no == SENT,
            "published_at": None,
            "partition": None,
            "offset": None,
        }
        return web.json_response(body)


@pytest.fixture
async def node() -> AsyncIterator[tuple[FakeNode, str]]:
    fake = FakeNode()
    server = TestServer(fake.app)
    await server.start_server()
    yield fake, str(server.make_url("")).rstrip("/")
    await server.close()


def with_sync(settings: HubSettings, **changes: float) -> HubSettings:
    """The settings with these hub.tuning.sync values changed (e.g. node_timeout_s=0.5)."""
    sync = settings.tuning.sync.model_copy(update=changes)
    return dataclasses.replace(settings, tuning=settings.tuning.model_copy(update={"sync": sync}))


def settings_for(env: HubEnv, url_50: str, token: str | None = TOKEN) -> HubSettings:
    """The env's settings with node 50 at url_50, 44 and 11 at closed ports, and a token."""
    base = env.settings()
    provinces = {
        code: dataclasses.replace(
            p, node_url=url_50 if code == "50" else f"http://127.0.0.1:{free_port()}"
        )
        for code, p in base.provinces.items()
    }
    return dataclasses.replace(base, provinces=provinces, node_token=token)


@pytest.fixture
async def client(hub_env: HubEnv, node: tuple[FakeNode, str]) -> AsyncIterator[NodeClient]:
    nodes = NodeClient(with_sync(settings_for(hub_env, node[1]), node_timeout_s=0.5))
    await nodes.start()
    yield nodes
    await nodes.stop()


async def test_status_is_parsed(client: NodeClient) -> None:
    status = await client.status("50")
    assert (status.committed_seq, status.published_seq, status.outbox_backlog) == (12, 11, 1)
    assert (status.kafka_connected, status.kafka_error) == (False, "timed out")
    assert status.oldest_unpublished_at is not None


async def test_closed_port_is_unreachable(client: NodeClient) -> None:
    with pytest.raises(NodeUnreachable, match="cannot connect"):
        await client.status("44")


async def test_slow_node_is_unreachable_after_the_timeout(
    client: NodeClient, node: tuple[FakeNode, str]
) -> None:
    node[0].delay = 2.0
    with pytest.raises(NodeUnreachable, match=r"did not answer within 0\.5 s"):
        await client.status("50")


async def test_wrong_token_is_unreachable(hub_env: HubEnv, node: tuple[FakeNode, str]) -> None:
    nodes = NodeClient(settings_for(hub_env, node[1], token="wrong"))
    await nodes.start()
    try:
        with pytest.raises(NodeUnreachable, match="HTTP 401"):
            await nodes.status("50")
    finally:
        await nodes.stop()


async def test_poller_keeps_each_nodes_last_state(client: NodeClient, hub_env: HubEnv) -> None:
    seen: list[int] = []
    poller = NodePoller(client._settings, client)
    poller.add_listener(lambda s: seen.append(s.committed_seq))
    await poller.poll_once()
    ok, down = poller.state("50"), poller.state("44")
    assert ok is not None and ok.error is None and ok.status is not None
    assert down is not None and down.error is not None and down.last_ok_at is None
    assert seen == [12]


async def test_poller_asks_an_unreachable_node_less_often(client: NodeClient) -> None:
    answered: list[float] = []
    poller = NodePoller(with_sync(client._settings, node_poll_s=0.1), client)
    poller.add_listener(lambda _: answered.append(0))
    polled_44: list[float] = []
    real_poll = poller._poll

    async def counting(code: str) -> None:
        if code == "44":
            polled_44.append(0)
        await real_poll(code)

    poller._poll = counting  # type: ignore[method-assign]
    await poller.start()
    await asyncio.sleep(1.5)
    await poller.stop()
    # About 15 polls of the node that answers; 44 (closed port) backs off 0.2, 0.4, 0.8 s.
    assert len(answered) >= 10 and len(polled_44) <= 5


@pytest.fixture
def store(hub_env: HubEnv) -> Iterator[Store]:
    s = Store.open(hub_env.db)
    yield s
    s.close()


@pytest.mark.parametrize(
    ("cert_no", "province", "state"),
    [
        (HELD, None, "not_published"),
        (SENT, "50", "in_transit"),
        ("500000000000011", "50", "unknown_to_province"),
        ("440000000000001", "44", "province_unreachable"),
        ("440000000000001", None, "province_unreachable"),
    ],
)
async def test_cert_explanations_ask_the_nodes(
    client: NodeClient, store: Store, cert_no: str, province: str | None, state: str
) -> None:
    explainer = Explainer(store, client._settings, None, client)
    got = await explainer.cert(cert_no, province)
    assert got.state == state, got.reason


async def test_repeated_explanations_share_one_question_to_the_nodes(
    client: NodeClient, store: Store, node: tuple[FakeNode, str]
) -> None:
    fake, _ = node
    explainer = Explainer(store, client._settings, None, client)
    answers = await asyncio.gather(*(explainer.cert(HELD, "50") for _ in range(5)))
    await explainer.cert(HELD, "50")
    assert {a.state for a in answers} == {"not_published"}
    assert fake.record_requests == 1


async def test_not_published_names_the_kafka_error_and_backlog(
    client: NodeClient, store: Store
) -> None:
    got = await Explainer(store, client._settings, None, client).cert(HELD)
    assert (got.province, got.evidence.event_seq) == ("50", 12)
    assert got.evidence.outbox_backlog == 1
    assert "cannot reach Kafka (timed out)" in got.reason


# ---- the nodes' "no such record", remembered (issue 12, finding 11) -------------------------

UNKNOWN = "500000000000011"  # no node holds it


def explainer_for(client: NodeClient, store: Store, **sync: float) -> Explainer:
    # A shared round of questions lasts 0.05 s here: what is left is the negative cache.
    settings = with_sync(client._settings, node_answer_ttl_s=0.05, **sync)
    return Explainer(store, settings, None, client)


async def test_a_nodes_unknown_answer_is_believed_for_a_few_seconds(
    client: NodeClient, store: Store, node: tuple[FakeNode, str]
) -> None:
    explainer = explainer_for(client, store, node_unknown_ttl_s=5)
    first = await explainer.cert(UNKNOWN, "50")
    await asyncio.sleep(0.2)
    again = await explainer.cert(UNKNOWN, "50")
    assert (first.state, again.state) == ("unknown_to_province", "unknown_to_province")
    assert node[0].record_requests == 1


async def test_the_unknown_answer_expires(
    client: NodeClient, store: Store, node: tuple[FakeNode, str]
) -> None:
    explainer = explainer_for(client, store, node_unknown_ttl_s=0.1)
    await explainer.cert(UNKNOWN, "50")
    await asyncio.sleep(0.2)
    await explainer.cert(UNKNOWN, "50")
    assert node[0].record_requests == 2


async def test_the_unknown_answers_kept_are_bounded(
    client: NodeClient, store: Store, node: tuple[FakeNode, str]
) -> None:
    explainer = explainer_for(client, store, node_unknown_ttl_s=5, node_unknowns_kept=2)
    for cert_no in ("500000000000011", "500000000000012", "500000000000013"):
        await explainer.cert(cert_no, "50")
    await asyncio.sleep(0.1)
    await explainer.cert("500000000000013", "50")  # still kept
    assert node[0].record_requests == 3
    await explainer.cert("500000000000011", "50")  # the oldest was dropped: asked again
    assert node[0].record_requests == 4


async def test_a_number_the_node_holds_is_asked_again(
    client: NodeClient, store: Store, node: tuple[FakeNode, str]
) -> None:
    explainer = explainer_for(client, store, node_unknown_ttl_s=5)
    await explainer.cert(HELD, "50")
    await asyncio.sleep(0.2)
    await explainer.cert(HELD, "50")
    assert node[0].record_requests == 2
