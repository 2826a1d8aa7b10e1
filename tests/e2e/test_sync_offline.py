"""A province node killed under a running federation: the hub reports it offline and says so.

The module runs its own federation (nodes 50 and 44 on the session broker) because it kills a
node.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from devstack.stack import Secrets, Stack
from province_node.synthetic import registrations
from tests.e2e.federation import Federation, connect, run_with, stack_running, wait_until

Running = tuple[Stack, Secrets]
OFFLINE_WITHIN = 10.0


@pytest.fixture(scope="module")
def own_stack(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with stack_running(
        tmp_path_factory.mktemp("offline"), ["50", "44"], bootstrap=bootstrap
    ) as running:
        yield running


@pytest.fixture(scope="module")
def killed(own_stack: Running) -> Iterator[dict[str, Any]]:
    """Node 44 SIGKILLed right after a registration the hub has not applied (ingest paused).

    Yields the registration body and the time.monotonic() of the kill.
    """
    stack, _ = own_stack
    body = next(registrations("44", 1, seed=811))

    async def prepare(fed: Federation) -> None:
        async def online() -> bool:
            return (await fed.province_status("44"))["status"] == "ok"

        await wait_until(online, 30, "province 44 ok before the kill")
        await fed.set_ingest_paused(True)
        await fed.register("44", body)

    run_with(own_stack, prepare)
    stack.kill("province-44")
    yield {"body": body, "killed_at": time.monotonic()}

    async def resume(fed: Federation) -> None:
        await fed.set_ingest_paused(False)

    run_with(own_stack, resume)


@pytest.fixture
async def own_fed(own_stack: Running) -> AsyncIterator[Federation]:
    async with connect(own_stack) as fed:
        yield fed


async def test_killed_node_turns_offline_within_10_s(
    killed: dict[str, Any], own_fed: Federation
) -> None:
    async def offline() -> dict[str, Any] | None:
        got = await own_fed.province_status("44")
        return got if got["status"] == "offline" else None

    remaining = OFFLINE_WITHIN - (time.monotonic() - killed["killed_at"])
    got = await wait_until(offline, remaining, "province 44 offline")
    assert "does not answer" in got["reason"]


async def test_explain_for_its_cert_no_is_province_unreachable(
    killed: dict[str, Any], own_fed: Federation
) -> None:
    async def unreachable() -> dict[str, Any] | None:
        got = await own_fed.explain(cert_no=killed["body"]["cert_no"])
        return got if got["state"] == "province_unreachable" else None

    got = await wait_until(unreachable, 15, "explain province_unreachable")
    assert (got["province"], got["visible"]) == ("44", False)


async def test_other_province_stays_ok(killed: dict[str, Any], own_fed: Federation) -> None:
    got = await own_fed.province_status("50")
    assert got["status"] == "ok", got
