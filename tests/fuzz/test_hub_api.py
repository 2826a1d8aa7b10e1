"""Schemathesis against a running national hub: no 5xx, every answer as documented."""

from __future__ import annotations

import schemathesis
from hypothesis import strategies as st
from schemathesis import Case

from schemas.openapi import DOCS_DIR
from tests.fuzz.conftest import CHECKS, FUZZ_SETTINGS, Target, authorize, clamp_wait

SCHEMA = schemathesis.openapi.from_path(DOCS_DIR / "national-hub.json")

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
    clamp_wait(case, 0.2)
    case.call_and_validate(base_url=target.hub, checks=CHECKS, timeout=30)
