"""FHIR R4 Practitioner rendering of a published record."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import orjson
import pytest

from national_hub.query.fhir import (
    CERT_NO_SYSTEM,
    EXT_PRIMARY_INSTITUTION,
    split_han_name,
    to_practitioner,
)
from schemas.record import PracticeSite
from schemas.samples import SECOND_INSTITUTION, sample_record
from schemas.vocab import Status

SYNCED_AT = datetime(2026, 11, 22, 4, 10, 0, 123000, tzinfo=UTC)


def practitioner(**overrides: Any) -> dict[str, Any]:
    record = sample_record(**overrides).model_dump(mode="json")
    return to_practitioner(record, "50", 3, SYNCED_AT)


def test_resource_type_and_id() -> None:
    resource = practitioner()
    assert (resource["resourceType"], resource["id"]) == ("Practitioner", "110500000012345")


def test_meta_carries_version_and_sync_time() -> None:
    meta = practitioner()["meta"]
    assert (meta["versionId"], meta["lastUpdated"]) == ("3", "2026-11-22T04:10:00.123Z")


def test_identifier_is_the_certificate_code() -> None:
    identifier = practitioner()["identifier"][0]
    assert (identifier["system"], identifier["value"]) == (CERT_NO_SYSTEM, "110500000012345")


def test_active_record_is_active() -> None:
    assert practitioner()["active"] is True


def test_cancelled_record_is_not_active() -> None:
    assert practitioner(status=Status.CANCELLED, status_reason="本人主动申请")["active"] is False


def test_han_name_is_split_into_family_and_given() -> None:
    name = practitioner()["name"][0]
    assert (name["text"], name["family"], name["given"]) == ("王小明", "王", ["小明"])


@pytest.mark.parametrize(
    ("name", "split"),
    [
        ("欧阳娜娜", ("欧阳", "娜娜")),
        ("诸葛亮", ("诸葛", "亮")),
        ("司马光", ("司马", "光")),
        ("张伟", ("张", "伟")),
        ("买买提·艾力", None),
        ("John Smith", None),
        ("王", None),
    ],
)
def test_split_han_name(name: str, split: tuple[str, str] | None) -> None:
    assert split_han_name(name) == split


def test_middle_dot_name_is_text_only() -> None:
    name = practitioner(name="买买提·艾力")["name"][0]
    assert name == {"use": "official", "text": "买买提·艾力"}


def test_gender_is_fhir_administrative_gender() -> None:
    assert practitioner()["gender"] == "male"


def test_qualifications_show_level_category_and_scopes_in_chinese() -> None:
    displays = [q["code"]["text"] for q in practitioner()["qualification"]]
    assert displays == ["执业医师", "临床", "内科专业"]


def test_qualification_issuer_and_period() -> None:
    qualification = practitioner()["qualification"][0]
    assert qualification["issuer"]["display"] == "重庆市渝中区卫生健康委员会"
    assert qualification["period"] == {"start": "2020-03-15"}


def test_primary_institution_extension() -> None:
    ext = next(e for e in practitioner()["extension"] if e["url"] == EXT_PRIMARY_INSTITUTION)
    assert ext["valueReference"]["display"] == "重庆医科大学附属第一医院"


def test_practice_site_extension_carries_period() -> None:
    site = PracticeSite(**SECOND_INSTITUTION.model_dump(), start_date=date(2026, 1, 1))
    exts = practitioner(practice_sites=(site,))["extension"]
    site_ext = next(e for e in exts if e["url"].endswith("practice-site"))
    assert site_ext["extension"][1] == {"url": "period", "valuePeriod": {"start": "2026-01-01"}}


def test_no_person_ref_or_id_number_in_resource() -> None:
    record = sample_record()
    text = orjson.dumps(to_practitioner(record.model_dump(mode="json"), "50", 1, SYNCED_AT))
    assert record.person_ref.encode() not in text and b"person_ref" not in text
