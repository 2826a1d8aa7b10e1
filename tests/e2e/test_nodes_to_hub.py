"""Province nodes to the hub through real Kafka: every change becomes nationally visible."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from province_node.synthetic import registrations
from schemas.samples import suspension_until
from tests.e2e.federation import Federation

T = TypeVar("T")
_seeds = itertools.count(100)


def fresh(province: str, count: int = 1) -> list[dict[str, Any]]:
    """Registration bodies no other test in this module uses."""
    return list(registrations(province, count, seed=next(_seeds)))


async def until(probe: Callable[[], Awaitable[T | None]], within: float = 30.0) -> T:
    """Poll until probe returns something truthy; fail after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        got = await probe()
        if got:
            return got
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.1)


async def hub_version(fed: Federation, cert_no: str, version: int) -> dict[str, Any]:
    """The hub's record once it holds at least `version`."""

    async def probe() -> dict[str, Any] | None:
        status, body = await fed.hub_get(f"/v1/physicians/{cert_no}")
        if status == 200 and body["record_version"] >= version:
            return dict(body)
        return None

    return await until(probe)


def public(record: dict[str, Any]) -> dict[str, Any]:
    """The fields of a node record that the hub publishes."""
    return {k: v for k, v in record.items() if k not in ("id_number", "person_ref")}


async def test_registration_is_found_by_lookup(federation: Federation) -> None:
    body = fresh("50")[0]
    await federation.register("50", body)
    got = await hub_version(federation, body["cert_no"], 1)
    assert (got["province"], got["name"], got["status"]) == ("50", body["name"], "active")


async def test_registration_is_found_by_search(federation: Federation) -> None:
    body = fresh("50")[0]
    await federation.register("50", body)
    await hub_version(federation, body["cert_no"], 1)
    status, page = await federation.hub_get("/v1/physicians", name=body["name"], province="50")
    assert status == 200
    assert body["cert_no"] in [item["cert_no"] for item in page["items"]]


async def test_hub_record_equals_node_record(federation: Federation) -> None:
    body = fresh("44")[0]
    await federation.register("44", body)
    got = await hub_version(federation, body["cert_no"], 1)
    node = await federation.node_record("44", body["cert_no"])
    node_record = public(node.get("record", node))
    assert {k: got[k] for k in node_record} == node_record


STEPS: list[dict[str, Any]] = [
    {"type": "change_requested", "changes": {"scopes": ["内科专业"], "category": "clinical"}},
    {"type": "changed"},
    {"type": "site_filed", "institution": None, "start_date": "2026-01-01"},
    {"type": "assessed", "result": "pass", "assessed_on": "2026-06-01"},
    {"type": "suspended", "reason": "行政处罚", "until": suspension_until()},
    {"type": "reinstated"},
    {"type": "cancelled", "reason": "voluntary"},
]


async def test_each_lifecycle_step_is_reflected_in_order(federation: Federation) -> None:
    first, other = fresh("50", 2)
    await federation.register("50", first)
    statuses = []
    for version, step in enumerate(STEPS, start=2):
        if step["type"] == "site_filed":
            step = {**step, "institution": other["primary_institution"]}
            if step["institution"]["org_code"] == first["primary_institution"]["org_code"]:
                continue
        await federation.step("50", first["cert_no"], step)
        node = await federation.node_record("50", first["cert_no"])
        node_record = node.get("record", node)
        got = await hub_version(federation, first["cert_no"], version)
        statuses.append((got["status"], node_record["status"]))
    assert all(hub == node for hub, node in statuses)
    status, history = await federation.hub_get(f"/v1/physicians/{first['cert_no']}/history")
    assert status == 200
    types = [item["type"] for item in history["items"]]
    expected = ["registered"] + [
        s["type"] for s in STEPS if s["type"] != "site_filed" or "site_filed" in types
    ]
    assert types == expected


async def test_transfer_leaves_one_active_record_in_the_new_province(
    federation: Federation,
) -> None:
    old = fresh("50")[0]
    await federation.register("50", old)
    await federation.step("50", old["cert_no"], {"type": "transferred_out", "to_province": "44"})
    new = {
        **fresh("44")[0],
        "name": old["name"],
        "gender": old["gender"],
        "id_number": old["id_number"],
        "transfer_from": {"province": "50", "cert_no": old["cert_no"]},
    }
    await federation.register("44", new)
    got_new = await hub_version(federation, new["cert_no"], 1)
    got_old = await hub_version(federation, old["cert_no"], 2)
    assert (got_new["province"], got_new["status"]) == ("44", "active")
    assert got_old["status"] == "transferred_out"
    assert got_old["superseded_by"] == {"province": "44", "cert_no": new["cert_no"]}
