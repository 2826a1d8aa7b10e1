"""The public query routes over HTTP, against the hub's Store on a real DuckDB file."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from national_hub.config import HubSettings, ProvinceSettings
from national_hub.query.receipts import verify_receipt
from national_hub.store.schema import RECORDS_DDL
from national_hub.store.store import Store
from national_hub.sync.status import SyncMonitor
from national_hub.tuning import HubTuning, IngestTuning
from national_hub.web.app import create_app
from national_hub.web.appkeys import RATE_LIMITER, SETTINGS
from national_hub.web.ratelimit import RateLimiter
from schemas.federation import KafkaSection
from schemas.record import PracticeSite, Record
from schemas.samples import PRIMARY_INSTITUTION, SECOND_INSTITUTION, sample_record
from schemas.signing import Signer, generate_keypair
from schemas.vocab import PROVINCES, Category, Status
from tests.national_hub.records import insert_record

MISSING = "509999999999999"
RECORDS: list[tuple[str, Record]] = [
    ("50", sample_record(cert_no="500000000000001", name="张伟")),
    ("11", sample_record(cert_no="110000000000002", name="张伟")),
    (
        "50",
        sample_record(
            cert_no="500000000000003",
            name="王小明",
            primary_institution=SECOND_INSTITUTION,
            practice_sites=(
                PracticeSite(**PRIMARY_INSTITUTION.model_dump(), start_date=date(2026, 1, 1)),
            ),
        ),
    ),
    (
        "50",
        sample_record(
            cert_no="500000000000004",
            name="李娜",
            category=Category.TCM,
            scopes=("中医专业",),
            status=Status.CANCELLED,
            status_reason="本人主动申请",
        ),
    ),
]


def insert(con: duckdb.DuckDBPyConnection, province: str, record: Record) -> None:
    insert_record(con, province, record, version=2)


def hub_settings(tmp_path: Path) -> HubSettings:
    """Real settings for provinces 50 and 11 (their Kafka and node URLs answer nothing)."""
    signer = Signer.load(generate_keypair()[0])
    province_key = Signer.load(generate_keypair()[0]).verifier()
    provinces = {
        code: ProvinceSettings(
            code, PROVINCES[code], "http://127.0.0.1:9", tmp_path / "p.pub", province_key
        )
        for code in ("50", "11")
    }
    return HubSettings(
        source=tmp_path / "federation.toml",
        host="127.0.0.1",
        port=0,
        db_path=tmp_path / "national.duckdb",
        signing_key_path=tmp_path / "hub.key",
        signer=signer,
        ops_token_sha256="0" * 64,
        provinces=provinces,
        kafka=KafkaSection(bootstrap="127.0.0.1:9"),
        # Decoding in a thread: no worker processes to spawn for an ingest that never starts.
        tuning=HubTuning(ingest=IngestTuning(decode_workers=0)),
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A hub store file holding RECORDS."""
    path = tmp_path / "national.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(RECORDS_DDL)
        for province, record in RECORDS:
            insert(con, province, record)
    Store.open(path).close()  # the store's own tables beside records
    return path


@pytest.fixture
async def app(tmp_path: Path, db: Path) -> web.Application:
    """The hub's app over RECORDS (its Kafka and nodes are unreachable: ingest just retries)."""
    return create_app(hub_settings(tmp_path))


@pytest.fixture
async def client(app: web.Application) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def get_json(client: TestClient, path: str, status: int = 200, **params: str) -> Any:
    response = await client.get(path, params=params)
    assert response.status == status, await response.text()
    return await response.json(content_type=None)


async def post_verify(client: TestClient, body: Any, status: int = 200) -> Any:
    response = await client.post("/v1/verify", data=json.dumps(body))
    assert response.status == status, await response.text()
    return await response.json()


# --- search ----------------------------------------------------------------------------------


async def test_search_finds_by_pinyin(client: TestClient) -> None:
    body = await get_json(client, "/v1/physicians", name="zhang wei")
    assert [i["cert_no"] for i in body["items"]] == ["110000000000002", "500000000000001"]


async def test_search_items_are_public(client: TestClient) -> None:
    item = (await get_json(client, "/v1/physicians", name="张伟", province="50"))["items"][0]
    assert "person_ref" not in item
    assert (item["province"], item["record_version"], item["synced_at"]) == (
        "50",
        2,
        "2026-11-22T04:00:01.000Z",
    )


async def test_search_freshness_is_unknown_before_a_province_is_heard(client: TestClient) -> None:
    body = await get_json(client, "/v1/physicians", name="张伟")
    assert body["freshness"] == {
        "50": {"lag_seconds": None, "status": "unknown"},
        "11": {"lag_seconds": None, "status": "unknown"},
    }


async def test_search_freshness_comes_from_the_sync_monitor(
    app: web.Application, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = {"50": {"lag_seconds": 0.4, "status": "ok"}}
    monkeypatch.setattr(SyncMonitor, "freshness_summary", lambda self: summary)
    async with TestClient(TestServer(app)) as client:
        body = await get_json(client, "/v1/physicians", name="张伟")
    assert body["freshness"]["50"] == {"lag_seconds": 0.4, "status": "ok"}


async def test_search_pages_through_next_cursor(client: TestClient) -> None:
    first = await get_json(client, "/v1/physicians", institution="重医附一院", limit="1")
    second = await get_json(
        client, "/v1/physicians", institution="重医附一院", limit="1", cursor=first["next_cursor"]
    )
    assert first["items"][0]["cert_no"] != second["items"][0]["cert_no"]


async def test_search_without_name_or_institution_is_400(client: TestClient) -> None:
    body = await get_json(client, "/v1/physicians", 400, province="50")
    assert body["error"]["details"][0]["field"] == "name"


async def test_search_with_tampered_cursor_is_400(client: TestClient) -> None:
    body = await get_json(client, "/v1/physicians", 400, name="张伟", cursor="WzAsIjEiLCJ4Il0")
    assert body["error"]["details"][0]["field"] == "cursor"


# --- lookup neighbours, FHIR, roster ---------------------------------------------------------


async def test_lookup_route_beside_search_is_not_shadowed(client: TestClient) -> None:
    body = await get_json(client, "/v1/physicians/500000000000001")
    assert body["cert_no"] == "500000000000001"


async def test_fhir_returns_practitioner(client: TestClient) -> None:
    response = await client.get("/v1/physicians/500000000000001/fhir")
    body = await response.json(content_type="application/fhir+json")
    assert (response.status, body["resourceType"], body["meta"]["versionId"]) == (
        200,
        "Practitioner",
        "2",
    )


async def test_fhir_of_unknown_cert_is_404_with_explanation(client: TestClient) -> None:
    body = await get_json(client, f"/v1/physicians/{MISSING}/fhir", 404)
    assert body["explanation"]["state"] == "unknown_to_province"


async def test_fhir_with_malformed_cert_no_is_400(client: TestClient) -> None:
    body = await get_json(client, "/v1/physicians/12345/fhir", 400)
    assert body["error"]["details"][0]["field"] == "cert_no"


async def test_fhir_with_a_trailing_newline_is_400(client: TestClient) -> None:
    body = await get_json(client, "/v1/physicians/500000000000001%0A/fhir", 400)
    assert body["error"]["details"][0]["field"] == "cert_no"


async def test_roster_lists_primary_then_filed_sites(client: TestClient) -> None:
    body = await get_json(client, f"/v1/institutions/{PRIMARY_INSTITUTION.org_code}/physicians")
    assert [(i["cert_no"], i["relation"]) for i in body["items"]] == [
        ("110000000000002", "primary"),
        ("500000000000001", "primary"),
        ("500000000000004", "primary"),
        ("500000000000003", "practice_site"),
    ]


async def test_roster_with_bad_org_code_is_400(client: TestClient) -> None:
    body = await get_json(client, "/v1/institutions/91110000101623741A/physicians", 400)
    assert body["error"]["details"][0]["field"] == "org_code"


@pytest.mark.parametrize("suffix", ["%0A", "%20", "%0D%0A"])
async def test_roster_org_code_is_matched_whole(client: TestClient, suffix: str) -> None:
    path = f"/v1/institutions/{PRIMARY_INSTITUTION.org_code}{suffix}/physicians"
    body = await get_json(client, path, 400)
    assert body["error"]["details"][0]["field"] == "org_code"


# --- verify and hub key ----------------------------------------------------------------------


async def test_verify_consistent_receipt_checks_against_hub_key(client: TestClient) -> None:
    answer = await post_verify(
        client, {"cert_no": "500000000000001", "name": "张 伟", "institution": "重医附一院"}
    )
    key = await get_json(client, "/.well-known/regsync/hub-key")
    assert answer["verdict"] == "consistent"
    assert verify_receipt(answer["receipt"], key["public_key"])


async def test_verify_mismatch_names_fields(client: TestClient) -> None:
    answer = await post_verify(
        client, {"cert_no": "500000000000001", "name": "张伟", "category": "口腔"}
    )
    assert (answer["verdict"], answer["fields"]) == (
        "mismatch",
        {"name": "match", "category": "mismatch"},
    )


async def test_verify_not_found_carries_explanation(client: TestClient) -> None:
    answer = await post_verify(client, {"cert_no": MISSING, "name": "张伟", "province": "50"})
    assert (
        answer["verdict"],
        answer["explanation"]["state"],
        answer["explanation"]["province"],
    ) == (
        "not_found",
        "unknown_to_province",
        "50",
    )


async def test_verify_answers_about_the_number_it_names(client: TestClient) -> None:
    # A number copied with its line break is read as printed; the answer, its explanation and
    # its receipt all name the one number that was looked up.
    answer = await post_verify(client, {"cert_no": MISSING + "\n", "name": "张伟"})
    assert answer["cert_no"] == MISSING
    assert f"certificate {MISSING}" in answer["explanation"]["reason"]
    body = await post_verify(client, {"cert_no": MISSING + "\x00", "name": "张伟"}, status=422)
    assert body["error"]["details"][0]["field"] == "cert_no"
    body = await post_verify(
        client, {"cert_no": MISSING, "name": "张伟", "province": "5\n0"}, status=422
    )
    assert body["error"]["details"][0]["field"] == "province"


async def test_verify_invalid_body_is_422_naming_field(client: TestClient) -> None:
    body = await post_verify(client, {"cert_no": "1", "name": "张伟"}, status=422)
    assert body["error"]["details"][0]["field"] == "cert_no"


async def test_hub_key_document_has_kid_and_pem(client: TestClient, app: web.Application) -> None:
    # CONTRACT §5's {kid, public_key} (the current key); the key set (`keys`) is checked in
    # tests/national_hub/query/test_receipt_keys.py.
    key = await get_json(client, "/.well-known/regsync/hub-key")
    signer = app[SETTINGS].signer
    assert (key["kid"], key["public_key"]) == (signer.kid, signer.public_pem)


async def test_hub_key_document_lists_the_current_key_in_its_key_set(
    client: TestClient, app: web.Application
) -> None:
    key = await get_json(client, "/.well-known/regsync/hub-key")
    signer = app[SETTINGS].signer
    assert [(k["kid"], k["public_key"], k["status"]) for k in key["keys"]] == [
        (signer.kid, signer.public_pem, "current")
    ]


# --- stats -----------------------------------------------------------------------------------


async def test_stats_groups_counts(client: TestClient) -> None:
    body = await get_json(client, "/v1/stats", group_by="province,status")
    assert body["items"] == [
        {"province": "11", "status": "active", "count": 1},
        {"province": "50", "status": "active", "count": 2},
        {"province": "50", "status": "cancelled", "count": 1},
    ]


async def test_stats_without_group_by_gives_total(client: TestClient) -> None:
    assert (await get_json(client, "/v1/stats"))["total"] == 4


async def test_stats_with_unknown_group_is_400(client: TestClient) -> None:
    body = await get_json(client, "/v1/stats", 400, group_by="province,name")
    assert body["error"]["details"][0]["field"] == "group_by"


# --- rate limiting ---------------------------------------------------------------------------


async def test_client_over_budget_gets_429_with_retry_after(app: web.Application) -> None:
    app[RATE_LIMITER] = RateLimiter(rate=0.5, burst=1)
    async with TestClient(TestServer(app)) as client:
        await get_json(client, "/v1/stats")
        response = await client.get("/v1/stats")
        body = await response.json()
    assert (response.status, response.headers["Retry-After"], body["error"]["code"]) == (
        429,
        "2",
        "rate_limited",
    )


async def test_disabled_rate_limiter_lets_bursts_through(app: web.Application) -> None:
    app[RATE_LIMITER] = RateLimiter(rate=0.5, burst=1, enabled=False)
    async with TestClient(TestServer(app)) as client:
        statuses = [(await client.get("/v1/stats")).status for _ in range(5)]
    assert statuses == [200] * 5


async def test_non_public_paths_are_not_rate_limited(app: web.Application) -> None:
    app[RATE_LIMITER] = RateLimiter(rate=0.5, burst=1)
    async with TestClient(TestServer(app)) as client:
        statuses = [(await client.get("/healthz")).status for _ in range(5)]
    assert statuses == [200] * 5
