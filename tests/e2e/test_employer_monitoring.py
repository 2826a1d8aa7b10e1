"""Employer monitoring on the real federation (nodes, hub and `national-hub notify` as
processes, real Kafka): a suspension at node 50 reaches the employer's webhook, signed, and how
long it took from the node's commit to the receiver's 2xx over 200 changes."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
from datetime import datetime
from typing import Any

from national_hub.notify.signing import verify
from province_node.synthetic import registrations
from schemas.samples import suspension_until
from tests.e2e.federation import Federation
from tests.e2e.test_nodes_to_hub import hub_version, until
from tests.national_hub.webhook_receiver import Receiver, serving

CHANGES = 200
ORG = "12500000450400012K"


def institution_key(config: str) -> str:
    """Issue a key the way ops does: `national-hub institutions add`."""
    args = ["institutions", "add", "--config", config, "--org-code", ORG, "--name", "医院"]
    done = subprocess.run(
        [sys.executable, "-m", "national_hub.cli", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip()


async def watch(fed: Federation, key: str, path: str, body: dict[str, Any]) -> Any:
    async with fed.http.post(
        f"{fed.hub}{path}", json=body, headers={"Authorization": f"Bearer {key}"}
    ) as resp:
        assert resp.status in (200, 201), await resp.text()
        return await resp.json()


async def test_suspensions_at_node_50_reach_the_webhook_signed(federation: Federation) -> None:
    key = institution_key(str(federation.stack.config))
    people = list(registrations("50", CHANGES, seed=4242))
    for body in people:
        await federation.register("50", body)
    await hub_version(federation, people[-1]["cert_no"], 1)
    certs = [p["cert_no"] for p in people]

    async def all_known() -> bool:
        await asyncio.gather(*(hub_version(federation, c, 1) for c in certs[:: CHANGES // 10]))
        return True

    await until(all_known)
    async with serving(Receiver()) as receiver:
        hook = await watch(federation, key, "/v1/watch/webhooks", {"url": receiver.url})
        enrolled = await watch(federation, key, "/v1/watch/certificates", {"cert_nos": certs})
        assert enrolled["unknown"] == []
        for c in certs:
            await federation.step(
                "50", c, {"type": "suspended", "reason": "行政处罚", "until": suspension_until()}
            )
            await asyncio.sleep(0.01)

        async def all_acked() -> bool:
            return len({call.id for call in receiver.acked}) >= CHANGES

        await until(all_acked, within=60)
    calls = {call.id: call for call in receiver.acked}
    latencies = sorted(
        call.acked_at - datetime.fromisoformat(call.notification["committed_at"]).timestamp()
        for call in calls.values()
    )
    p50 = statistics.median(latencies)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(f"node commit -> webhook 2xx over {len(latencies)} suspensions: "
          f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")  # fmt: skip
    assert all(verify(hook["secret"], c.signature, c.body) for c in calls.values())
    assert {c.notification["kind"] for c in calls.values()} == {"suspended"}
