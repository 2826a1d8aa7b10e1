"""Every lifecycle step through the HTTP API: allowed ones answer 200, refused ones 409."""

from __future__ import annotations

from typing import Any

import pytest
from nodekit import NEXT_YEAR, SECOND, Node, cert_no, id_number, registration

from schemas.samples import PRIMARY_INSTITUTION, SECOND_INSTITUTION

CHANGE_REQ = {"type": "change_requested", "changes": {"primary_institution": SECOND}}
APPROVE = {"type": "changed"}
DIRECT = {"type": "changed", "changes": {"level": "assistant"}}
REJECT = {"type": "change_rejected", "reason": "材料不全"}
FILE_SITE = {"type": "site_filed", "institution": SECOND, "start_date": "2026-01-01"}
FILE_PRIMARY = {**FILE_SITE, "institution": PRIMARY_INSTITUTION.model_dump()}
WITHDRAW = {"type": "site_withdrawn", "org_code": SECOND_INSTITUTION.org_code}
PASS = {"type": "assessed", "result": "pass", "assessed_on": "2026-03-01"}
FAIL = {"type": "assessed", "result": "fail", "assessed_on": "2026-03-01"}
SUSPEND = {"type": "suspended", "reason": "违反诊疗规范", "until": NEXT_YEAR}
REINSTATE = {"type": "reinstated"}
REVOKE = {"type": "revoked", "reason": "出具虚假医学证明文件", "decision_no": "渝卫罚〔2026〕1号"}
TRANSFER = {"type": "transferred_out", "to_province": "11"}
CANCEL_REASONS = [
    "death",
    "missing",
    "criminal_penalty",
    "failed_reassessment",
    "suspended_two_years",
    "health",
    "certificate_misuse",
    "voluntary",
    "other",
]


def cancel(reason: str = "voluntary") -> dict[str, Any]:
    return {"type": "cancelled", "reason": reason}


async def registered(node: Node, steps: list[dict[str, Any]]) -> str:
    """Register a fresh record and apply steps; return its cert_no."""
    code, body, _ = await node.register(registration(1))
    assert code == 201, body
    for step in steps:
        code, body, _ = await node.step(cert_no(1), step)
        assert code == 200, body
    return cert_no(1)


ALLOWED = [
    pytest.param([], CHANGE_REQ, "changing", id="change_requested"),
    pytest.param([CHANGE_REQ], APPROVE, "active", id="changed-approves-pending"),
    pytest.param([], DIRECT, "active", id="changed-direct"),
    pytest.param([CHANGE_REQ], REJECT, "active", id="change_rejected"),
    pytest.param([], FILE_SITE, "active", id="site_filed"),
    pytest.param([FILE_SITE], WITHDRAW, "active", id="site_withdrawn"),
    pytest.param([], PASS, "active", id="assessed-pass"),
    pytest.param([], FAIL, "suspended", id="assessed-fail-suspends"),
    pytest.param([FAIL], PASS, "active", id="reassessment-pass-reinstates"),
    pytest.param([], SUSPEND, "suspended", id="suspended"),
    pytest.param([SUSPEND], REINSTATE, "active", id="reinstated"),
    pytest.param([SUSPEND], cancel(), "cancelled", id="cancelled-from-suspended"),
    pytest.param([CHANGE_REQ], REVOKE, "revoked", id="revoked-from-changing"),
    pytest.param([], TRANSFER, "transferred_out", id="transferred_out"),
]


@pytest.mark.parametrize(("setup", "step", "status"), ALLOWED)
async def test_allowed_step_answers_200_with_the_new_status(
    node: Node, setup: list[dict[str, Any]], step: dict[str, Any], status: str
) -> None:
    cert = await registered(node, setup)
    code, body, _ = await node.step(cert, step)
    assert (code, body["record"]["status"]) == (200, status)


@pytest.mark.parametrize("reason", CANCEL_REASONS)
async def test_cancellation_accepts_every_legal_reason(node: Node, reason: str) -> None:
    cert = await registered(node, [])
    code, body, _ = await node.step(cert, cancel(reason))
    assert (code, body["record"]["status"]) == (200, "cancelled")


REFUSED = [
    pytest.param([REVOKE], REINSTATE, "revoked", id="reinstate-revoked"),
    pytest.param([], REINSTATE, "active", id="reinstate-active"),
    pytest.param([], APPROVE, "no pending change", id="approve-without-pending"),
    pytest.param([], REJECT, "active", id="reject-without-pending"),
    pytest.param([CHANGE_REQ], CHANGE_REQ, "changing", id="second-change-request"),
    pytest.param([CHANGE_REQ], DIRECT, "pending change", id="direct-change-while-pending"),
    pytest.param([], FILE_PRIMARY, "primary institution", id="file-primary-as-site"),
    pytest.param([FILE_SITE], FILE_SITE, "already filed", id="file-site-twice"),
    pytest.param([], WITHDRAW, "not filed", id="withdraw-unfiled-site"),
    pytest.param([SUSPEND], SUSPEND, "suspended", id="suspend-suspended"),
    pytest.param([SUSPEND], PASS, "reinstate it instead", id="pass-while-suspended-penalty"),
    pytest.param([FAIL], FAIL, "failed_reassessment", id="fail-reassessment"),
    pytest.param([SUSPEND], TRANSFER, "suspended", id="transfer-suspended"),
    pytest.param([cancel()], REINSTATE, "re-registration", id="reinstate-cancelled"),
    pytest.param([cancel()], cancel(), "cancelled", id="cancel-cancelled"),
    pytest.param([REVOKE], cancel(), "revoked", id="cancel-revoked"),
    pytest.param([cancel()], REVOKE, "cancelled", id="revoke-cancelled"),
    pytest.param([TRANSFER], CHANGE_REQ, "transferred_out", id="change-transferred"),
    pytest.param([TRANSFER], SUSPEND, "transferred_out", id="suspend-transferred"),
]


@pytest.mark.parametrize(("setup", "step", "reason"), REFUSED)
async def test_refused_step_answers_409_with_the_reason(
    node: Node, setup: list[dict[str, Any]], step: dict[str, Any], reason: str
) -> None:
    cert = await registered(node, setup)
    code, body, _ = await node.step(cert, step)
    assert (code, body["error"]["code"]) == (409, "conflict")
    assert reason in body["error"]["message"]


async def test_refused_step_commits_nothing(node: Node) -> None:
    cert = await registered(node, [REVOKE])
    before = (await node.status())["committed_seq"]
    await node.step(cert, REINSTATE)
    assert (await node.status())["committed_seq"] == before


async def test_first_registration_answers_201_with_sync_token(node: Node) -> None:
    code, body, resp = await node.register(registration(1))
    assert (code, body["sync_token"], resp.headers["X-Sync-Token"]) == (201, "50:1", "50:1")


async def test_registering_an_existing_certificate_answers_409(node: Node) -> None:
    await node.register(registration(1))
    code, body, _ = await node.register(registration(1))
    assert (code, body["error"]["code"]) == (409, "conflict")


async def test_cancelled_registration_can_be_registered_again(node: Node) -> None:
    cert = await registered(node, [cancel()])
    code, body, _ = await node.register(registration(1))
    assert (code, body["record"]["status"], body["record"]["cert_no"]) == (201, "active", cert)


# One person (one ID number) holds one live registration per province: a second certificate for
# the same ID number is refused while the first is active, changing or suspended.
SAME_PERSON = registration(2, id_number=id_number(1))


@pytest.mark.parametrize(
    "setup",
    [
        pytest.param([], id="active"),
        pytest.param([CHANGE_REQ], id="changing"),
        pytest.param([SUSPEND], id="suspended"),
    ],
)
async def test_a_second_live_registration_of_one_id_number_answers_409_duplicate_person(
    node: Node, setup: list[dict[str, Any]]
) -> None:
    await registered(node, setup)
    code, body, _ = await node.register(SAME_PERSON)
    assert (code, body["error"]["code"]) == (409, "duplicate_person")


async def test_duplicate_person_refusal_names_the_existing_certificate(node: Node) -> None:
    await registered(node, [])
    _, body, _ = await node.register(SAME_PERSON)
    assert cert_no(1) in body["error"]["message"]


@pytest.mark.parametrize(
    "setup",
    [
        pytest.param([cancel()], id="cancelled"),
        pytest.param([REVOKE], id="revoked"),
        pytest.param([TRANSFER], id="transferred_out"),
    ],
)
async def test_a_closed_registration_does_not_block_a_new_one_for_the_person(
    node: Node, setup: list[dict[str, Any]]
) -> None:
    await registered(node, setup)
    code, body, _ = await node.register(SAME_PERSON)
    assert (code, body["record"]["status"]) == (201, "active")


async def test_transfer_in_links_the_old_province_and_certificate(node: Node) -> None:
    old = {"province": "11", "cert_no": "110000000000042"}
    code, body, _ = await node.register(registration(2, transfer_from=old))
    assert (code, body["record"]["transfer"]) == (
        201,
        {"from_province": "11", "from_cert_no": "110000000000042", "to_province": None},
    )


async def test_step_on_unknown_certificate_answers_404(node: Node) -> None:
    code, body, _ = await node.step(cert_no(99), SUSPEND)
    assert (code, body["error"]["code"]) == (404, "not_found")


async def test_record_version_counts_the_record_s_events(node: Node) -> None:
    cert = await registered(node, [SUSPEND, REINSTATE])
    code, body, _ = await node.call("GET", f"/v1/registrations/{cert}", role="viewer")
    assert (code, body["record_version"]) == (200, 3)
