"""/v1/watch/* on a running hub (real Kafka): institution keys, watch lists, webhooks, feed."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient
from hubkit import (
    cert,
    create_topics,
    make_event,
    running_hub,
    send_events,
    wait_version,
    write_federation,
)

from national_hub.config import HubSettings
from national_hub.notify.institutions import Institutions
from national_hub.notify.schema import connect
from schemas.checksums import credit_code_check_char
from schemas.federation import load_federation

pytestmark = pytest.mark.asyncio(loop_scope="module")

KNOWN = [cert("50", n) for n in (1, 2, 3)]
UNKNOWN = cert("50", 99)
# Five refused keys lock a client out for a second (the default is 20 for 60 s): the
# throttling test then waits the second out, so the module's other tests are not refused.
THROTTLE = "5/60/1"


def new_org_code() -> str:
    """A valid credit code no other test uses."""
    first = "12" + "".join(secrets.choice("0123456789") for _ in range(15))
    return first + credit_code_check_char(first)


@dataclass
class Running:
    client: TestClient
    institutions: Institutions


@dataclass
class Hub:
    client: TestClient
    key_a: str
    key_b: str

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key_a}"}

    async def call(
        self, method: str, path: str, status: int, key: str | None = None, **kw: Any
    ) -> Any:
        resp = await self.client.request(method, path, headers=self.auth(key), **kw)
        text = await resp.text()
        assert resp.status == status, f"{method} {path}: {resp.status} {text}"
        return await resp.json() if text else None


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def running(
    bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Running]:
    """One hub for the module, holding three registrations of province 50."""
    env = write_federation(
        tmp_path_factory.mktemp("watch"), bootstrap, f"wr_{uuid.uuid4().hex[:10]}"
    )
    await create_topics(env)
    await send_events(env, [make_event(env, "registered", "50", c, 1) for c in KNOWN])
    settings = HubSettings.from_federation(
        load_federation(env.config), environ={"REGSYNC_AUTH_THROTTLE": THROTTLE}
    )
    async with running_hub(settings) as client:
        for c in KNOWN:
            await wait_version(client, c, 1)
        yield Running(client, Institutions(connect(settings.notify_store_path)))


@pytest.fixture
def hub(running: Running) -> Hub:
    """The hub and two new institutions with keys (each test its own)."""
    key_a = running.institutions.add(new_org_code(), "甲医院")
    key_b = running.institutions.add(new_org_code(), "乙医院")
    return Hub(running.client, key_a, key_b)


async def test_missing_key_is_401_with_challenge(hub: Hub) -> None:
    resp = await hub.client.get("/v1/watch/certificates")
    assert resp.status == 401 and resp.headers["WWW-Authenticate"] == "Bearer"


async def test_wrong_key_is_401(hub: Hub) -> None:
    await hub.call("GET", "/v1/watch/certificates", 401, key="rsk_not-a-key")


async def test_wrong_keys_are_throttled_like_the_ops_token(hub: Hub) -> None:
    # Five refusals within the window lock the client (earlier tests' refusals count too).
    statuses = []
    try:
        for _ in range(6):
            resp = await hub.client.get("/v1/watch/feed", headers=hub.auth("rsk_guess"))
            statuses.append(resp.status)
    finally:
        await asyncio.sleep(1.1)
    assert statuses[-1] == 429 and set(statuses) == {401, 429}


async def test_enrolment_sorts_every_number(hub: Hub) -> None:
    await hub.call("POST", "/v1/watch/certificates", 200, json={"cert_nos": KNOWN[:1]})
    body = await hub.call(
        "POST", "/v1/watch/certificates", 200, json={"cert_nos": [*KNOWN, UNKNOWN, "12x"]}
    )
    assert body == {
        "added": KNOWN[1:],
        "already": KNOWN[:1],
        "unknown": [UNKNOWN],
        "invalid": ["12x"],
    }


async def test_csv_bad_rows_are_named_and_the_rest_enrolled(hub: Hub) -> None:
    csv = f"证书编号,姓名\n{KNOWN[0]},张三\nabc\n{KNOWN[1]}\n".encode()
    body = await hub.call("POST", "/v1/watch/certificates.csv", 200, data=csv)
    assert body["added"] == KNOWN[:2]
    assert [r["line"] for r in body["rejects"]] == [3]


async def test_watch_list_is_per_institution(hub: Hub) -> None:
    await hub.call("POST", "/v1/watch/certificates", 200, json={"cert_nos": KNOWN[:2]})
    mine = await hub.call("GET", "/v1/watch/certificates", 200)
    theirs = await hub.call("GET", "/v1/watch/certificates", 200, key=hub.key_b)
    assert [i["cert_no"] for i in mine["items"]] == KNOWN[:2] and theirs["items"] == []


async def test_remove_then_not_found(hub: Hub) -> None:
    await hub.call("POST", "/v1/watch/certificates", 200, json={"cert_nos": KNOWN[:1]})
    await hub.call("DELETE", f"/v1/watch/certificates/{KNOWN[0]}", 204)
    await hub.call("DELETE", f"/v1/watch/certificates/{KNOWN[0]}", 404)


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"not json", 400, "cert_nos"),
        (b'{"cert_nos": "500000000000001"}', 422, "cert_nos"),
        (b'{"cert_no": []}', 422, "cert_no"),
    ],
)
async def test_bad_enrolment_body_names_the_field(
    hub: Hub, body: bytes, status: int, field: str
) -> None:
    answer = await hub.call("POST", "/v1/watch/certificates", status, data=body)
    assert field in {d["field"] for d in answer["error"]["details"]}


async def test_roster_switch(hub: Hub) -> None:
    await hub.call("PUT", "/v1/watch/roster", 200, json={"enabled": True})
    listed = await hub.call("GET", "/v1/watch/certificates", 200)
    assert listed["roster"] is True


async def test_webhook_secret_shown_once(hub: Hub) -> None:
    created = await hub.call("POST", "/v1/watch/webhooks", 201, json={"url": "https://h.cn/x"})
    listed = await hub.call("GET", "/v1/watch/webhooks", 200)
    assert created["secret"].startswith("whsec_")
    assert listed["items"] == [{k: created[k] for k in ("id", "url", "created_at")}]


async def test_bad_webhook_url_names_the_field(hub: Hub) -> None:
    answer = await hub.call("POST", "/v1/watch/webhooks", 400, json={"url": "ftp://h.cn/x"})
    assert answer["error"]["details"][0]["field"] == "url"


async def test_another_institution_gets_403_for_my_webhook(hub: Hub) -> None:
    hook = await hub.call("POST", "/v1/watch/webhooks", 201, json={"url": "https://h.cn/x"})
    await hub.call("GET", f"/v1/watch/deliveries?webhook={hook['id']}", 403, key=hub.key_b)
    await hub.call("DELETE", f"/v1/watch/webhooks/{hook['id']}", 403, key=hub.key_b)


async def test_unknown_delivery_is_404(hub: Hub) -> None:
    await hub.call("POST", "/v1/watch/deliveries/12345/redeliver", 404)


async def test_empty_feed_keeps_the_cursor(hub: Hub) -> None:
    body = await hub.call("GET", "/v1/watch/feed?after=7&wait=0", 200)
    assert body == {"items": [], "next_cursor": "7"}


async def test_bad_feed_cursor_names_it(hub: Hub) -> None:
    body = await hub.call("GET", "/v1/watch/feed?after=abc", 400)
    assert body["error"]["details"][0]["field"] == "after"
