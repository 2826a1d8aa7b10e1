"""`national-hub snapshot`'s side of POST/GET /v1/ops/snapshot: start a snapshot on the running
hub (which alone may read its DuckDB file) and poll its progress."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from national_hub.config import HubSettings
from national_hub.snapshot.archive import SnapshotError
from schemas.federation import listen_url

PATH = "/v1/ops/snapshot"
TIMEOUT_S = 10.0


class HubNotRunning(SnapshotError):
    """Nothing listens at the hub's address: the files may be copied directly."""


def hub_url(settings: HubSettings) -> str:
    """The hub's own address from [hub] listen; a wildcard listen is reached on loopback."""
    return listen_url(f"{settings.host}:{settings.port}", tls=settings.tls_certfile is not None)


def named_hub_url(raw: str) -> str:
    """`--hub URL`: one replica's own address (behind a balancer, the snapshot must be taken
    by a chosen replica, not whichever the balancer picks); SnapshotError if it is no
    http(s) base URL."""
    try:
        parts = urlsplit(raw.strip())
        parts.port  # noqa: B018 - urlsplit checks the port only when it is read
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
    ):
        raise SnapshotError(f"--hub {raw!r}: give the hub's base URL, e.g. http://127.0.0.1:18081")
    return raw.strip().rstrip("/")


def _message(body: bytes, status: int) -> str:
    try:
        return str(json.loads(body)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {status}"


class SnapshotClient:
    """Calls one hub's snapshot routes with the ops token."""

    def __init__(self, base_url: str, token: str, cafile: Path | None = None) -> None:
        self._url = base_url.rstrip("/") + PATH
        self._token = token
        self._ssl = ssl.create_default_context(cafile=cafile) if cafile is not None else None

    def _call(self, method: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self._url,
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self._token}",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S, context=self._ssl) as answer:
                result: dict[str, Any] = json.loads(answer.read())
                return result
        except urllib.error.HTTPError as exc:
            raise SnapshotError(
                f"the hub refused the snapshot: {_message(exc.read(), exc.code)}"
            ) from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, ConnectionRefusedError):
                raise HubNotRunning(f"no hub answers at {self._url}") from None
            raise SnapshotError(f"cannot reach the hub at {self._url}: {exc.reason}") from None

    def start(self, name: str) -> dict[str, Any]:
        return self._call("POST", {"name": name})

    def state(self) -> dict[str, Any]:
        return self._call("GET")
