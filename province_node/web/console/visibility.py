"""National visibility of a registration's latest change: the facts, gathered for
visibility_rules.decide. The record page includes the section (templates/_visibility.html);
visibility_routes serves it alone for the script that refreshes it.

Facts: this node's outbox row for the change (and the relay's in-memory position, which is
ahead of the outbox's marks for a moment after Kafka acknowledges), Kafka's state as the relay
and the heartbeat last saw it, and the hub's explanation of exactly this change
(`?token=<province>:<seq>`: "is this version applied", not "is some version visible"). The hub
is asked with a short timeout: a page never waits long on a hub that does not answer.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from province_node import outbox_reads
from province_node.hub_client import HubExplanation, HubUnreachable
from province_node.web.appkeys import HEALTH, HUB, REGISTRY, RELAY, SETTINGS
from province_node.web.console.visibility_rules import (
    Facts,
    KafkaFacts,
    OutboxFacts,
    Visibility,
    decide,
    unknown_change,
)
from schemas.timestamps import utc_now

__all__ = ["Visibility", "national_visibility"]


# The page waits at most this long for the hub (both of its requests together).
HUB_DEADLINE_S = 2.0


async def _outbox_facts(app: web.Application, seq: int) -> OutboxFacts | None:
    """The outbox's facts of the change seq, or None when the outbox has no such row."""
    row = await app[REGISTRY].read(outbox_reads.event, seq)
    if row is None:
        return None
    relay = app[RELAY]
    stats = await relay.stats()
    return OutboxFacts(
        seq=row.seq,
        record_version=row.record_version,
        committed_at=row.committed_at,
        published=row.published_at is not None or seq <= relay.published_seq,
        published_at=row.published_at,
        backlog=stats.committed_seq - stats.published_seq,
        oldest_unpublished_at=stats.oldest_unpublished_at,
    )


async def _hub_facts(
    app: web.Application, cert_no: str, seq: int
) -> tuple[HubExplanation | str, str | None]:
    """The hub's explanation of the change and, when applied, since when; both asked within one
    deadline (each request alone may take the client's whole timeout)."""
    hub = app[HUB]
    explanation: HubExplanation | None = None
    try:
        async with asyncio.timeout(HUB_DEADLINE_S):
            explanation = await hub.explain_token(app[SETTINGS].province, seq)
            if explanation.state != "applied":
                return explanation, None
            return explanation, await hub.applied_at(cert_no, seq)
    except HubUnreachable as exc:
        return str(exc), None
    except TimeoutError:
        if explanation is not None:
            # Applied, and when is a detail: the page says applied without the time.
            return explanation, None
        return f"the hub did not answer within {HUB_DEADLINE_S:g} s", None


async def national_visibility(app: web.Application, cert_no: str, latest_seq: int) -> Visibility:
    """Where the change latest_seq of cert_no stands on its way to the hub.

    latest_seq is the record's newest change (the outbox's seq of its last event). When the
    outbox has no such row (a restore, a trim), the section says it cannot tell
    (visibility_rules.unknown_change), so the page around it still renders.
    """
    (outbox_facts, (hub, applied_at)) = await asyncio.gather(
        _outbox_facts(app, latest_seq), _hub_facts(app, cert_no, latest_seq)
    )
    if outbox_facts is None:
        return unknown_change(cert_no, latest_seq)
    kafka = app[HEALTH]
    return decide(
        Facts(
            cert_no=cert_no,
            outbox=outbox_facts,
            kafka=KafkaFacts(kafka.connected, kafka.last_error, kafka.last_success_at),
            hub=hub,
            applied_at=applied_at,
            now=utc_now(),
        )
    )
