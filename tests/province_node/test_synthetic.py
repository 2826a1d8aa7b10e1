"""Synthetic registrations: determinism, validity against the schemas, realism, writers."""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from province_node.synthetic import (
    BIRTH_FIRST,
    BIRTH_LAST,
    CSV_HEADER,
    RARE_CHARS,
    REGISTERED_FIRST,
    REGISTERED_LAST,
    institutions,
    issuing_authority_for,
    registrations,
    write_csv,
    write_jsonl,
)
from schemas.checksums import (
    credit_code_valid,
    resident_id_birth_date,
    resident_id_gender,
    resident_id_valid,
)
from schemas.person_ref import person_ref
from schemas.record import Institution, IssuingAuthority, Record
from schemas.vocab import MAX_SCOPES, PROVINCES, SCOPES_BY_CATEGORY, Category, Gender

SECRET = b"test-secret-test-secret-test-sec"
# Provinces with something special: famous hospitals (50, 11, 44), many minority names (65, 54),
# the Corps (66) whose region codes sit under 65, a small province (46).
SPECIAL = ("50", "11", "44", "65", "54", "66", "46")
SAMPLE = 20_000


@pytest.fixture(scope="module")
def large() -> list[dict[str, Any]]:
    return list(registrations("50", SAMPLE, seed=11))


@pytest.fixture(scope="module")
def mixed() -> list[dict[str, Any]]:
    """A few thousand rows from each special province."""
    return [row for p in SPECIAL for row in registrations(p, 3000, seed=3, start=1000)]


def region_prefixes(province: str) -> tuple[str, ...]:
    # GB/T 2260 has no code for the Corps: its cities are 6590xx, its HQ sits in 乌鲁木齐.
    return ("6590", "6501") if province == "66" else (province,)


def province_of(row: dict[str, Any]) -> str:
    return str(row["cert_no"][:2])


# --- determinism -----------------------------------------------------------------------------


def test_same_seed_gives_same_rows() -> None:
    assert list(registrations("44", 1500, seed=42)) == list(registrations("44", 1500, seed=42))


def test_batches_agree_with_one_run() -> None:
    whole = list(registrations("11", 2000, seed=9))
    # Boundaries inside and across the generator's internal blocks.
    bounds = [0, 1, 7, 511, 512, 513, 1100, 1999, 2000]
    batched = [
        row for lo, hi in pairwise(bounds) for row in registrations("11", hi - lo, seed=9, start=lo)
    ]
    assert batched == whole


def test_different_seeds_give_different_people() -> None:
    a = [r["id_number"] for r in registrations("50", 200, seed=1)]
    b = [r["id_number"] for r in registrations("50", 200, seed=2)]
    assert a != b


def test_institutions_are_deterministic() -> None:
    assert institutions("13") == institutions("13")


# --- validity --------------------------------------------------------------------------------


def test_rows_are_valid_records(mixed: list[dict[str, Any]]) -> None:
    for row in mixed:
        fields = {k: v for k, v in row.items() if k != "id_number"}
        Record(status="active", person_ref=person_ref(SECRET, row["id_number"]), **fields)
        Institution(**row["primary_institution"])
        IssuingAuthority(**row["issuing_authority"])


def test_row_shape_is_the_post_body(large: list[dict[str, Any]]) -> None:
    row = large[0]
    assert set(row) == {
        "cert_no",
        "name",
        "gender",
        "id_number",
        "level",
        "category",
        "scopes",
        "primary_institution",
        "issuing_authority",
        "registered_on",
    }
    assert set(row["primary_institution"]) == {"org_code", "name", "region_code"}
    assert set(row["issuing_authority"]) == {"name", "region_code"}
    assert isinstance(row["scopes"], list)
    date.fromisoformat(row["registered_on"])


def test_id_numbers_pass_gb11643_and_match_gender_and_province(
    mixed: list[dict[str, Any]],
) -> None:
    for row in mixed:
        id_number = row["id_number"]
        assert resident_id_valid(id_number), id_number
        assert resident_id_gender(id_number) == Gender(row["gender"]), id_number
        birth = resident_id_birth_date(id_number)
        assert birth is not None and BIRTH_FIRST <= birth <= BIRTH_LAST, id_number
        assert id_number.startswith(region_prefixes(province_of(row))), id_number


def test_registration_dates_in_range_and_after_age_22(mixed: list[dict[str, Any]]) -> None:
    for row in mixed:
        registered = date.fromisoformat(row["registered_on"])
        birth = resident_id_birth_date(row["id_number"])
        assert birth is not None
        assert REGISTERED_FIRST <= registered <= REGISTERED_LAST
        assert registered - birth >= timedelta(days=22 * 365)


def test_scopes_follow_category_rules(mixed: list[dict[str, Any]]) -> None:
    county_orgs = {
        i["org_code"] for p in SPECIAL for i in institutions(p) if i["level"] == "county"
    }
    for row in mixed:
        scopes = row["scopes"]
        category = Category(row["category"])
        assert 1 <= len(scopes) <= MAX_SCOPES and len(set(scopes)) == len(scopes)
        assert SCOPES_BY_CATEGORY[category].issuperset(scopes)
        if len(scopes) > 1:
            assert row["primary_institution"]["org_code"] in county_orgs, row
        if category is Category.DENTAL:
            assert scopes == ["口腔专业"]
        if category is Category.PUBLIC_HEALTH:
            assert scopes == ["公共卫生类别专业"]
            assert row["primary_institution"]["name"].endswith("疾病预防控制中心")


def test_issuing_authority_is_the_institutions_commission(mixed: list[dict[str, Any]]) -> None:
    for row in mixed:
        authority = row["issuing_authority"]
        expected = issuing_authority_for(province_of(row), row["primary_institution"]["org_code"])
        assert authority == expected
        assert authority["name"].endswith("卫生健康委员会")


def test_institutions_have_valid_codes_inside_the_province() -> None:
    for province in PROVINCES:
        listed = institutions(province)
        assert listed, province
        assert len({i["org_code"] for i in listed}) == len(listed)
        for inst in listed:
            assert credit_code_valid(inst["org_code"]), inst
            # Public institutions are 12 (机构编制); private clinics 91 and hospitals 52.
            assert inst["org_code"][:2] in ("12", "52", "91"), inst
            assert inst["org_code"][2:8] == inst["region_code"], inst
            assert inst["region_code"].startswith(region_prefixes(province)), inst
            assert inst["level"] in ("county", "city", "province")


def test_famous_hospitals_carry_their_abbreviations() -> None:
    expected = {
        "50": {
            "重庆医科大学附属第一医院": "重医附一院",
            "重庆医科大学附属第二医院": "重医附二院",
            "陆军军医大学第一附属医院": "西南医院",
        },
        "11": {"北京协和医院": "协和", "北京大学第一医院": "北大医院"},
        "44": {"中山大学附属第一医院": "中山一院", "广东省人民医院": "省医"},
    }
    for province, names in expected.items():
        by_name = {i["name"]: i for i in institutions(province)}
        for name, abbreviation in names.items():
            assert by_name[name]["abbreviation"] == abbreviation
            assert by_name[name]["org_code"].startswith("12")


def test_generated_institutions_cover_every_kind() -> None:
    names = [i["name"] for i in institutions("51")]
    for suffix in (
        "人民医院",
        "中医院",
        "妇幼保健院",
        "社区卫生服务中心",
        "卫生院",
        "口腔医院",
        "疾病预防控制中心",
    ):
        assert any(n.endswith(suffix) for n in names), suffix


# --- uniqueness ------------------------------------------------------------------------------


def test_cert_no_and_id_number_unique(large: list[dict[str, Any]]) -> None:
    assert len({r["cert_no"] for r in large}) == SAMPLE
    assert len({r["id_number"] for r in large}) == SAMPLE


def test_cert_no_unique_across_provinces_and_seeds() -> None:
    certs = [
        r["cert_no"] for p in ("50", "11") for seed in (0, 1) for r in registrations(p, 500, seed)
    ]
    assert len(set(certs)) == len(certs)


# --- realism ---------------------------------------------------------------------------------


def test_rare_characters_occur(large: list[dict[str, Any]]) -> None:
    chars = {c for r in large for c in r["name"]}
    assert chars & set(RARE_CHARS)
    assert any(ord(c) > 0xFFFF for c in chars), "no character outside the BMP"
    assert any(0x3400 <= ord(c) <= 0x4DBF for c in chars), "no CJK Extension A character"


def test_middle_dot_names_occur_more_in_xinjiang(large: list[dict[str, Any]]) -> None:
    dotted = sum("·" in r["name"] for r in large) / len(large)
    xinjiang = list(registrations("65", 5000, seed=11))
    dotted_65 = sum("·" in r["name"] for r in xinjiang) / len(xinjiang)
    assert 0.002 < dotted < 0.02
    assert dotted_65 > 0.15


def test_common_names_repeat(large: list[dict[str, Any]]) -> None:
    assert Counter(r["name"] for r in large)["张伟"] >= 2


def test_mix_is_close_to_the_target(large: list[dict[str, Any]]) -> None:
    n = len(large)
    categories = Counter(r["category"] for r in large)
    for category, share in (("clinical", 0.70), ("tcm", 0.17), ("dental", 0.07)):
        assert abs(categories[category] / n - share) < 0.02, category
    assert 0.15 < sum(r["level"] == "assistant" for r in large) / n < 0.25
    assert 0.45 < sum(r["gender"] == "male" for r in large) / n < 0.55


# --- API edges -------------------------------------------------------------------------------


def test_rejects_unknown_province_and_negative_counts() -> None:
    with pytest.raises(ValueError):
        registrations("99", 1)
    with pytest.raises(ValueError):
        registrations("50", -1)
    with pytest.raises(ValueError):
        institutions("00")


def test_rows_are_independent_copies() -> None:
    first = next(iter(registrations("50", 1)))
    first["primary_institution"]["name"] = "changed"
    again = next(iter(registrations("50", 1)))
    assert again["primary_institution"]["name"] != "changed"


# --- writers ---------------------------------------------------------------------------------


def test_jsonl_round_trip(tmp_path: Path, large: list[dict[str, Any]]) -> None:
    rows = large[:500]
    path = tmp_path / "rows.jsonl"
    assert write_jsonl(path, rows) == len(rows)
    text = path.read_text("utf-8")
    assert [json.loads(line) for line in text.splitlines()] == rows


def test_csv_round_trip(tmp_path: Path, large: list[dict[str, Any]]) -> None:
    rows = large[:500]
    path = tmp_path / "rows.csv"
    assert write_csv(path, rows) == len(rows)
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        read = list(reader)
    assert header == list(CSV_HEADER)
    assert len(read) == len(rows)
    for line, row in zip(read, rows, strict=True):
        record = dict(zip(header, line, strict=True))
        assert record["cert_no"] == row["cert_no"]
        assert record["name"] == row["name"]
        assert record["id_number"] == row["id_number"]
        assert record["scopes"].split(";") == row["scopes"]
        assert record["primary_org_code"] == row["primary_institution"]["org_code"]
        assert record["primary_org_name"] == row["primary_institution"]["name"]
        assert record["primary_region_code"] == row["primary_institution"]["region_code"]
        assert record["issuing_authority_name"] == row["issuing_authority"]["name"]
        assert record["issuing_authority_region_code"] == row["issuing_authority"]["region_code"]
        assert record["registered_on"] == row["registered_on"]
        assert (record["gender"], record["level"], record["category"]) == (
            row["gender"],
            row["level"],
            row["category"],
        )
