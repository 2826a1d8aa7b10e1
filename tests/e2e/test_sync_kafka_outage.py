"""Kafka stopped under a running federation: the hub says why a registration is not visible.

This module runs its own broker (never the session one) so it can stop and start it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from devstack.stack import Secrets, Stack
from province_node.synthetic import registrations
from tests.e2e.federation import Federation, connect, run_with, stack_running, wait_until

Running = tuple[Stack, Secrets]


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """Node 50 and the hub on a broker of this module's own."""
    with stack_running(tmp_path_factory.mktemp("outage"), ["50"], bootstrap=None) as running:
        yield running


@pytest.fixture(scope="module")
def outage(own_stack: Running) -> Iterator[dict[str, Any]]:
    """Kafka stopped, then one registration made at node 50; the body registered."""
    stack, _ = own_stack
    body = next(registrations("50", 1, seed=701))

    async def baseline(fed: Federation) -> None:
        # Start from a healthy federation, so what follows is the outage's doing.
        async def ok() -> bool:
            return (await fed.province_status("50"))["status"] == "ok"

        await wait_until(ok, 30, "province 50 ok before the outage")

    run_with(own_stack, baseline)
    stack.kafka.stop()

    async def register(fed: Federation) -> None:
        await fed.register("50", body)

    run_with(own_stack, register)
    yield body


@pytest.fixture(scope="module")
def recovered(own_stack: Running, outage: dict[str, Any]) -> dict[str, Any]:
    """The broker started again after the outage."""
    own_stack[0].kafka.start()
    return outage


@pytest.fixture
async def own_fed(own_stack: Running) -> AsyncIterator[Federation]:
    async with connect(own_stack) as fed:
        yield fed


async def _explain(fed: Federation, cert_no: str, state: str, within: float) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        got = await fed.explain(cert_no=cert_no)
        return got if got["state"] == state else None

    return await wait_until(probe, within, f"explain state {state}")


async def _status(fed: Federation, status: str, within: float) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        got = await fed.province_status("50")
        return got if got["status"] == status else None

    return await wait_until(probe, within, f"status {status}")


async def test_registration_during_outage_is_not_published(
    outage: dict[str, Any], own_fed: Federation
) -> None:
    got = await _explain(own_fed, outage["cert_no"], "not_published", 15)
    assert (got["visible"], got["province"]) == (False, "50")
    assert got["evidence"]["outbox_backlog"] >= 1


async def test_province_is_publishing_blocked_during_outage(
    outage: dict[str, Any], own_fed: Federation
) -> None:
    got = await _status(own_fed, "publishing_blocked", 20)
    assert got["outbox_backlog"] >= 1, got


async def test_after_kafka_returns_the_registration_is_applied(
    recovered: dict[str, Any], own_fed: Federation
) -> None:
    got = await _explain(own_fed, recovered["cert_no"], "applied", 90)
    assert got["visible"] is True


async def test_after_kafka_returns_the_province_is_ok(
    recovered: dict[str, Any], own_fed: Federation
) -> None:
    # The status is ok as soon as the node publishes again; its outbox drains a moment later
    # (a heartbeat or poll may still count the last event): wait for both, not for one.
    async def drained() -> dict[str, Any] | None:
        got = await own_fed.province_status("50")
        return got if got["status"] == "ok" and got["outbox_backlog"] == 0 else None

    got = await wait_until(drained, 90, "status ok with an empty outbox")
    assert got["province_published_seq"] == got["province_committed_seq"]
