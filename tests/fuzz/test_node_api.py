"""Schemathesis against a running province node: no 5xx, every answer as documented."""

from __future__ import annotations

import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis import Case

from province_node.synthetic import registrations
from schemas.openapi import DOCS_DIR
from schemas.samples import suspension_until
from tests.fuzz.conftest import CHECKS, FUZZ_SETTINGS, PROVINCE, Target, authorize

DOCUMENT = DOCS_DIR / "province-node.json"
SCHEMA = schemathesis.openapi.from_path(DOCUMENT)

# Who calls: each role (the registrar twice as often: only it writes), a token the node does
# not know, and no token at all.
CALLERS = ("registrar", "registrar", "viewer", "hub", "unknown", None)
# Steps that are valid as bodies; whether one is allowed depends on the record's state.
STEPS = (
    {"type": "assessed", "result": "pass", "assessed_on": "2026-01-05"},
    {"type": "suspended", "reason": "违规执业调查", "until": suspension_until()},
    {"type": "reinstated"},
    {"type": "change_requested", "changes": {"level": "physician"}},
    {"type": "changed"},
    {"type": "change_rejected", "reason": "材料不全"},
    {"type": "cancelled", "reason": "voluntary"},
)
# Valid registrations come from another seed than the seeded records, so they are new ones.
FRESH_SEED = 7


@SCHEMA.parametrize()
@SCHEMA.given(data=st.data())
@FUZZ_SETTINGS
def test_node_api(case: Case, data: st.DataObject, target: Target) -> None:
    caller = data.draw(st.sampled_from(CALLERS), label="caller")
    token = None if caller is None else target.tokens.get(caller, "not-a-token")
    authorize(case, token)
    if case.path_parameters and "cert_no" in case.path_parameters and data.draw(st.booleans()):
        # Half the time a registration that exists, so the success paths are fuzzed too, and
        # then, for a step, half the time a valid one.
        case.path_parameters["cert_no"] = data.draw(st.sampled_from(target.cert_nos))
        if case.method == "POST" and data.draw(st.booleans()):
            case.body = data.draw(st.sampled_from(STEPS), label="step")
    if case.method == "POST" and case.path == "/v1/registrations" and data.draw(st.booleans()):
        # Schema-valid bodies almost never pass the ID number and credit code checksums;
        # half the time send a valid registration, so commits and their answers are fuzzed too.
        start = data.draw(st.integers(0, 10_000), label="registration")
        case.body = next(registrations(PROVINCE, 1, seed=FRESH_SEED, start=start))
    case.call_and_validate(base_url=target.node, checks=CHECKS, timeout=30)


def test_node_serves_the_committed_document(target: Target) -> None:
    served = requests.get(f"{target.node}/openapi.json", timeout=10)
    assert served.status_code == 200
    assert served.text == DOCUMENT.read_text(encoding="utf-8")
