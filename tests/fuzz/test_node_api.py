"""Schemathesis against a running province node: no 5xx, every answer as documented."""

from __future__ import annotations

import schemathesis
from hypothesis import strategies as st
from schemathesis import Case

from schemas.openapi import DOCS_DIR
from tests.fuzz.conftest import CHECKS, FUZZ_SETTINGS, Target, authorize

SCHEMA = schemathesis.openapi.from_path(DOCS_DIR / "province-node.json")

# Who calls: each role, a token the node does not know, and no token at all.
CALLERS = ("registrar", "viewer", "hub", "unknown", None)


@SCHEMA.parametrize()
@SCHEMA.given(data=st.data())
@FUZZ_SETTINGS
def test_node_api(case: Case, data: st.DataObject, target: Target) -> None:
    caller = data.draw(st.sampled_from(CALLERS), label="caller")
    token = None if caller is None else target.tokens.get(caller, "not-a-token")
    authorize(case, token)
    if case.path_parameters and "cert_no" in case.path_parameters and data.draw(st.booleans()):
        # Half the time a registration that exists, so the success paths are fuzzed too.
        case.path_parameters["cert_no"] = data.draw(st.sampled_from(target.cert_nos))
    case.call_and_validate(base_url=target.node, checks=CHECKS, timeout=30)
