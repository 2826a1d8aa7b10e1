"""HTTP access to a running federation with the right tokens."""

from __future__ import annotations

from typing import Any

import aiohttp

from devstack.stack import Secrets, Stack


class Federation:
    """The running stack plus HTTP helpers with the right tokens."""

    def __init__(self, stack: Stack, secrets: Secrets, session: aiohttp.ClientSession) -> None:
        self.stack = stack
        self.secrets = secrets
        self.http = session

    def node(self, code: str) -> str:
        return self.stack.url(f"province-{code}")

    @property
    def hub(self) -> str:
        return self.stack.url("hub")

    def auth(self, code: str, role: str = "registrar") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets.tokens[code][role]}"}

    async def register(self, code: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.http.post(
            f"{self.node(code)}/v1/registrations", json=body, headers=self.auth(code)
        ) as resp:
            assert resp.status == 201, await resp.text()
            return dict(await resp.json())

    async def step(self, code: str, cert_no: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.http.post(
            f"{self.node(code)}/v1/registrations/{cert_no}/events",
            json=body,
            headers=self.auth(code),
        ) as resp:
            assert resp.status == 200, await resp.text()
            return dict(await resp.json())

    async def node_record(self, code: str, cert_no: str) -> dict[str, Any]:
        async with self.http.get(
            f"{self.node(code)}/v1/registrations/{cert_no}", headers=self.auth(code, "viewer")
        ) as resp:
            assert resp.status == 200, await resp.text()
            return dict(await resp.json())

    async def hub_get(self, path: str, **params: str) -> tuple[int, Any]:
        async with self.http.get(f"{self.hub}{path}", params=params) as resp:
            return resp.status, await resp.json()
