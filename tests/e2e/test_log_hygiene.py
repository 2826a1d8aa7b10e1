"""No secret, token or ID number in any log of a full federation run (nodes, hub, imports).

One run exercises what might leak: demo imports, registrations and lifecycle steps carrying ID
numbers, wrong tokens until the lockout, requests that are refused with ID numbers in their
bodies and query strings, lookups, verifications, ops calls, and a malformed event with an ID
number dead-lettered by the hub. Then every log the stack wrote (node 50 with its access log
on), and everything the test's child processes printed, is searched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from devstack.stack import Secrets, Stack
from province_node.synthetic import registrations
from schemas.checksums import resident_id_valid
from schemas.samples import suspension_until
from tests.e2e.federation import Federation, run_with, stack_running, wait_until

PROVINCES = ["50", "44"]
LOCKOUT_AFTER = 5
# 17 digits and a check character, not inside a longer run of digits.
_ID_SHAPED = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9Xx])")


async def _exercise(fed: Federation, bootstrap: str, topic_prefix: str) -> list[str]:
    """Everything a log could pick an ID number or a token from; the ID numbers it used."""
    used: list[str] = []
    http, node, hub = fed.http, fed.node("50"), fed.hub
    bodies = list(registrations("50", 4, seed=4242))
    used += [b["id_number"] for b in bodies]
    for body in bodies[:3]:
        await fed.register("50", body)
    cert = bodies[0]["cert_no"]
    await fed.step(
        "50", cert, {"type": "suspended", "reason": "违反诊疗规范", "until": suspension_until()}
    )
    await fed.node_record("50", cert)

    async def call(method: str, url: str, expect: int, **kw: Any) -> None:
        async with http.request(method, url, **kw) as resp:
            await resp.read()
            assert resp.status == expect, (method, url, resp.status, await resp.text())

    registrar = fed.auth("50")
    # Refused requests carrying ID numbers: a duplicate, a bad field, malformed JSON, a bad
    # checksum, a query string, and unknown fields at the hub.
    dup, bad_field = bodies[1], {**bodies[3], "gender": "unknown"}
    await call("POST", f"{node}/v1/registrations", 409, json=dup, headers=registrar)
    await call("POST", f"{node}/v1/registrations", 422, json=bad_field, headers=registrar)
    broken = json.dumps(bodies[3], ensure_ascii=False)[:-7].encode()
    await call("POST", f"{node}/v1/registrations", 400, data=broken, headers=registrar)
    real = bodies[3]["id_number"]
    bad_check = {**bodies[3], "id_number": real[:17] + ("1" if real[17] == "0" else "0")}
    used.append(bad_check["id_number"])
    await call("POST", f"{node}/v1/registrations", 422, json=bad_check, headers=registrar)
    await call(
        "GET",
        f"{node}/v1/registrations",
        200,
        params={"name": used[0]},
        headers=fed.auth("50", "viewer"),
    )
    await call("GET", f"{hub}/v1/physicians", 400, params={"id_number": used[1]})
    await call("GET", f"{hub}/v1/physicians", 200, params={"name": used[1]})
    await call("GET", f"{hub}/v1/sync/explain", 400, params={"cert_no": used[2]})
    await call(
        "POST", f"{hub}/v1/verify", 422, json={"cert_no": cert, "name": "x", "id_number": used[2]}
    )

    # Public reads at the hub once the registrations are there.
    async def applied() -> bool:
        status, _ = await fed.hub_get(f"/v1/physicians/{bodies[2]['cert_no']}")
        return status == 200

    await wait_until(applied, 30, "registrations applied at the hub")
    for path in ("", "/history", "/fhir"):
        await call("GET", f"{hub}/v1/physicians/{cert}{path}", 200)
    await call("POST", f"{hub}/v1/verify", 200, json={"cert_no": cert, "name": bodies[0]["name"]})
    await call("GET", f"{hub}/v1/sync/explain", 200, params={"cert_no": bodies[3]["cert_no"]})

    # A malformed event with an ID number in it, straight onto province 44's topic.
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        leaked = {"province": "44", "seq": 1, "record": {"id_number": used[3]}}
        await producer.send_and_wait(
            f"{topic_prefix}.events.44", json.dumps(leaked).encode(), key=b"440000000000001"
        )
    finally:
        await producer.stop()

    async def dead_lettered() -> bool:
        async with http.get(f"{hub}/v1/sync/dead-letters", headers=fed.ops) as resp:
            items = (await resp.json())["items"]
        return any(item["topic"].endswith(".events.44") for item in items)

    await wait_until(dead_lettered, 30, "the malformed event dead-lettered")
    await call("GET", f"{hub}/v1/anomalies", 200, headers=fed.ops)

    # Wrong tokens, including real tokens presented where they are not valid, until locked out.
    other_province = fed.secrets.tokens["44"]["registrar"]
    wrong = [other_province, "guess-" + other_province[:8], fed.secrets.ops_token]
    for token in wrong:
        headers = {"Authorization": f"Bearer {token}"}
        await call("GET", f"{node}/v1/sync/status", 401, headers=headers)
    for token in [
        other_province,
        fed.secrets.hub_token,
        fed.secrets.tokens["50"]["viewer"],
        "x" * 40,
    ]:
        headers = {"Authorization": f"Bearer {token}"}
        await call("GET", f"{hub}/v1/sync/dead-letters", 403, headers=headers)
    await call(
        "GET", f"{node}/v1/sync/status", 401, headers={"Authorization": "Basic Zm9vOmJhcg=="}
    )
    await call("GET", f"{node}/v1/sync/status", 401, headers={"Authorization": "Bearer nope"})
    await call("GET", f"{node}/v1/sync/status", 429, headers=registrar)
    await call("GET", f"{hub}/v1/sync/dead-letters", 403, headers={"Authorization": "Bearer no"})
    await call("GET", f"{hub}/v1/sync/dead-letters", 429, headers=fed.ops)
    return used


def _secrets(state: Path, sec: Secrets) -> dict[str, str]:
    """Every secret of the run, by what it is."""
    found = {"ops token": sec.ops_token, "hub token": sec.hub_token}
    for code, roles in sec.tokens.items():
        for role, token in roles.items():
            found[f"{role} token of {code}"] = token
    keys = state / "keys"
    found["federation secret"] = (keys / "federation.secret").read_text().strip()
    for key in keys.glob("*.key"):
        body = [ln for ln in key.read_text().splitlines() if ln and not ln.startswith("-----")]
        for i, line in enumerate(body):
            found[f"{key.name} PEM line {i}"] = line
    return found


def _logs(state: Path) -> Iterator[tuple[str, str]]:
    for path in sorted(state.rglob("*.log")):
        yield str(path.relative_to(state)), path.read_text(encoding="utf-8", errors="replace")


def test_no_secret_or_id_number_in_any_log(
    bootstrap: str,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("REGSYNC_AUTH_THROTTLE", f"{LOCKOUT_AFTER}/60/60")
    state = tmp_path_factory.mktemp("hygiene")
    with stack_running(state, PROVINCES, bootstrap=bootstrap, records=200) as running:
        stack: Stack = running[0]
        # Node 50 also writes its access log (serve --access-log) for the scan.
        stack.cmds["province-50"] = [*stack.cmds["province-50"], "--access-log"]
        stack.restart("province-50")

        async def run(fed: Federation) -> list[str]:
            return await _exercise(fed, bootstrap, stack.topic_prefix)

        used = run_with(running, run)
        sec = running[1]
    out, err = capfd.readouterr()
    texts = dict(_logs(state))
    texts["test process stdout"], texts["test process stderr"] = out, err
    assert texts.keys() >= {"hub.log", "province-50.log", "province-44.log"}
    # The logs must have seen the run, or an empty log would pass.
    assert "refused for 60 s" in texts["hub.log"] and "refused for 60 s" in texts["province-50.log"]
    assert "GET /v1/registrations" in texts["province-50.log"]

    id_numbers = set(used)
    for code in PROVINCES:
        demo = state / f"demo-{code}.jsonl"
        id_numbers |= {json.loads(ln)["id_number"] for ln in demo.read_text().splitlines() if ln}
    leaks = [
        f"{name}: {what}"
        for name, text in texts.items()
        for what, secret in _secrets(state, sec).items()
        if secret in text
    ]
    leaks += [
        f"{name}: ID number {n}" for name, text in texts.items() for n in id_numbers if n in text
    ]
    leaks += [
        f"{name}: ID-number-shaped {m}"
        for name, text in texts.items()
        for m in _ID_SHAPED.findall(text)
        if resident_id_valid(m)
    ]
    assert not leaks, "\n".join(leaks)
