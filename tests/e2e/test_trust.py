"""Trust between provinces and against Kafka writers without keys (issue 12, findings 1, 2, 4).

Real nodes 50, 11 and 44 and the hub, as processes on the session broker. The module runs its
own federation: its last test kills node 44.

- Node 50's registrar registers transfer-ins from registrations of 11 that 11 never released
  (an active one, a revoked one, and one keeping 11's certificate code). The hub must not tell
  the public that 11's registrations moved, and must raise `unconfirmed_transfer`; once 11
  transfers one out to 50, that one has moved.
- Unsigned bytes on 50's topic, keyed with a made-up certificate number: never 50's.
- Node 44 is killed and its last genuine heartbeat re-sent every half second: 44 is offline.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from devstack.stack import Secrets, Stack
from province_node.synthetic import registrations
from tests.e2e.federation import Federation, connect, run_with, stack_running, wait_until

Running = tuple[Stack, Secrets]
ATTACKER_TEXT = "核验通过:该证书有效,如有疑问请致电 400-800-1234"
MADE_UP = "500000000777777"


@pytest.fixture(scope="module")
def trust_stack(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with stack_running(
        tmp_path_factory.mktemp("trust"), ["50", "11", "44"], bootstrap=bootstrap
    ) as running:
        yield running


@pytest.fixture
async def fed(trust_stack: Running) -> AsyncIterator[Federation]:
    async with connect(trust_stack) as federation:
        yield federation


def body(province: str, seed: int, **extra: Any) -> dict[str, Any]:
    """A registration body of the province no other test here uses."""
    return {**next(registrations(province, 1, seed=seed)), **extra}


async def at_hub(fed: Federation, cert_no: str, version: int = 1) -> dict[str, Any]:
    """The hub's record once it shows at least this record_version."""

    async def probe() -> dict[str, Any] | None:
        status, got = await fed.hub_get(f"/v1/physicians/{cert_no}")
        return got if status == 200 and got["record_version"] >= version else None

    return dict(await wait_until(probe, 30, f"{cert_no} v{version} at the hub"))


async def anomalies(fed: Federation) -> list[dict[str, Any]]:
    async with fed.http.get(f"{fed.hub}/v1/anomalies", headers=fed.ops) as resp:
        assert resp.status == 200, await resp.text()
        return list((await resp.json())["items"])


async def verify(fed: Federation, cert_no: str, name: str) -> dict[str, Any]:
    async with fed.http.post(
        f"{fed.hub}/v1/verify", json={"cert_no": cert_no, "name": name}
    ) as resp:
        assert resp.status == 200, await resp.text()
        return dict(await resp.json())


# ---- finding 1: a province cannot move another province's registration -------------------------


@pytest.fixture(scope="module")
def claims(trust_stack: Running) -> dict[str, Any]:
    """50 claims transfers-in from three of 11's registrations that 11 never released."""

    async def run(fed: Federation) -> dict[str, Any]:
        active = await fed.register("11", body("11", 701))
        revoked = await fed.register("11", body("11", 702))
        kept = await fed.register("11", body("11", 703))
        a, r, k = (x["record"]["cert_no"] for x in (active, revoked, kept))
        await fed.step(
            "11",
            r,
            {"type": "revoked", "reason": "执业活动中严重违法", "decision_no": "京卫罚〔2026〕1号"},
        )
        await at_hub(fed, r, 2)
        new_a = await fed.register(
            "50", body("50", 701, transfer_from={"province": "11", "cert_no": a})
        )
        new_r = await fed.register(
            "50", body("50", 702, transfer_from={"province": "11", "cert_no": r})
        )
        # Keeping 11's certificate code: the node of 50 does not know it is 11's.
        same = await fed.register(
            "50", body("50", 703, cert_no=k, transfer_from={"province": "11", "cert_no": k})
        )
        for x in (new_a, new_r):
            await at_hub(fed, x["record"]["cert_no"])
        # The same-code claim is applied once its seq is (its record may stay 11's).
        token = same["sync_token"]
        await wait_until(lambda: _applied(fed, token), 30, f"{token} applied at the hub")
        return {
            "active": a,
            "revoked": r,
            "kept": k,
            "names": {
                a: active["record"]["name"],
                r: revoked["record"]["name"],
                k: kept["record"]["name"],
            },
            "new_active": new_a["record"]["cert_no"],
            "new_revoked": new_r["record"]["cert_no"],
        }

    return run_with(trust_stack, run)


async def _applied(fed: Federation, token: str) -> bool:
    got = await fed.explain(token=token)
    return got["state"] in ("applied", "rejected")


async def test_an_unreleased_active_registration_is_not_explained_as_moved(
    claims: dict[str, Any], fed: Federation
) -> None:
    got = await fed.explain(cert_no=claims["active"])
    assert (got["state"], got["province"]) == ("applied", "11"), got


async def test_an_unreleased_active_registration_is_not_superseded(
    claims: dict[str, Any], fed: Federation
) -> None:
    record = await at_hub(fed, claims["active"])
    assert record["superseded_by"] is None


async def test_the_verdict_on_an_unreleased_registration_says_nothing_of_a_move(
    claims: dict[str, Any], fed: Federation
) -> None:
    c = claims["active"]
    got = await verify(fed, c, claims["names"][c])
    assert (got["verdict"], [n for n in got["notes"] if "moved" in n]) == ("consistent", [])


async def test_a_revoked_registration_is_not_laundered_into_a_move(
    claims: dict[str, Any], fed: Federation
) -> None:
    got = await fed.explain(cert_no=claims["revoked"])
    assert (got["state"], "transferred_to" in got) == ("applied", False), got


async def test_a_claim_keeping_the_code_does_not_take_the_registration_over(
    claims: dict[str, Any], fed: Federation
) -> None:
    record = await at_hub(fed, claims["kept"])
    assert (record["province"], record["status"]) == ("11", "active")


async def test_each_unreleased_claim_is_an_unconfirmed_transfer_anomaly(
    claims: dict[str, Any], fed: Federation
) -> None:
    items = [i for i in await anomalies(fed) if i["kind"] == "unconfirmed_transfer"]
    got = {(i["old"]["cert_no"], i["old_status"]) for i in items}
    assert got == {
        (claims["active"], "active"),
        (claims["revoked"], "revoked"),
        (claims["kept"], "active"),
    }


async def test_once_11_releases_it_the_registration_has_moved(
    claims: dict[str, Any], fed: Federation
) -> None:
    a = claims["active"]
    await fed.step("11", a, {"type": "transferred_out", "to_province": "50"})
    await at_hub(fed, a, 2)
    got = await fed.explain(cert_no=a)
    assert (got["state"], got["transferred_to"]) == (
        "transferred",
        {"province": "50", "cert_no": claims["new_active"]},
    )


async def test_once_11_releases_the_kept_code_50_holds_it(
    claims: dict[str, Any], fed: Federation
) -> None:
    k = claims["kept"]
    await fed.step("11", k, {"type": "transferred_out", "to_province": "50"})

    async def moved() -> dict[str, Any] | None:
        status, got = await fed.hub_get(f"/v1/physicians/{k}")
        return got if status == 200 and got["province"] == "50" else None

    got = await wait_until(moved, 30, f"{k} held by 50")
    assert got["status"] == "active"


# ---- finding 2: bytes nobody signed are nobody's ------------------------------------------------


async def test_unsigned_bytes_on_50s_topic_leave_the_number_unknown(
    trust_stack: Running, fed: Federation
) -> None:
    stack, _ = trust_stack
    doc = {"province": ATTACKER_TEXT, "cert_no": MADE_UP, "seq": 1, "type": "registered"}
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            f"{stack.topic_prefix}.events.50",
            json.dumps(doc, ensure_ascii=False).encode(),
            key=MADE_UP.encode(),
        )
    finally:
        await producer.stop()

    async def seen() -> bool:
        async with fed.http.get(f"{fed.hub}/v1/sync/dead-letters", headers=fed.ops) as resp:
            items = (await resp.json())["items"]
        return any(i["key"] == MADE_UP for i in items)

    await wait_until(seen, 30, "the unsigned message consumed")
    got = await fed.explain(cert_no=MADE_UP)
    assert (got["state"], ATTACKER_TEXT in json.dumps(got, ensure_ascii=False)) == (
        "unknown_to_province",
        False,
    )


# ---- finding 4: a replayed heartbeat does not hide an outage (kills node 44: keep last) --------


async def _last_heartbeat(stack: Stack, province: str) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The value and headers of the province's newest heartbeat on the topic."""
    topic = f"{stack.topic_prefix}.heartbeats"
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not tps:
            await consumer._client.force_metadata_update()
            tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        last: tuple[int, bytes, list[tuple[str, bytes]]] | None = None
        while any([await consumer.position(tp) < ends[tp] for tp in tps]):
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for r in records:
                    if r.key == province.encode() and (last is None or r.timestamp >= last[0]):
                        last = (r.timestamp, r.value, list(r.headers))
        assert last is not None, f"no heartbeat of {province} on {topic}"
        return last[1], last[2]
    finally:
        await consumer.stop()


async def test_a_killed_nodes_replayed_heartbeat_does_not_bring_it_back(
    trust_stack: Running, fed: Federation
) -> None:
    stack, _ = trust_stack

    async def ok() -> bool:
        return (await fed.province_status("44"))["status"] == "ok"

    await wait_until(ok, 30, "province 44 ok before the kill")
    stack.kill("province-44")
    value, headers = await _last_heartbeat(stack, "44")
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap)
    await producer.start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 12.0
        while time.monotonic() < deadline:
            await producer.send_and_wait(
                f"{stack.topic_prefix}.heartbeats", value, key=b"44", headers=headers
            )
            await asyncio.sleep(0.5)
            seen.append((await fed.province_status("44"))["status"])
    finally:
        await producer.stop()
    assert seen[-1] == "offline", seen
