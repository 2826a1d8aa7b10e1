"""Kafka stopped under a running federation with an employer watching: afterwards every
notification arrives, once by id, in per-certificate order.

Its own broker (never the session one), so it can stop and start it. The outage lasts
REGSYNC_NOTIFY_OUTAGE_S seconds (default 15; the issue's minute: 60).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest

from devstack.stack import Secrets, Stack
from province_node.synthetic import registrations
from schemas.samples import suspension_until
from tests.e2e.federation import connect, stack_running
from tests.e2e.test_employer_monitoring import institution_key, watch
from tests.e2e.test_nodes_to_hub import hub_version, until
from tests.national_hub.webhook_receiver import Receiver, serving

Running = tuple[Stack, Secrets]
OUTAGE_S = float(os.environ.get("REGSYNC_NOTIFY_OUTAGE_S", "15"))


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """Node 50, the hub and the notifier on a broker of this module's own."""
    with stack_running(tmp_path_factory.mktemp("notify-outage"), ["50"], bootstrap=None) as r:
        yield r


async def test_changes_during_a_kafka_outage_all_arrive_once_in_order(
    own_stack: Running,
) -> None:
    stack, _ = own_stack
    people = list(registrations("50", 4, seed=909))
    certs = [p["cert_no"] for p in people]
    suspend = {"type": "suspended", "reason": "行政处罚", "until": suspension_until()}
    async with connect(own_stack) as fed, serving(Receiver()) as receiver:
        key = institution_key(str(stack.config))
        for body in people:
            await fed.register("50", body)
        for c in certs:
            await hub_version(fed, c, 1)
        await watch(fed, key, "/v1/watch/webhooks", {"url": receiver.url})
        await watch(fed, key, "/v1/watch/certificates", {"cert_nos": certs})
        await fed.step("50", certs[0], suspend)

        async def first() -> bool:
            return len(receiver.acked) >= 1

        await until(first)
        stack.kafka.stop()
        try:
            # The node commits these; its outbox holds them until Kafka is back.
            for c in certs:
                if c != certs[0]:
                    await fed.step("50", c, suspend)
                await fed.step("50", c, {"type": "reinstated"})
            await asyncio.sleep(OUTAGE_S)
        finally:
            stack.kafka.start()

        async def everything() -> bool:
            return len({call.id for call in receiver.acked}) >= 2 * len(certs)

        await until(everything, within=120)
    ids = [call.id for call in receiver.acked]
    by_id = {call.id: call.notification for call in receiver.acked}
    assert len(ids) == len(set(ids)) == 2 * len(certs)
    for c in certs:
        kinds = [by_id[i]["kind"] for i in ids if by_id[i]["cert_no"] == c]
        assert kinds == ["suspended", "reinstated"]
