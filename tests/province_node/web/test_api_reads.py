"""Reads of the operator API: one record, search, sync state, metrics, liveness."""

from __future__ import annotations

import re
from typing import Any

import pytest
from nodekit import NEXT_YEAR, THIRD_INSTITUTION, Node, cert_no, eventually, id_number, registration


async def _seed(node: Node) -> None:
    """Five registrations: three 王 (two at the first hospital), one 李, one cancelled 张."""
    bodies = [
        registration(1, name="王小明"),
        registration(2, name="王小红", male=False),
        registration(3, name="王大山", primary_institution=THIRD_INSTITUTION),
        registration(4, name="李四"),
        registration(5, name="张三"),
    ]
    for body in bodies:
        code, answer, _ = await node.register(body)
        assert code == 201, answer
    code, answer, _ = await node.step(cert_no(5), {"type": "cancelled", "reason": "death"})
    assert code == 200, answer


async def _search(node: Node, query: str, role: str = "viewer") -> dict[str, Any]:
    code, body, _ = await node.call("GET", f"/v1/registrations?{query}", role=role)
    assert code == 200, body
    return dict(body)


def _certs(page: dict[str, Any]) -> list[str]:
    return [item["record"]["cert_no"] for item in page["items"]]


@pytest.mark.parametrize("role", ["registrar", "viewer"])
async def test_operators_see_the_id_number(node: Node, role: str) -> None:
    await node.register(registration(1))
    code, body, _ = await node.call("GET", f"/v1/registrations/{cert_no(1)}", role=role)
    assert (code, body["id_number"]) == (200, id_number(1))


async def test_hub_sees_the_record_without_the_id_number(node: Node) -> None:
    await node.register(registration(1))
    code, body, _ = await node.call("GET", f"/v1/registrations/{cert_no(1)}", role="hub")
    assert (code, "id_number" in body, body["record"]["cert_no"]) == (200, False, cert_no(1))


async def test_record_carries_its_latest_sync_token(node: Node) -> None:
    await node.register(registration(1))
    await node.register(registration(2))
    _, body, resp = await node.call("GET", f"/v1/registrations/{cert_no(1)}")
    assert (body["sync_token"], resp.headers["X-Sync-Token"]) == ("50:1", "50:1")


async def test_unknown_record_answers_404(node: Node) -> None:
    code, body, _ = await node.call("GET", f"/v1/registrations/{cert_no(9)}")
    assert (code, body["error"]["code"]) == (404, "not_found")


async def test_search_by_name_prefix(node: Node) -> None:
    await _seed(node)
    assert _certs(await _search(node, "name=王")) == [cert_no(1), cert_no(2), cert_no(3)]


async def test_search_by_exact_name(node: Node) -> None:
    await _seed(node)
    assert _certs(await _search(node, "name=王小红")) == [cert_no(2)]


async def test_search_by_institution_name_substring(node: Node) -> None:
    await _seed(node)
    assert _certs(await _search(node, "institution=大渡口")) == [cert_no(3)]


async def test_search_by_institution_org_code_in_lower_case(node: Node) -> None:
    await _seed(node)
    code = THIRD_INSTITUTION["org_code"].lower()
    assert _certs(await _search(node, f"institution={code}")) == [cert_no(3)]


async def test_search_finds_filed_practice_sites(node: Node) -> None:
    await _seed(node)
    site = {"type": "site_filed", "institution": THIRD_INSTITUTION, "start_date": "2026-01-01"}
    await node.step(cert_no(4), site)
    assert _certs(await _search(node, "institution=大渡口")) == [cert_no(3), cert_no(4)]


async def test_search_by_status(node: Node) -> None:
    await _seed(node)
    assert _certs(await _search(node, "status=cancelled")) == [cert_no(5)]


async def test_search_filters_combine(node: Node) -> None:
    await _seed(node)
    assert _certs(await _search(node, "name=王&institution=大渡口&status=active")) == [cert_no(3)]


async def test_search_pages_with_a_cursor_without_repeats(node: Node) -> None:
    await _seed(node)
    seen: list[str] = []
    page = await _search(node, "limit=2")
    seen += _certs(page)
    while page["next_cursor"]:
        page = await _search(node, f"limit=2&cursor={page['next_cursor']}")
        seen += _certs(page)
    assert seen == [cert_no(i) for i in range(1, 6)]


async def test_search_limit_defaults_to_20(node: Node) -> None:
    for i in range(1, 23):
        await node.register(registration(i))
    page = await _search(node, "")
    assert (len(page["items"]), page["next_cursor"] is not None) == (20, True)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("status=asleep", "status"),
        ("cursor=bm9wZQ", "cursor"),
    ],
)
async def test_bad_search_parameter_answers_422_naming_it(
    node: Node, query: str, field: str
) -> None:
    code, body, _ = await node.call("GET", f"/v1/registrations?{query}", role="viewer")
    assert (code, body["error"]["details"][0]["field"]) == (422, field)


async def test_hub_search_results_hide_the_id_number(node: Node) -> None:
    await _seed(node)
    page = await _search(node, "name=王", role="hub")
    assert all("id_number" not in item for item in page["items"])


async def test_sync_status_has_the_contract_fields(node: Node) -> None:
    status = await node.status()
    assert set(status) == {
        "province",
        "committed_seq",
        "published_seq",
        "outbox_backlog",
        "oldest_unpublished_at",
        "kafka",
    }
    assert set(status["kafka"]) == {"connected", "last_error", "last_success_at"}


async def test_sync_status_reaches_zero_backlog_once_published(node: Node) -> None:
    await _seed(node)

    async def drained() -> bool:
        s = await node.status()
        return s["committed_seq"] == 6 and s["outbox_backlog"] == 0

    await eventually(drained)


async def test_sync_record_of_an_unknown_certificate_does_not_exist(node: Node) -> None:
    code, body, _ = await node.call("GET", f"/v1/sync/records/{cert_no(9)}", role="hub")
    assert (code, body["exists"], body["latest_seq"]) == (200, False, None)


async def test_sync_record_reports_where_the_latest_event_landed(node: Node) -> None:
    await node.register(registration(1))
    await node.step(cert_no(1), {"type": "reinstated"})  # refused: not a new event
    await node.step(cert_no(1), {"type": "suspended", "reason": "违规", "until": NEXT_YEAR})

    async def published() -> bool:
        _, body, _ = await node.call("GET", f"/v1/sync/records/{cert_no(1)}", role="hub")
        return bool(body["published"])

    await eventually(published)
    _, body, _ = await node.call("GET", f"/v1/sync/records/{cert_no(1)}", role="hub")
    assert (
        body["latest_seq"],
        body["record_version"],
        body["partition"] is not None,
        body["offset"] is not None,
    ) == (2, 2, True, True)


async def test_metrics_expose_the_contract_names(node: Node) -> None:
    await node.register(registration(1))
    code, text, _ = await node.call("GET", "/metrics", role=None)
    names = set(re.findall(r"^(regsync_node_\w+?)(?:\{|\s)", text, re.MULTILINE))
    assert code == 200
    assert {
        "regsync_node_events_committed_total",
        "regsync_node_events_published_total",
        "regsync_node_outbox_backlog",
        "regsync_node_oldest_unpublished_age_seconds",
        "regsync_node_publish_errors_total",
    } <= names


async def test_metrics_count_committed_events_by_type(node: Node) -> None:
    await node.register(registration(1))
    _, text, _ = await node.call("GET", "/metrics", role=None)
    assert 'regsync_node_events_committed_total{type="registered"} 1.0' in text


async def test_healthz_needs_no_token(node: Node) -> None:
    code, body, _ = await node.call("GET", "/healthz", role=None)
    assert (code, body["status"]) == (200, "ok")
