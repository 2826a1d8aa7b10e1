"""Refusals of the operator API: tokens, roles, bad values, bad JSON, big bodies, retries."""

from __future__ import annotations

import copy
import logging
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest
from nodekit import NEXT_YEAR, Node, cert_no, id_number, registration

from province_node.web.appkeys import REGISTRY
from schemas.samples import SECOND_INSTITUTION

IN_A_MONTH = (date.today() + timedelta(days=30)).isoformat()
SUSPEND = {"type": "suspended", "reason": "违反诊疗规范", "until": NEXT_YEAR}

ENDPOINTS = [
    ("POST", "/v1/registrations"),
    ("POST", f"/v1/registrations/{cert_no(1)}/events"),
    ("GET", f"/v1/registrations/{cert_no(1)}"),
    ("GET", "/v1/registrations"),
    ("GET", "/v1/sync/status"),
    ("GET", f"/v1/sync/records/{cert_no(1)}"),
]


def _error(body: Any) -> dict[str, Any]:
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    return dict(body["error"])


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_missing_token_answers_401(node: Node, method: str, path: str) -> None:
    code, body, resp = await node.call(method, path, role=None, json_body={})
    assert (code, _error(body)["code"]) == (401, "unauthorized")
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


async def test_unknown_token_answers_401(node: Node) -> None:
    headers = {"Authorization": "Bearer not-a-token"}
    code, body, _ = await node.call("GET", "/v1/sync/status", role=None, headers=headers)
    assert (code, _error(body)["code"]) == (401, "unauthorized")


@pytest.mark.parametrize("role", ["viewer", "hub"])
@pytest.mark.parametrize(
    ("path", "payload"),
    [("/v1/registrations", registration(1)), (f"/v1/registrations/{cert_no(1)}/events", SUSPEND)],
)
async def test_reader_writing_answers_403(
    node: Node, role: str, path: str, payload: dict[str, Any]
) -> None:
    code, body, _ = await node.call("POST", path, role=role, json_body=payload)
    assert (code, _error(body)["code"]) == (403, "forbidden")


async def test_forbidden_write_commits_nothing(node: Node) -> None:
    await node.register(registration(1), role="viewer")
    assert (await node.status())["committed_seq"] == 0


def _set(body: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(body)
    *parents, last = dotted.split(".")
    target = out
    for key in parents:
        target = target[key]
    if value is _DROP:
        del target[last]
    else:
        target[last] = value
    return out


_DROP = object()
BAD_ID = id_number(1)[:17] + ("0" if id_number(1)[17] != "0" else "1")

BAD_REGISTRATIONS = [
    ("cert_no", "12345"),
    ("cert_no", 500000000000001),
    ("cert_no", _DROP),
    ("name", ""),
    ("name", "王\u0000明"),
    ("name", "王\u200b五"),  # zero-width space: not found by 王五
    ("name", "王\u202e五"),  # right-to-left override
    ("name", "<b>王五</b>"),
    ("gender", "unknown"),
    ("gender", "female"),  # the ID number's sequence digit is odd: male
    ("id_number", BAD_ID),
    ("id_number", "500103196002301234"),  # 30 February
    ("id_number", "50010319600101"),
    ("level", "surgeon"),
    ("category", "veterinary"),
    ("scopes", []),
    ("scopes", ["兽医专业"]),
    ("scopes", ["口腔专业"]),  # dental scope, clinical category
    ("scopes", ["内科专业", "外科专业", "儿科专业", "妇产科专业"]),
    ("scopes", "内科专业"),
    ("primary_institution.org_code", "12500000450400012A"),
    ("primary_institution.region_code", "5001"),
    ("primary_institution.name", _DROP),
    ("primary_institution.name", "重庆医科大学\u200b附属第一医院"),
    ("issuing_authority.name", "重庆市\u2067渝中区卫生健康委员会"),
    ("issuing_authority.region_code", "abcdef"),
    ("registered_on", "2020/03/15"),
    ("registered_on", "2020-02-30"),
    ("registered_on", 20200315),
    ("registered_on", "9999-12-31"),
    ("registered_on", "0001-01-01"),
    ("registered_on", "1999-04-30"),  # before the 执业医师法 came into force
    ("registered_on", IN_A_MONTH),
    ("transfer_from", {"province": "99", "cert_no": "110000000000001"}),
    ("transfer_from", {"province": "50", "cert_no": "500000000000009"}),
    ("nickname", "小王"),
]


def _field_of(path: str, value: Any) -> str:
    if path == "transfer_from":
        return "transfer_from.province"
    return path


@pytest.mark.parametrize(
    ("path", "value"),
    BAD_REGISTRATIONS,
    ids=[f"{p}={v!r}"[:40] for p, v in BAD_REGISTRATIONS],
)
async def test_bad_registration_value_answers_422_naming_the_field(
    node: Node, path: str, value: Any
) -> None:
    code, body, _ = await node.register(_set(registration(1), path, value))
    error = _error(body)
    assert (code, error["code"]) == (422, "invalid")
    assert _field_of(path, value) in [d["field"] for d in error["details"]]


BAD_STEPS = [
    ({"reason": "x", "until": NEXT_YEAR}, "type"),
    ({"type": "paused"}, "type"),
    ({"type": "registered"}, "type"),
    ({"type": "suspended", "reason": "违规", "until": "next year"}, "until"),
    ({"type": "suspended", "until": NEXT_YEAR}, "reason"),
    ({"type": "suspended", "reason": "违规", "until": "2020-01-01"}, "until"),  # already over
    ({"type": "suspended", "reason": "违规", "until": "9999-12-31"}, "until"),
    ({"type": "cancelled", "reason": "bored"}, "reason"),
    ({"type": "assessed", "result": "maybe", "assessed_on": "2026-03-01"}, "result"),
    ({"type": "assessed", "result": "pass", "assessed_on": "9999-12-31"}, "assessed_on"),
    ({"type": "assessed", "result": "fail", "assessed_on": "9999-12-31"}, "assessed_on"),
    ({"type": "assessed", "result": "pass", "assessed_on": IN_A_MONTH}, "assessed_on"),
    ({"type": "assessed", "result": "pass", "assessed_on": "1999-04-30"}, "assessed_on"),
    (
        {
            "type": "site_filed",
            "institution": SECOND_INSTITUTION.model_dump(),
            "start_date": "2026-05-01",
            "end_date": "2026-01-01",
        },
        "end_date",
    ),
    (
        {
            "type": "site_filed",
            "institution": {**SECOND_INSTITUTION.model_dump(), "org_code": "123"},
            "start_date": "2026-05-01",
        },
        "institution.org_code",
    ),
    ({"type": "site_withdrawn", "org_code": "91110000101623741A"}, "org_code"),
    ({"type": "change_requested", "changes": {}}, "changes"),
    ({"type": "change_requested", "changes": {"scopes": ["口腔专业"]}}, "changes.scopes"),
    ({"type": "transferred_out", "to_province": "50"}, "to_province"),
    ({"type": "reinstated", "why": "x"}, "why"),
]


@pytest.mark.parametrize(("step", "field"), BAD_STEPS, ids=[f for _, f in BAD_STEPS])
async def test_bad_step_value_answers_422_naming_the_field(
    node: Node, step: dict[str, Any], field: str
) -> None:
    await node.register(registration(1))
    code, body, _ = await node.step(cert_no(1), step)
    error = _error(body)
    assert (code, error["code"]) == (422, "invalid")
    assert field in [d["field"] for d in error["details"]]


@pytest.mark.parametrize(
    "raw", ['{"cert_no": ', "not json", "{'a': 1}", "\xff\xfe", '{"name": "\\ud800"}']
)
async def test_malformed_json_answers_400(node: Node, raw: str) -> None:
    code, body, _ = await node.call("POST", "/v1/registrations", data=raw.encode("latin-1"))
    assert (code, _error(body)["code"]) == (400, "bad_request")


async def test_empty_body_answers_400(node: Node) -> None:
    code, body, _ = await node.call("POST", "/v1/registrations", data=b"")
    assert (code, _error(body)["code"]) == (400, "bad_request")


async def test_json_that_is_not_an_object_answers_422(node: Node) -> None:
    code, body, _ = await node.call("POST", "/v1/registrations", json_body=[1, 2])
    assert (code, _error(body)["details"][0]["field"]) == (422, "body")


async def test_oversize_body_answers_413(node: Node) -> None:
    big = b'{"name": "' + b"x" * (1024 * 1024) + b'"}'
    code, body, _ = await node.call("POST", "/v1/registrations", data=big)
    assert (code, _error(body)["code"]) == (413, "payload_too_large")


async def test_oversize_chunked_body_answers_413(node: Node) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}'

    resp = await node.client.post(
        "/v1/registrations", data=chunks(), headers=node.auth("registrar")
    )
    assert (resp.status, _error(await resp.json())["code"]) == (413, "payload_too_large")


async def test_unknown_route_answers_404_in_the_error_format(node: Node) -> None:
    code, body, _ = await node.call("GET", "/v1/nothing-here")
    assert (code, _error(body)["code"]) == (404, "not_found")


async def test_wrong_method_answers_405_in_the_error_format(node: Node) -> None:
    code, body, _ = await node.call("DELETE", "/v1/registrations")
    assert (code, _error(body)["code"]) == (405, "method_not_allowed")


# -- Idempotency-Key -----------------------------------------------------------------------------


async def test_repeated_idempotency_key_gives_the_same_answer(node: Node) -> None:
    headers = {"Idempotency-Key": "req-1"}
    first = await node.register(registration(1), headers=headers)
    again = await node.register(registration(1), headers=headers)
    assert (again[0], again[1]) == (first[0], first[1]) == (201, first[1])


async def test_repeated_idempotency_key_commits_once(node: Node) -> None:
    headers = {"Idempotency-Key": "req-1"}
    for _ in range(3):
        await node.register(registration(1), headers=headers)
    assert (await node.status())["committed_seq"] == 1


async def test_replayed_answer_is_marked(node: Node) -> None:
    headers = {"Idempotency-Key": "req-1"}
    await node.register(registration(1), headers=headers)
    _, _, resp = await node.register(registration(1), headers=headers)
    assert resp.headers["Idempotent-Replayed"] == "true"


async def test_replayed_step_refusal_stays_the_first_answer(node: Node) -> None:
    await node.register(registration(1))
    headers = {"Idempotency-Key": "step-1"}
    first = await node.step(cert_no(1), {"type": "reinstated"}, headers=headers)
    await node.step(cert_no(1), SUSPEND)
    again = await node.step(cert_no(1), {"type": "reinstated"}, headers=headers)
    assert (again[0], again[1]) == (first[0], first[1])


async def test_idempotency_key_reused_for_another_request_answers_422(node: Node) -> None:
    headers = {"Idempotency-Key": "req-1"}
    await node.register(registration(1), headers=headers)
    code, body, _ = await node.register(registration(2), headers=headers)
    assert (code, _error(body)["details"][0]["field"]) == (422, "Idempotency-Key")


async def test_malformed_idempotency_key_answers_400(node: Node) -> None:
    code, body, _ = await node.register(registration(1), headers={"Idempotency-Key": "x" * 300})
    assert (code, _error(body)["code"]) == (400, "bad_request")


# -- a failure of the node's own is a 500 with a logged error id ---------------------------------


async def _answer_with_broken_reads(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, dict[str, Any]]:
    async def broken(*args: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(node.app[REGISTRY], "read", broken)
    code, body, _ = await node.call("GET", f"/v1/registrations/{cert_no(1)}", role="viewer")
    return code, _error(body)


async def test_an_unexpected_failure_answers_500_internal(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, error = await _answer_with_broken_reads(node, monkeypatch)
    assert (code, error["code"]) == (500, "internal")


async def test_an_unexpected_failure_does_not_show_its_text(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, error = await _answer_with_broken_reads(node, monkeypatch)
    assert "disk on fire" not in error["message"]


async def test_an_unexpected_failure_is_logged_under_the_id_it_answers(
    node: Node, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="province_node.web.middleware"):
        _, error = await _answer_with_broken_reads(node, monkeypatch)
    error_id = error["message"].rsplit(" ", 1)[-1]
    assert any(error_id in r.getMessage() and r.exc_info for r in caplog.records)


# -- no request makes the node answer 500 --------------------------------------------------------

ODD_VALUES: list[Any] = [
    None,
    0,
    -1,
    1.5,
    1e300,
    True,
    "",
    " ",
    "x" * 5000,
    "\u0000",
    "😀",
    [],
    {},
    [None],
    {"a": {"b": {"c": []}}},
]


def _odd_bodies() -> list[tuple[str, dict[str, Any]]]:
    base = registration(7)
    out: list[tuple[str, dict[str, Any]]] = []
    for key in list(base):
        for value in ODD_VALUES:
            out.append((key, {**base, key: value}))
        for sub in ("primary_institution", "issuing_authority"):
            if key == sub:
                for inner in base[sub]:
                    for value in ODD_VALUES:
                        out.append((f"{sub}.{inner}", _set(base, f"{sub}.{inner}", value)))
    return out


async def test_no_registration_body_makes_the_node_answer_500(node: Node) -> None:
    failures = []
    for label, body in _odd_bodies():
        code, answer, _ = await node.register(body)
        if code >= 500:
            failures.append((label, code, answer))
    assert failures == []


async def test_no_step_body_makes_the_node_answer_500(node: Node) -> None:
    await node.register(registration(1))
    steps = [
        {"type": "suspended", "reason": "r", "until": NEXT_YEAR},
        {
            "type": "site_filed",
            "institution": SECOND_INSTITUTION.model_dump(),
            "start_date": "2026-01-01",
        },
        {"type": "change_requested", "changes": {"scopes": ["外科专业"]}},
        {"type": "revoked", "reason": "r", "decision_no": "n"},
        {"type": "assessed", "result": "fail", "assessed_on": "2026-01-01"},
    ]
    failures = []
    for step in steps:
        for key in step:
            for value in ODD_VALUES:
                code, answer, _ = await node.step(cert_no(1), {**step, key: value})
                if code >= 500:
                    failures.append((step["type"], key, value, code, answer))
    assert failures == []


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=101",
        "limit=abc",
        "status=sleeping",
        "cursor=%%%",
        "cursor=YWJj",
        "name=%00",
        "institution=%25_%5C",
    ],
)
async def test_bad_search_query_never_answers_500(node: Node, query: str) -> None:
    code, _, _ = await node.call("GET", f"/v1/registrations?{query}", role="viewer")
    assert code in (200, 422)
