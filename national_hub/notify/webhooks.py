"""An institution's webhooks, their delivery logs and redelivery (SQL of webhooks, deliveries)."""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from national_hub.notify.schema import write
from schemas.errors import RegsyncError

# Most live webhooks per institution: each one multiplies the deliveries of every notification.
MAX_WEBHOOKS = 10
MAX_URL_LENGTH = 2048


class NotYours(RegsyncError):
    """The webhook or delivery exists but belongs to another institution."""


class NoSuchThing(RegsyncError):
    """No webhook or delivery with this id."""


class BadWebhookUrl(RegsyncError):
    """The URL cannot be called: not http(s), no host, too long."""


class TooManyWebhooks(RegsyncError):
    """The institution has MAX_WEBHOOKS live webhooks already."""


@dataclass(frozen=True, slots=True)
class Webhook:
    """A live webhook (the secret only when it is created)."""

    id: str
    url: str
    created_at: float
    secret: str | None = None


def check_url(url: str) -> str:
    """The URL if the notifier can call it; BadWebhookUrl naming what is wrong.

    HTTP is allowed beside HTTPS for tests and hospital intranets (issue 15).
    """
    if len(url) > MAX_URL_LENGTH:
        raise BadWebhookUrl(f"at most {MAX_URL_LENGTH} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise BadWebhookUrl("must start with https:// (or http://)")
    if not parts.hostname:
        raise BadWebhookUrl("must name a host")
    if any(ch.isspace() for ch in url):
        raise BadWebhookUrl("must not contain spaces")
    return url


class Webhooks:
    """Webhooks and what was delivered to them, scoped by institution."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def create(self, org_code: str, url: str) -> Webhook:
        """A new webhook with a fresh secret; notifications from now on are delivered to it."""
        check_url(url)
        hook = Webhook(
            "wh_" + secrets.token_hex(8), url, time.time(), "whsec_" + secrets.token_urlsafe(32)
        )
        with write(self._conn) as c:
            (live,) = c.execute(
                "SELECT count(*) FROM webhooks WHERE org_code = ? AND deleted_at IS NULL",
                (org_code,),
            ).fetchone()
            if live >= MAX_WEBHOOKS:
                raise TooManyWebhooks(f"an institution has at most {MAX_WEBHOOKS} webhooks")
            c.execute(
                "INSERT INTO webhooks (id, org_code, url, secret, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (hook.id, org_code, url, hook.secret, hook.created_at),
            )
        return hook

    def live(self, org_code: str) -> list[Webhook]:
        """The institution's live webhooks, oldest first, without secrets."""
        rows = self._conn.execute(
            "SELECT id, url, created_at FROM webhooks WHERE org_code = ? AND deleted_at IS NULL "
            "ORDER BY created_at, id",
            (org_code,),
        ).fetchall()
        return [Webhook(r["id"], r["url"], r["created_at"]) for r in rows]

    def _owner(self, conn: sqlite3.Connection, org_code: str, webhook_id: str) -> sqlite3.Row:
        row = conn.execute(
            "SELECT org_code, deleted_at FROM webhooks WHERE id = ?", (webhook_id,)
        ).fetchone()
        if row is None:
            raise NoSuchThing(f"no webhook {webhook_id}")
        if row["org_code"] != org_code:
            raise NotYours(f"webhook {webhook_id} belongs to another institution")
        return row

    def delete(self, org_code: str, webhook_id: str) -> None:
        """Stop delivering to a webhook; its pending deliveries are dropped, its log stays."""
        with write(self._conn) as c:
            row = self._owner(c, org_code, webhook_id)
            if row["deleted_at"] is not None:
                raise NoSuchThing(f"no webhook {webhook_id}")
            c.execute("UPDATE webhooks SET deleted_at = ? WHERE id = ?", (time.time(), webhook_id))
            c.execute(
                "UPDATE deliveries SET state = 'cancelled' WHERE webhook_id = ? "
                "AND state IN ('pending', 'retrying')",
                (webhook_id,),
            )

    def deliveries(
        self, org_code: str, webhook_id: str, after: int, limit: int
    ) -> list[dict[str, Any]]:
        """A webhook's delivery log after a delivery id: state, attempts, next retry, each
        attempt's status."""
        self._owner(self._conn, org_code, webhook_id)
        rows = self._conn.execute(
            "SELECT d.id, d.state, d.attempts, d.next_at, d.created_at, d.last_status, "
            "d.last_error, d.delivered_at, n.id AS notification_id, n.cert_no "
            "FROM deliveries d JOIN notifications n ON n.seq = d.notification_seq "
            "WHERE d.webhook_id = ? AND d.id > ? ORDER BY d.id LIMIT ?",
            (webhook_id, after, limit),
        ).fetchall()
        ids = [r["id"] for r in rows]
        logs: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        if ids:
            # One read for the page's attempts, not one per delivery.
            for a in self._conn.execute(
                "SELECT delivery_id, at, status, error, duration_ms FROM delivery_attempts "
                "WHERE delivery_id IN (SELECT value FROM json_each(?)) ORDER BY delivery_id, at",
                (json.dumps(ids),),
            ):
                logs[a["delivery_id"]].append(
                    {k: a[k] for k in ("at", "status", "error", "duration_ms")}
                )
        return [{**dict(r), "log": logs[r["id"]]} for r in rows]

    def redeliver(self, org_code: str, delivery_id: int) -> None:
        """Put a delivery back in line now (dead, delivered or retrying alike)."""
        with write(self._conn) as c:
            row = c.execute(
                "SELECT d.webhook_id, w.org_code, w.deleted_at FROM deliveries d "
                "JOIN webhooks w ON w.id = d.webhook_id WHERE d.id = ?",
                (delivery_id,),
            ).fetchone()
            if row is None:
                raise NoSuchThing(f"no delivery {delivery_id}")
            if row["org_code"] != org_code:
                raise NotYours(f"delivery {delivery_id} belongs to another institution")
            if row["deleted_at"] is not None:
                raise NoSuchThing(f"delivery {delivery_id}'s webhook was deleted")
            # A redelivery is a fresh series: the retry window counts from now.
            c.execute(
                "UPDATE deliveries SET state = 'pending', next_at = ?, created_at = ? WHERE id = ?",
                (time.time(), time.time(), delivery_id),
            )
