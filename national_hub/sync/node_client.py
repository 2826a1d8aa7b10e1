"""The hub asking province nodes directly over HTTP (role `hub`): sync status and records.

Heartbeats travel through Kafka, so when a province's Kafka path is down they stop, and the hub
would only see silence. Polling the node's own /v1/sync/status tells a growing outbox (the
node is up, Kafka is not) from a dead node. The token is the plain `hub`-role token from
`hub.node_token_file`; without it nothing is polled and explanations cannot ask nodes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from national_hub.config import HubSettings
from schemas.errors import RegsyncError
from schemas.tasks import BackgroundTask
from schemas.timestamps import utc_now

log = logging.getLogger(__name__)


class NodeUnreachable(RegsyncError):
    """The node did not give a usable answer; the message says why, in one line."""


def _parse_ts(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """A node's /v1/sync/status answer, requested at `at` (hub clock)."""

    province: str
    at: datetime
    committed_seq: int
    published_seq: int
    outbox_backlog: int
    oldest_unpublished_at: datetime | None
    kafka_connected: bool | None
    kafka_error: str | None

    @classmethod
    def from_json(cls, province: str, at: datetime, body: Mapping[str, Any]) -> NodeStatus:
        """Parse the body; NodeUnreachable if it is not the contract's shape."""
        try:
            kafka = body.get("kafka") or {}
            committed = int(body["committed_seq"])
            published = int(body["published_seq"])
            return cls(
                province=province,
                at=at,
                committed_seq=committed,
                published_seq=published,
                outbox_backlog=int(body.get("outbox_backlog", committed - published)),
                oldest_unpublished_at=_parse_ts(body.get("oldest_unpublished_at")),
                kafka_connected=kafka.get("connected"),
                kafka_error=kafka.get("last_error"),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise NodeUnreachable(f"unexpected sync status answer: {exc}") from None


@dataclass(frozen=True, slots=True)
class NodeRecord:
    """A node's /v1/sync/records/{cert_no} answer."""

    province: str
    exists: bool
    latest_seq: int | None
    record_version: int | None
    committed_at: datetime | None
    published: bool
    published_at: datetime | None

    @classmethod
    def from_json(cls, province: str, body: Mapping[str, Any]) -> NodeRecord:
        """Parse the body; NodeUnreachable if it is not the contract's shape."""
        try:
            return cls(
                province=province,
                exists=bool(body["exists"]),
                latest_seq=None if body.get("latest_seq") is None else int(body["latest_seq"]),
                record_version=(
                    None if body.get("record_version") is None else int(body["record_version"])
                ),
                committed_at=_parse_ts(body.get("committed_at")),
                published=bool(body.get("published")),
                published_at=_parse_ts(body.get("published_at")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise NodeUnreachable(f"unexpected sync record answer: {exc}") from None


@dataclass(frozen=True, slots=True)
class PollState:
    """What the poller knows of one node: its last answer and its last attempt."""

    status: NodeStatus | None
    last_ok_at: datetime | None
    last_attempt_at: datetime
    error: str | None  # None when the last attempt succeeded


class NodeClient:
    """HTTP access to the province nodes with the hub token; start() and stop() bracket it."""

    def __init__(self, settings: HubSettings) -> None:
        self._settings = settings
        # A node slower than this is treated as not answering: explanations must stay fast.
        self._timeout = settings.tuning.sync.node_timeout_s
        self._session: aiohttp.ClientSession | None = None

    @property
    def enabled(self) -> bool:
        """Whether the hub has a token to present (hub.node_token_file)."""
        return self._settings.node_token is not None

    async def start(self) -> None:
        """Open the HTTP session."""
        if self._session is None and self.enabled:
            self._session = aiohttp.ClientSession(
                headers={"Authorization": f"Bearer {self._settings.node_token}"},
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                # Each node gets its own connection; a hanging one must not block the others.
                connector=aiohttp.TCPConnector(
                    limit_per_host=4,
                    # https node_urls are verified against hub.node_ca_file (or the system CAs).
                    ssl=self._settings.node_ssl_context or True,
                ),
            )

    async def stop(self) -> None:
        """Close the HTTP session; safe to call twice."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def _get(self, province: str, path: str) -> Any:
        """GET node_url + path; path's variable segments are already quoted (_segment)."""
        session = self._session
        if session is None:
            raise NodeUnreachable("the hub does not poll nodes (no hub.node_token_file)")
        p = self._settings.provinces.get(province)
        if p is None:
            raise NodeUnreachable(f"province {province} is not in the federation")
        url = f"{p.node_url}{path}"
        # The node URL as yarl encodes it, then the path exactly as built: encoded=True never
        # unquotes and re-reads it, so a %2F or %3F in a segment stays part of that segment.
        target = URL(str(URL(p.node_url)) + path, encoded=True)
        try:
            async with session.get(target) as resp:
                if resp.status != 200:
                    raise NodeUnreachable(f"{url} answered HTTP {resp.status}")
                return await resp.json(content_type=None)
        except TimeoutError:
            raise NodeUnreachable(f"{url} did not answer within {self._timeout:g} s") from None
        except aiohttp.ClientConnectorError as exc:
            raise NodeUnreachable(f"cannot connect to {p.node_url}: {exc.os_error}") from None
        except (aiohttp.ClientError, ValueError) as exc:
            raise NodeUnreachable(f"{url}: {type(exc).__name__}: {exc}") from None

    async def status(self, province: str) -> NodeStatus:
        """The node's sync status now."""
        at = utc_now()
        body = await self._get(province, "/v1/sync/status")
        return NodeStatus.from_json(province, at, body)

    async def record(self, province: str, cert_no: str) -> NodeRecord:
        """Whether the node holds cert_no and how far its latest event got."""
        body = await self._get(province, f"/v1/sync/records/{_segment(cert_no)}")
        return NodeRecord.from_json(province, body)

    async def records_everywhere(
        self, cert_no: str, provinces: Iterable[str]
    ) -> dict[str, NodeRecord | NodeUnreachable]:
        """Ask every given node concurrently; each answer or why it did not come."""
        codes = list(provinces)

        async def one(code: str) -> NodeRecord | NodeUnreachable:
            try:
                return await self.record(code, cert_no)
            except NodeUnreachable as exc:
                return exc

        answers = await asyncio.gather(*(one(c) for c in codes))
        return dict(zip(codes, answers, strict=True))


def _segment(value: str) -> str:
    """One path segment, every character but unreserved ones percent-encoded.

    The hub only asks about validated 15-digit numbers; this keeps any other string from
    becoming another question (a `?`, `#`, `/`, `%` or newline in it changes nothing but
    the segment's bytes).
    """
    return quote(value, safe="")


StatusListener = Callable[[NodeStatus], None]


class NodePoller(BackgroundTask):
    """Polls every node's sync status each node_poll_s; start() and stop() bracket it."""

    task_name = "hub-node-poller"

    def __init__(self, settings: HubSettings, client: NodeClient) -> None:
        super().__init__()
        self._settings = settings
        self._client = client
        self._interval = settings.tuning.sync.node_poll_s
        self._max_interval = settings.tuning.sync.node_poll_max_s
        self._state: dict[str, PollState] = {}
        self._listeners: list[StatusListener] = []
        # An unreachable node is asked less often (up to node_poll_max_s): failed
        # connections to 30 absent nodes a second cost the hub a quarter of a core.
        self._next_at: dict[str, float] = {}
        self._delay: dict[str, float] = {}

    @property
    def enabled(self) -> bool:
        """Whether nodes are polled at all."""
        return self._client.enabled

    def add_listener(self, listener: StatusListener) -> None:
        """Call listener(status) for every successful poll."""
        self._listeners.append(listener)

    def state(self, province: str) -> PollState | None:
        """The node's last poll state; None if not polled (yet, or at all)."""
        return self._state.get(province)

    async def start(self) -> None:
        """Start polling, if the hub has a node token."""
        if self.enabled:
            await super().start()

    async def poll_once(self) -> None:
        """Ask every node once, concurrently."""
        await asyncio.gather(*(self._poll(code) for code in self._settings.provinces))

    async def _poll_due(self) -> None:
        """Ask the nodes that are due, concurrently; back off from unreachable ones."""
        now = time.monotonic()
        due = [c for c in self._settings.provinces if self._next_at.get(c, 0.0) <= now]
        await asyncio.gather(*(self._poll(code) for code in due))
        for code in due:
            state = self._state.get(code)
            if state is not None and state.error is not None:
                delay = min(self._delay.get(code, self._interval) * 2, self._max_interval)
            else:
                delay = self._interval
            self._delay[code] = delay
            # A little early, so a node due "now + interval" is not skipped by jitter.
            self._next_at[code] = now + delay - self._interval / 2

    async def _poll(self, code: str) -> None:
        at = utc_now()
        prev = self._state.get(code)
        try:
            status = await self._client.status(code)
        except NodeUnreachable as exc:
            if prev is None or prev.error is None:
                log.warning("node %s: %s", code, exc)
            self._state[code] = PollState(
                prev.status if prev else None, prev.last_ok_at if prev else None, at, str(exc)
            )
            return
        if prev is not None and prev.error is not None:
            log.info("node %s answers again", code)
        self._state[code] = PollState(status, at, at, None)
        for listener in self._listeners:
            try:
                listener(status)
            except Exception:
                log.exception("node poll listener failed")

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await self._poll_due()
            await asyncio.sleep(max(0.05, self._interval - (loop.time() - started)))
