"""What the node asks the national hub over HTTP (CONTRACT §5): is a change of this province
applied there, what the hub makes of this province's sync. For the console's pages only: the
node's own work (publishing to Kafka) never waits for the hub.

One aiohttp ClientSession for the node's life; every request has a short total timeout so a
page that asks never hangs on a hub that does not answer.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

import aiohttp

# A page waits at most this long for the hub (the brief of issue 17: ≤ 2 s).
TIMEOUT_S = 1.5


class HubUnreachable(Exception):
    """The hub did not answer in time, or not as the contract says; str() says which."""


@dataclass(frozen=True, slots=True)
class HubExplanation:
    """The parts of GET /v1/sync/explain the console shows (CONTRACT §5, "Explanation")."""

    state: str
    reason: str
    eta_seconds: float | None
    evidence: dict[str, Any]
    rejection_reason: str | None


@dataclass(frozen=True, slots=True)
class HubProvinceSync:
    """One province's entry of the hub's GET /v1/sync/status."""

    status: str
    reason: str
    lag_seconds: float | None
    applied_seq: int | None
    dead_letters: int | None


class HubClient:
    """Asks the hub at base_url; None: no hub configured, every question is unanswerable."""

    def __init__(self, base_url: str | None, ssl_context: ssl.SSLContext | None = None) -> None:
        self.base_url = base_url
        self._ssl = ssl_context
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Open the session (its connections are reused between page refreshes)."""
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=TIMEOUT_S),
            headers={"Accept": "application/json"},
        )

    async def stop(self) -> None:
        """Close the session; safe twice."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        if self.base_url is None:
            raise HubUnreachable("no hub address configured (hub_url)")
        if self._session is None:
            raise HubUnreachable("the hub client is not started")
        url = self.base_url + path
        try:
            async with self._session.get(url, params=params, ssl=self._ssl or True) as answer:
                if answer.status != 200:
                    raise HubUnreachable(f"{url} answered HTTP {answer.status}")
                body = await answer.json()
        except TimeoutError:
            raise HubUnreachable(f"{url} did not answer within {TIMEOUT_S:g} s") from None
        except (aiohttp.ClientError, ValueError) as exc:
            raise HubUnreachable(f"{url}: {type(exc).__name__}: {exc}") from None
        # Every answer read here is a JSON object; anything else is not the hub speaking.
        if not isinstance(body, dict):
            raise HubUnreachable(f"{url} answered {type(body).__name__}, not a JSON object")
        return body

    async def explain_token(self, province: str, seq: int) -> HubExplanation:
        """Whether the province's change seq is applied at the hub (?token=province:seq)."""
        body = await self._get("/v1/sync/explain", {"token": f"{province}:{seq}"})
        try:
            rejection = body.get("rejection") or {}
            return HubExplanation(
                state=str(body["state"]),
                reason=str(body["reason"]),
                eta_seconds=body.get("eta_seconds"),
                evidence=dict(body.get("evidence") or {}),
                rejection_reason=rejection.get("reason"),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise HubUnreachable(f"the hub's explanation lacks {exc}") from None

    async def applied_at(self, cert_no: str, seq: int) -> str | None:
        """When the hub applied the certificate's change seq (its history), or None."""
        try:
            body = await self._get(f"/v1/physicians/{cert_no}/history", {})
        except HubUnreachable:
            # The time is a detail of an applied change: without it the page still says applied.
            return None
        for item in _objects(body.get("items")):
            if item.get("seq") == seq:
                applied = item.get("applied_at")
                return applied if isinstance(applied, str) else None
        return None

    async def province_sync(self, province: str) -> HubProvinceSync:
        """The hub's view of one province (GET /v1/sync/status)."""
        body = await self._get("/v1/sync/status", {})
        for item in _objects(body.get("provinces")):
            if item.get("province") == province:
                return HubProvinceSync(
                    status=str(item.get("status")),
                    reason=str(item.get("reason") or ""),
                    lag_seconds=item.get("lag_seconds"),
                    applied_seq=item.get("applied_seq"),
                    dead_letters=item.get("dead_letters"),
                )
        raise HubUnreachable(f"the hub's sync status does not list province {province}")


def _objects(items: Any) -> list[dict[str, Any]]:
    """The JSON objects of a list member of an answer (anything else is skipped)."""
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []
