"""Certificate verification: field comparison, verdicts, explanations and signed receipts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import duckdb
import pytest

from national_hub.errors import BadRequest, UnprocessableBody
from national_hub.query.aliases import AliasTable
from national_hub.query.receipts import ReceiptSigner, receipt_payload, verify_receipt
from national_hub.query.verify import VerifyRequest, compare, verify_certificate
from national_hub.store.schema import RECORDS_DDL
from national_hub.store.store import Store
from schemas.record import PendingChange, PracticeSite, Record
from schemas.samples import PRIMARY_INSTITUTION, SECOND_INSTITUTION, credit_code, sample_record
from schemas.signing import Signer, generate_keypair
from schemas.vocab import Status
from tests.national_hub.records import insert_record

CERT = "500000000000001"
CHANGING = "500000000000002"
SITE_HOLDER = "500000000000003"
SUSPENDED = "500000000000004"
MISSING = "509999999999999"
OLD_SITE = PracticeSite(
    org_code=credit_code("12500000000000999"),
    name="重庆市第九人民医院",
    region_code="500109",
    start_date=date(2020, 1, 1),
    end_date=date(2021, 1, 1),
)
RECORDS: list[Record] = [
    sample_record(cert_no=CERT, name="买买提·艾力"),
    sample_record(
        cert_no=CHANGING,
        status=Status.CHANGING,
        pending_change=PendingChange(primary_institution=SECOND_INSTITUTION),
    ),
    sample_record(
        cert_no=SITE_HOLDER,
        primary_institution=SECOND_INSTITUTION,
        practice_sites=(
            PracticeSite(**PRIMARY_INSTITUTION.model_dump(), start_date=date(2026, 1, 1)),
            OLD_SITE,
        ),
    ),
    sample_record(
        cert_no=SUSPENDED,
        status=Status.SUSPENDED,
        status_reason="违反诊疗规范",
        suspended_until=date(2027, 5, 1),
    ),
]
EXPLANATION = {"visible": False, "state": "unknown_to_province", "reason": "stub"}


def insert(con: duckdb.DuckDBPyConnection, province: str, record: Record) -> None:
    insert_record(con, province, record, version=3)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """The hub's Store over a DuckDB file holding RECORDS."""
    path = tmp_path_factory.mktemp("verify") / "national.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(RECORDS_DDL)
        for record in RECORDS:
            insert(con, "50", record)
    hub_store = Store.open(path)
    yield hub_store
    hub_store.close()


@pytest.fixture(scope="module")
def aliases() -> AliasTable:
    return AliasTable.load()


@pytest.fixture(scope="module")
def receipts() -> ReceiptSigner:
    return ReceiptSigner.load(generate_keypair()[0])


def request(**fields: Any) -> VerifyRequest:
    return VerifyRequest.model_validate({"cert_no": CERT, "name": "买买提·艾力", **fields})


async def row_of(store: Store, cert_no: str) -> dict[str, Any] | None:
    sql = (
        "SELECT cert_no, province, record_version, record, superseded_by_province, "
        "superseded_by_cert_no FROM records WHERE cert_no = ?"
    )
    return await store.fetch_one(sql, [cert_no])


async def explain_stub(cert_no: str) -> dict[str, Any]:
    return {**EXPLANATION, "cert_no": cert_no}


async def verify(store: Store, aliases: AliasTable, receipts: ReceiptSigner, **fields: Any):
    return await verify_certificate(request(**fields), store, aliases, receipts, explain_stub)


# --- compare -------------------------------------------------------------------------------


async def test_all_fields_matching_is_consistent(store: Store, aliases: AliasTable) -> None:
    presented = request(
        name="买买提艾力",
        institution="重医附一院",
        category="临床",
        scopes=["内科专业"],
        province="重庆市",
    )
    outcome = compare(presented, await row_of(store, CERT), aliases)
    assert (outcome.verdict, set(outcome.fields.values())) == ("consistent", {"match"})


async def test_differing_name_is_a_mismatch_naming_it(store: Store, aliases: AliasTable) -> None:
    presented = request(name="买买提", category="clinical")
    outcome = compare(presented, await row_of(store, CERT), aliases)
    assert (outcome.verdict, outcome.fields) == (
        "mismatch",
        {"name": "mismatch", "category": "match"},
    )


async def test_institution_by_credit_code_matches(store: Store, aliases: AliasTable) -> None:
    presented = request(institution=PRIMARY_INSTITUTION.org_code)
    assert compare(presented, await row_of(store, CERT), aliases).fields["institution"] == "match"


async def test_other_institution_is_a_mismatch(store: Store, aliases: AliasTable) -> None:
    outcome = compare(request(institution="华西医院"), await row_of(store, CERT), aliases)
    assert outcome.fields["institution"] == "mismatch"


async def test_filed_site_matches(store: Store, aliases: AliasTable) -> None:
    presented = request(cert_no=SITE_HOLDER, name="王小明", institution="重医附一院")
    outcome = compare(presented, await row_of(store, SITE_HOLDER), aliases)
    assert outcome.fields["institution"] == "match"


async def test_ended_site_does_not_match(store: Store, aliases: AliasTable) -> None:
    presented = request(cert_no=SITE_HOLDER, name="王小明", institution=OLD_SITE.name)
    outcome = compare(presented, await row_of(store, SITE_HOLDER), aliases)
    assert outcome.fields["institution"] == "mismatch"


async def test_pending_institution_is_mismatch_with_hint(store: Store, aliases: AliasTable) -> None:
    presented = request(cert_no=CHANGING, name="王小明", institution="重庆市渝中区人民医院")
    outcome = compare(presented, await row_of(store, CHANGING), aliases)
    assert outcome.verdict == "mismatch"
    assert "institution matches a pending change" in outcome.notes


async def test_different_scopes_are_a_mismatch(store: Store, aliases: AliasTable) -> None:
    outcome = compare(request(scopes=["外科"]), await row_of(store, CERT), aliases)
    assert outcome.fields["scopes"] == "mismatch"


async def test_other_province_is_a_mismatch(store: Store, aliases: AliasTable) -> None:
    outcome = compare(request(province="11"), await row_of(store, CERT), aliases)
    assert outcome.fields["province"] == "mismatch"


async def test_inactive_status_is_noted(store: Store, aliases: AliasTable) -> None:
    outcome = compare(
        request(cert_no=SUSPENDED, name="王小明"), await row_of(store, SUSPENDED), aliases
    )
    assert outcome.notes == ["registration status is suspended (暂停执业)"]


async def test_registration_not_in_force_is_never_consistent(
    store: Store, aliases: AliasTable
) -> None:
    outcome = compare(
        request(cert_no=SUSPENDED, name="王小明"), await row_of(store, SUSPENDED), aliases
    )
    assert (outcome.verdict, outcome.fields["status"]) == ("mismatch", "mismatch")


def test_missing_record_is_not_found(aliases: AliasTable) -> None:
    assert compare(request(), None, aliases).verdict == "not_found"


# --- verify_certificate ----------------------------------------------------------------------


async def test_consistent_answer_carries_verifiable_receipt(
    store: Store, aliases: AliasTable, receipts: ReceiptSigner
) -> None:
    answer = await verify(store, aliases, receipts)
    assert answer["verdict"] == "consistent"
    assert verify_receipt(answer["receipt"], receipts.hub_key_document()["public_key"])


async def test_mismatch_answer_carries_verifiable_receipt(
    store: Store, aliases: AliasTable, receipts: ReceiptSigner
) -> None:
    answer = await verify(store, aliases, receipts, name="张伟")
    assert (answer["verdict"], answer["fields"]) == ("mismatch", {"name": "mismatch"})
    assert verify_receipt(answer["receipt"], receipts.hub_key_document()["public_key"])


async def test_not_found_answer_explains_and_carries_receipt(
    store: Store, aliases: AliasTable, receipts: ReceiptSigner
) -> None:
    answer = await verify(store, aliases, receipts, cert_no=MISSING)
    assert (answer["verdict"], answer["explanation"]) == (
        "not_found",
        {**EXPLANATION, "cert_no": MISSING},
    )
    assert verify_receipt(answer["receipt"], receipts.hub_key_document()["public_key"])


async def test_receipt_payload_states_verdict_and_version(
    store: Store, aliases: AliasTable, receipts: ReceiptSigner
) -> None:
    payload = json.loads((await verify(store, aliases, receipts))["receipt"]["payload"])
    assert {k: payload[k] for k in ("verdict", "cert_no", "record_version")} == {
        "verdict": "consistent",
        "cert_no": CERT,
        "record_version": 3,
    }


# --- receipts --------------------------------------------------------------------------------


def test_receipt_payload_is_canonical_json(receipts: ReceiptSigner) -> None:
    as_of = datetime(2026, 11, 22, 4, 10, 0, 123456, tzinfo=UTC)
    receipt = receipts.sign(receipt_payload("consistent", CERT, 3, as_of, status="active"))
    assert receipt["payload"] == (
        '{"as_of":"2026-11-22T04:10:00.123Z","cert_no":"500000000000001",'
        '"record_version":3,"status":"active","verdict":"consistent"}'
    )


def test_receipt_carries_the_hub_kid(receipts: ReceiptSigner) -> None:
    receipt = receipts.sign(receipt_payload("not_found", MISSING, None))
    assert receipt["kid"] == receipts.hub_key_document()["kid"] == receipts.kid


def test_tampered_receipt_payload_fails(receipts: ReceiptSigner) -> None:
    receipt = receipts.sign(receipt_payload("mismatch", CERT, 3))
    forged = {**receipt, "payload": receipt["payload"].replace("mismatch", "consistent")}
    assert not verify_receipt(forged, receipts.hub_key_document()["public_key"])


def test_receipt_fails_against_another_key(receipts: ReceiptSigner) -> None:
    receipt = receipts.sign(receipt_payload("consistent", CERT, 3))
    assert not verify_receipt(receipt, Signer.load(generate_keypair()[0]).public_pem)


def test_receipt_with_garbled_signature_fails(receipts: ReceiptSigner) -> None:
    receipt = {**receipts.sign(receipt_payload("consistent", CERT, 3)), "signature": "@@"}
    assert not verify_receipt(receipt, receipts.hub_key_document()["public_key"])


# --- request validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "张伟"}, "cert_no"),
        ({"cert_no": "12345", "name": "张伟"}, "cert_no"),
        ({"cert_no": CERT}, "name"),
        ({"cert_no": CERT, "name": "张伟", "category": "surgery"}, "category"),
        ({"cert_no": CERT, "name": "张伟", "scopes": ["不存在专业"]}, "scopes"),
        ({"cert_no": CERT, "name": "张伟", "province": "99"}, "province"),
        ({"cert_no": CERT, "name": "张伟", "gender": "male"}, "gender"),
    ],
)
def test_invalid_body_is_422_naming_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(UnprocessableBody) as exc:
        VerifyRequest.from_body(json.dumps(body).encode())
    assert (exc.value.status, exc.value.details[0]["field"]) == (422, field)


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]"])
def test_non_object_body_is_400(body: bytes) -> None:
    with pytest.raises(BadRequest) as exc:
        VerifyRequest.from_body(body)
    assert exc.value.details[0]["field"] == "body"


def test_cert_no_with_spaces_is_accepted() -> None:
    body = json.dumps({"cert_no": "50000 00000 00001", "name": "x"}).encode()
    parsed = VerifyRequest.from_body(body)
    assert parsed.cert_no == CERT
