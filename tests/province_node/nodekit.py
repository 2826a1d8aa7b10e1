"""Helpers of the province node tests: federation files, a node client, test data, Kafka reads."""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from province_node.config import NodeSettings
from province_node.web.app import create_app
from schemas.checksums import resident_id_check_char
from schemas.federation import load_federation
from schemas.person_ref import write_secret
from schemas.samples import PRIMARY_INSTITUTION, SECOND_INSTITUTION, credit_code
from schemas.signing import write_keypair

PROVINCE = "50"
ROLES = ("registrar", "viewer", "hub")
THIRD_INSTITUTION = {
    "org_code": credit_code("12500104450400345"),
    "name": "重庆市大渡口区人民医院",
    "region_code": "500104",
}


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class FedEnv:
    """A federation file in a temporary directory, with its keys and plain tokens."""

    root: Path
    config: Path
    tokens: dict[str, str]
    bootstrap: str
    topic_prefix: str
    overrides: dict[str, Any] = field(default_factory=dict)

    def settings(self, province: str = PROVINCE, **overrides: Any) -> NodeSettings:
        """NodeSettings for a province, with tunables shortened for tests."""
        base = NodeSettings.from_federation(load_federation(self.config), province)
        return base.model_copy(update={**self.overrides, **overrides})

    @property
    def db(self) -> Path:
        """The province database path written into the file."""
        return self.root / "var" / f"province-{PROVINCE}.sqlite"

    def topic(self, province: str = PROVINCE) -> str:
        """The events topic of a province under this test's prefix."""
        return f"{self.topic_prefix}.events.{province}"


def write_federation(
    root: Path, bootstrap: str, topic_prefix: str, *, listen_port: int = 18150
) -> FedEnv:
    """Keys, secret, tokens and federation.toml for province 50 (and a hub) under root."""
    keys = root / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    (root / "var").mkdir(exist_ok=True)
    for name in ("hub", PROVINCE):
        write_keypair(keys / name)
    write_secret(keys / "federation.secret")
    tokens = {role: secrets.token_urlsafe(16) for role in ROLES}
    config = root / "federation.toml"
    token_lines = ", ".join(f'{role} = ["{_sha(token)}"]' for role, token in tokens.items())
    config.write_text(
        f"""
[kafka]
bootstrap = "{bootstrap}"
topic_prefix = "{topic_prefix}"
partitions = 3
replication_factor = 1

[hub]
listen = "127.0.0.1:18080"
db = "var/national.duckdb"
signing_key = "keys/hub.key"
ops_token_sha256 = "{_sha("ops")}"

[[province]]
code = "{PROVINCE}"
name = "重庆市"
node_url = "http://127.0.0.1:{listen_port}"
public_key = "keys/{PROVINCE}.pub"
listen = "127.0.0.1:{listen_port}"
db = "var/province-{PROVINCE}.sqlite"
signing_key = "keys/{PROVINCE}.key"
tokens_sha256 = {{ {token_lines} }}
person_ref_key_file = "keys/federation.secret"
""",
        encoding="utf-8",
    )
    return FedEnv(root, config, tokens, bootstrap, topic_prefix)


class Node:
    """A running node app with a client that knows the tokens."""

    def __init__(self, client: TestClient[Any, Any], tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens
        self.app = client.server.app
        assert self.app is not None

    def auth(self, role: str | None) -> dict[str, str]:
        """The Authorization header of a role (none for None)."""
        return {} if role is None else {"Authorization": f"Bearer {self.tokens[role]}"}

    async def call(
        self,
        method: str,
        path: str,
        *,
        role: str | None = "registrar",
        json_body: Any = None,
        data: bytes | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, ClientResponse]:
        """Send a request; return (status, parsed JSON body or text, response)."""
        hdrs = {**self.auth(role), **(headers or {})}
        if json_body is not None:
            data = json.dumps(json_body, ensure_ascii=False)
            hdrs.setdefault("Content-Type", "application/json")
        resp = await self.client.request(method, path, data=data, headers=hdrs)
        text = await resp.text()
        try:
            body: Any = json.loads(text)
        except ValueError:
            body = text
        return resp.status, body, resp

    async def register(self, body: dict[str, Any], **kw: Any) -> tuple[int, Any, ClientResponse]:
        """POST /v1/registrations."""
        return await self.call("POST", "/v1/registrations", json_body=body, **kw)

    async def step(
        self, cert_no: str, body: dict[str, Any], **kw: Any
    ) -> tuple[int, Any, ClientResponse]:
        """POST /v1/registrations/{cert_no}/events."""
        return await self.call("POST", f"/v1/registrations/{cert_no}/events", json_body=body, **kw)

    async def status(self) -> dict[str, Any]:
        """GET /v1/sync/status as the hub."""
        code, body, _ = await self.call("GET", "/v1/sync/status", role="hub")
        assert code == 200, body
        return dict(body)


async def start_node(settings: NodeSettings, tokens: dict[str, str]) -> Node:
    """Start the app on a test server."""
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    return Node(client, tokens)


# -- test data -----------------------------------------------------------------------------------


def id_number(index: int, male: bool = True) -> str:
    """A valid resident ID unique per index; the sequence digit's parity gives the gender."""
    born = date(1960, 1, 1) + timedelta(days=index // 400)
    sequence = (index % 400) * 2 + (1 if male else 0)
    body = f"500103{born:%Y%m%d}{sequence:03d}"
    return body + resident_id_check_char(body)


def cert_no(index: int) -> str:
    """A 15-digit certificate number unique per index."""
    return f"{PROVINCE}{index:013d}"


def registration(index: int = 1, **overrides: Any) -> dict[str, Any]:
    """A valid POST /v1/registrations body; keyword arguments replace fields."""
    male = overrides.pop("male", True)
    body: dict[str, Any] = {
        "cert_no": cert_no(index),
        "name": "王小明" if male else "李红",
        "gender": "male" if male else "female",
        "id_number": id_number(index, male),
        "level": "physician",
        "category": "clinical",
        "scopes": ["内科专业"],
        "primary_institution": PRIMARY_INSTITUTION.model_dump(),
        "issuing_authority": {"name": "重庆市渝中区卫生健康委员会", "region_code": "500103"},
        "registered_on": "2020-03-15",
    }
    body.update(overrides)
    return body


SECOND = SECOND_INSTITUTION.model_dump()
# A suspension must end after today: a date a year on stays valid whenever the tests run.
NEXT_YEAR = (date.today() + timedelta(days=365)).isoformat()


# -- waiting and Kafka ---------------------------------------------------------------------------


async def eventually(
    check: Callable[[], Awaitable[bool]], within: float = 30.0, interval: float = 0.1
) -> None:
    """Poll an async condition until it holds; fail after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(interval)


async def consume(
    bootstrap: str,
    topic: str,
    until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool],
    within: float = 30.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read a topic from the beginning until the records seen satisfy until, or `within` s."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    seen: list[ConsumerRecord[bytes, bytes]] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not until(seen) and loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                seen.extend(records)
    finally:
        await consumer.stop()
    return seen
