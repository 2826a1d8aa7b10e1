"""The node's sync position as facts: the API's GET /v1/sync/status answer, which the console's
health page shows too (one gathering for both, so they never disagree)."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from province_node import openapi
from province_node.web.appkeys import HEALTH, RELAY, SETTINGS


def instant(text: str | None) -> datetime | None:
    """A time the outbox keeps as text (format_utc's form), as a datetime."""
    return None if text is None else datetime.fromisoformat(text)


async def node_sync_status(app: web.Application) -> openapi.NodeSyncStatus:
    """Outbox position (counting acknowledgements not yet marked) and Kafka reachability."""
    stats = await app[RELAY].stats()
    kafka = app[HEALTH]
    return openapi.NodeSyncStatus(
        province=app[SETTINGS].province,
        committed_seq=stats.committed_seq,
        published_seq=stats.published_seq,
        outbox_backlog=stats.committed_seq - stats.published_seq,
        oldest_unpublished_at=instant(stats.oldest_unpublished_at),
        kafka=openapi.KafkaState(
            connected=kafka.connected,
            last_error=kafka.last_error,
            last_success_at=kafka.last_success_at,
        ),
    )
