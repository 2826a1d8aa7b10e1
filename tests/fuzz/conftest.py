"""A real federation (province node 50 and the hub on the session's Kafka) for the fuzz tests."""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import requests
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.federation import stack_running

PROVINCE = "50"
RECORDS = 30
# At least 200 per operation in the suite; REGSYNC_FUZZ_EXAMPLES lowers it while iterating.
EXAMPLES = int(os.environ.get("REGSYNC_FUZZ_EXAMPLES", "200"))

# What every response is held to: no 5xx; a documented status, content type, headers and body.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# 200 examples per operation against live servers: no deadline (a request to a real process is
# not a pure function), no database of examples in the work tree, and the health checks that
# flag slow data generation off (the request bodies' schemas are large by nature).
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@dataclass(frozen=True)
class Target:
    """The running federation as the fuzz tests see it."""

    node: str
    hub: str
    tokens: Mapping[str, str]  # node role -> token
    ops_token: str
    cert_nos: tuple[str, ...]  # registrations the node holds and the hub has applied
    names: tuple[str, ...]  # their names, in the same order
    org_codes: tuple[str, ...]


def _demo_rows(state: Path) -> list[dict[str, Any]]:
    lines = (state / f"demo-{PROVINCE}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _wait_applied(hub: str, cert_nos: tuple[str, ...]) -> None:
    """Return once the hub serves every seeded record, so lookups can find them."""
    with requests.Session() as http:
        for _ in range(300):
            status = [http.get(f"{hub}/v1/physicians/{c}", timeout=5).status_code for c in cert_nos]
            if all(s == 200 for s in status):
                return
            time.sleep(0.1)
    raise AssertionError("the hub did not apply the seeded registrations within 30 s")


@pytest.fixture(scope="session")
def target(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """Node 50 with a few records, and the hub, as real processes on the session broker."""
    state = tmp_path_factory.mktemp("fuzz")
    # Fuzzing sends many bad tokens from one address; the auth-failure lockout would then
    # answer 429 to everything and leave the handlers untested. 429 is documented either way.
    with (
        mock.patch.dict(os.environ, {"REGSYNC_AUTH_THROTTLE": "off"}),
        stack_running(state, [PROVINCE], bootstrap=bootstrap, records=RECORDS) as (stack, sec),
    ):
        rows = _demo_rows(stack.state)
        cert_nos = tuple(r["cert_no"] for r in rows)
        hub = stack.url("hub")
        _wait_applied(hub, cert_nos)
        yield Target(
            node=stack.url(f"province-{PROVINCE}"),
            hub=hub,
            tokens=sec.tokens[PROVINCE],
            ops_token=sec.ops_token,
            cert_nos=cert_nos,
            names=tuple(r["name"] for r in rows),
            org_codes=tuple(sorted({r["primary_institution"]["org_code"] for r in rows})),
        )


def authorize(case: Case, token: str | None) -> None:
    """Send this bearer token (replacing any generated one), or no Authorization at all."""
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    case.headers = headers


def clamp_wait(case: Case, seconds: float) -> None:
    """Cap a numeric `wait` query parameter, so a min_token lookup cannot hold for 30 s."""
    query = case.query or {}
    raw = query.get("wait")
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return
    if math.isfinite(value) and value > seconds:
        case.query = {**query, "wait": seconds}
