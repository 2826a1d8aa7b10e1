"""Schemathesis against a running national hub: no 5xx, every answer as documented."""

from __future__ import annotations

import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis import Case

from schemas.openapi import DOCS_DIR
from tests.fuzz.conftest import CHECKS, FUZZ_SETTINGS, Target, authorize, clamp_wait

DOCUMENT = DOCS_DIR / "national-hub.json"
SCHEMA = schemathesis.openapi.from_path(DOCUMENT)

# Who calls: the operator, a wrong token, and no token at all (the public's case).
CALLERS = ("ops", "wrong", None)


@SCHEMA.parametrize()
@SCHEMA.given(data=st.data())
@FUZZ_SETTINGS
def test_hub_api(case: Case, data: st.DataObject, target: Target) -> None:
    caller = data.draw(st.sampled_from(CALLERS), label="caller")
    authorize(case, {"ops": target.ops_token, "wrong": "not-the-ops-token", None: None}[caller])
    params = case.path_parameters or {}
    if "cert_no" in params and data.draw(st.booleans()):
        # Half the time a physician the hub holds, so the success paths are fuzzed too.
        params["cert_no"] = data.draw(st.sampled_from(target.cert_nos))
    if "org_code" in params and data.draw(st.booleans()):
        params["org_code"] = data.draw(st.sampled_from(target.org_codes))
    if case.query is not None and "name" in case.query and data.draw(st.booleans()):
        case.query["name"] = data.draw(st.sampled_from(target.names))
    if case.path == "/v1/verify" and isinstance(case.body, dict) and data.draw(st.booleans()):
        # A certificate the hub holds, under its own or another name: consistent and mismatch.
        case.body = {
            **case.body,
            "cert_no": data.draw(st.sampled_from(target.cert_nos)),
            "name": data.draw(st.sampled_from(target.names)),
        }
    clamp_wait(case, 0.2)
    case.call_and_validate(base_url=target.hub, checks=CHECKS, timeout=30)


def test_hub_serves_the_committed_document(target: Target) -> None:
    served = requests.get(f"{target.hub}/openapi.json", timeout=10)
    assert served.status_code == 200
    assert served.text == DOCUMENT.read_text(encoding="utf-8")
