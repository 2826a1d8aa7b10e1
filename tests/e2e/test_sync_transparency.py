"""Sync transparency against real nodes and hub on real Kafka: explain, lag, read-your-writes.

Uses the module's own federation (nodes 50 and 44) on the session broker. Tests that pause the
hub's ingest resume it whatever happens, so they do not leak into each other.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from province_node.synthetic import registrations
from tests.e2e.federation import Federation, wait_until

# Seeds of this module's registrations (the cert_no prefix is province + seed % 1000).
_seeds = itertools.count(300)


def fresh(province: str) -> dict[str, Any]:
    """A registration body no other test in this module uses."""
    return next(registrations(province, 1, seed=next(_seeds)))


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@asynccontextmanager
async def ingest_paused(fed: Federation) -> AsyncIterator[None]:
    """The hub applies no events inside the block (heartbeats still flow)."""
    await fed.set_ingest_paused(True)
    try:
        yield
    finally:
        await fed.set_ingest_paused(False)


async def applied(fed: Federation, cert_no: str) -> dict[str, Any]:
    """The hub's record once it is there."""

    async def probe() -> dict[str, Any] | None:
        status, body = await fed.hub_get(f"/v1/physicians/{cert_no}")
        return dict(body) if status == 200 else None

    return await wait_until(probe, 30, f"{cert_no} at the hub")


async def explained(fed: Federation, state: str, **params: str) -> dict[str, Any]:
    """The explanation once it reaches `state`."""

    async def probe() -> dict[str, Any] | None:
        got = await fed.explain(**params)
        return got if got["state"] == state else None

    return await wait_until(probe, 20, f"explain {params} = {state}")


# ---- status -------------------------------------------------------------------------------


async def test_sync_status_reports_every_province_ok(federation: Federation) -> None:
    async def all_ok() -> dict[str, Any] | None:
        body = await federation.sync_status()
        return body if all(p["status"] == "ok" for p in body["provinces"]) else None

    body = await wait_until(all_ok, 30, "every province ok")
    assert [(p["province"], p["name"]) for p in body["provinces"]] == [
        ("50", "重庆市"),
        ("44", "广东省"),
    ]
    assert all(p["lag_seconds"] < 5 for p in body["provinces"]), body
    assert _ts(body["generated_at"])


# ---- explain: the seven states ------------------------------------------------------------


async def test_unknown_cert_no_is_unknown_to_province(federation: Federation) -> None:
    got = await federation.explain(cert_no="509990000000001")
    assert (got["state"], got["visible"]) == ("unknown_to_province", False)


async def test_applied_record_is_applied(federation: Federation) -> None:
    body = fresh("50")
    await federation.register("50", body)
    await applied(federation, body["cert_no"])
    got = await federation.explain(cert_no=body["cert_no"])
    assert (got["state"], got["visible"], got["province"]) == ("applied", True, "50")


async def test_cert_no_claimed_by_a_second_province_is_rejected_with_the_reason(
    federation: Federation,
) -> None:
    first = fresh("50")
    await federation.register("50", first)
    await applied(federation, first["cert_no"])
    await federation.register("44", {**fresh("44"), "cert_no": first["cert_no"]})
    got = await explained(federation, "rejected", cert_no=first["cert_no"], province="44")
    assert got["province"] == "44"
    assert got["rejection"]["reason"].startswith("cert_conflict:")
    assert "cert_conflict" in got["reason"]


async def test_transferred_record_names_the_new_province(federation: Federation) -> None:
    old = fresh("50")
    await federation.register("50", old)
    await federation.step("50", old["cert_no"], {"type": "transferred_out", "to_province": "44"})
    new = {
        **fresh("44"),
        "name": old["name"],
        "gender": old["gender"],
        "id_number": old["id_number"],
        "transfer_from": {"province": "50", "cert_no": old["cert_no"]},
    }
    await federation.register("44", new)
    await applied(federation, new["cert_no"])
    got = await explained(federation, "transferred", cert_no=old["cert_no"])
    assert got["transferred_to"] == {"province": "44", "cert_no": new["cert_no"]}


async def test_paused_ingest_explains_in_transit_with_an_eta(federation: Federation) -> None:
    body = fresh("50")
    async with ingest_paused(federation):
        created = await federation.register("50", body)
        got = await explained(federation, "in_transit", token=created["sync_token"])
    seq = int(created["sync_token"].split(":")[1])
    assert got["evidence"]["event_seq"] == seq
    assert got["evidence"]["hub_applied_seq"] < seq <= got["evidence"]["province_published_seq"]
    assert 0 < got["eta_seconds"] <= 10


# ---- freshness ----------------------------------------------------------------------------

DELAY = 3.0


async def test_lag_equals_a_known_delay(federation: Federation) -> None:
    """An event held back DELAY seconds shows a lag of DELAY (within one heartbeat)."""
    body = fresh("50")
    async with ingest_paused(federation):
        await federation.register("50", body)
        committed = _ts((await federation.node_sync_record("50", body["cert_no"]))["committed_at"])

        async def delayed() -> dict[str, Any] | None:
            status = await federation.sync_status()
            if (_ts(status["generated_at"]) - committed).total_seconds() < DELAY:
                return None
            return status

        status = await wait_until(delayed, DELAY + 10, "the delay to pass")
    entry = next(p for p in status["provinces"] if p["province"] == "50")
    delay = (_ts(status["generated_at"]) - committed).total_seconds()
    # The hub knows the commit happened after its last complete observation, which is at most
    # one heartbeat (1 s) before it; it never reports less lag than there is.
    assert -0.25 <= entry["lag_seconds"] - delay <= 1.0, (entry, delay)


# ---- read-your-writes ---------------------------------------------------------------------


async def test_min_token_answers_within_100_ms_of_the_apply(federation: Federation) -> None:
    body = fresh("44")
    cert_no = body["cert_no"]
    async with ingest_paused(federation):
        created = await federation.register("44", body)
        token = created["sync_token"]
        seq = int(token.split(":")[1])

        async def lookup() -> tuple[int, float]:
            status, _ = await federation.hub_get(
                f"/v1/physicians/{cert_no}", min_token=token, wait="10"
            )
            return status, time.time()

        waiting = asyncio.ensure_future(lookup())
        await asyncio.sleep(0.5)
        assert not waiting.done()
    status, answered_at = await waiting
    assert status == 200
    _, history = await federation.hub_get(f"/v1/physicians/{cert_no}/history")
    item = next(i for i in history["items"] if i["seq"] == seq)
    delay = answered_at - _ts(item["applied_at"]).timestamp()
    assert delay < 0.1, f"answered {delay * 1000:.0f} ms after the apply"


# ---- anomalies ----------------------------------------------------------------------------


async def test_anomalies_show_one_person_active_in_two_provinces(federation: Federation) -> None:
    here = fresh("50")
    there = {
        **fresh("44"),
        "name": here["name"],
        "gender": here["gender"],
        "id_number": here["id_number"],
    }
    await federation.register("50", here)
    await federation.register("44", there)
    await applied(federation, here["cert_no"])
    await applied(federation, there["cert_no"])
    async with federation.http.get(f"{federation.hub}/v1/anomalies", headers=federation.ops) as r:
        assert r.status == 200
        body = await r.json()
    found = [
        sorted((rec["province"], rec["cert_no"]) for rec in item["records"])
        for item in body["items"]
        if item["kind"] == "person_active_in_two_provinces"
    ]
    assert sorted([("44", there["cert_no"]), ("50", here["cert_no"])]) in found
