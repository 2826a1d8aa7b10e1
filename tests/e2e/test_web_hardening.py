"""The hub's HTTP edge against real nodes and hub on real Kafka (issue 12, findings 9 and 12).

Uses the module's own federation (nodes 50 and 44) on the session broker.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from yarl import URL

from province_node.synthetic import registrations
from tests.e2e.federation import Federation, wait_until

_seeds = itertools.count(900)


def fresh(province: str) -> dict[str, Any]:
    """A registration body no other test in this module uses."""
    return next(registrations(province, 1, seed=next(_seeds)))


async def _raw_get(fed: Federation, path: str) -> tuple[int, Any]:
    """GET path exactly as written (its percent-escapes are sent, not re-encoded)."""
    async with fed.http.get(URL(fed.hub + path, encoded=True)) as resp:
        return resp.status, await resp.json(content_type=None)


@pytest.mark.parametrize("suffix", ["%0A", "%0D%0A", "%20", "%09"])
async def test_lookup_and_explain_agree_on_a_number_with_trailing_bytes(
    federation: Federation, suffix: str
) -> None:
    body = fresh("50")
    cert_no = body["cert_no"]
    await federation.register("50", body)

    async def visible() -> bool:
        status, _ = await federation.hub_get(f"/v1/physicians/{cert_no}")
        return status == 200

    await wait_until(visible, 30, f"{cert_no} at the hub")
    # Before: the lookup of "…%0A" said 404 while its explanation (the node asked about another
    # string) said applied. Now neither answers about a number that is not one.
    lookup = await _raw_get(federation, f"/v1/physicians/{cert_no}{suffix}")
    explain = await _raw_get(federation, f"/v1/sync/explain?cert_no={cert_no}{suffix}")
    for status, answer in (lookup, explain):
        assert status == 400, answer
        assert [d["field"] for d in answer["error"]["details"]] == ["cert_no"]
    assert (await federation.explain(cert_no=cert_no))["state"] == "applied"


async def test_an_unknown_number_reads_the_same_in_lookup_and_explain(
    federation: Federation,
) -> None:
    unknown = "509990000000077"
    status, lookup = await federation.hub_get(f"/v1/physicians/{unknown}")
    assert status == 404
    explain = await federation.explain(cert_no=unknown)
    assert lookup["explanation"]["state"] == explain["state"] == "unknown_to_province"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/dashboard", 200),
        ("/static/dashboard.js", 200),
        ("/static/dashboard.css", 200),
        ("/v1/sync/status", 200),
        ("/static/nope.js", 404),
        ("/nope", 404),
    ],
)
async def test_the_running_hub_sends_the_security_headers(
    federation: Federation, path: str, status: int
) -> None:
    async with federation.http.get(federation.hub + path) as resp:
        assert resp.status == status
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
        if status == 404:
            assert (await resp.json())["error"]["code"] == "not_found"
