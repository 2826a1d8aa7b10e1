"""The public record, its field types and the controlled vocabularies."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from schemas import vocab
from schemas.errors import SchemaError
from schemas.record import (
    IdNumber,
    PendingChange,
    PracticeSite,
    ProvinceCert,
    Transfer,
    validate_scopes,
)
from schemas.samples import PRIMARY_INSTITUTION, sample_record
from schemas.vocab import Category


def schema_error(**overrides: Any) -> SchemaError:
    """Build a record with overrides and return the SchemaError it raises."""
    with pytest.raises(ValidationError) as info:
        sample_record(**overrides)
    return SchemaError.from_validation_error(info.value)


def only_detail(err: SchemaError) -> dict[str, str]:
    assert len(err.details) == 1, err.details
    return err.details[0]


def test_sample_record_is_valid() -> None:
    assert sample_record().cert_no == "110500000012345"


@pytest.mark.parametrize("name", ["买买提·艾力", "王𬱖", "欧阳娜娜"])
def test_names_with_middle_dot_and_rare_characters_are_kept(name: str) -> None:
    assert sample_record(name=name).name == name


def test_name_with_control_character_is_refused() -> None:
    detail = only_detail(schema_error(name="王\x00明"))
    assert detail == {"field": "name", "message": "must not contain control characters"}


def test_blank_name_is_refused() -> None:
    assert only_detail(schema_error(name="   "))["field"] == "name"


# Invisible and format characters: a name holding one looks like another name and is not found
# by it (王<ZWSP>五 is not 王五), and bidi controls reorder what a reader sees.
INVISIBLE = {
    "zero-width space": "\u200b",
    "zero-width joiner": "\u200d",
    "soft hyphen": "\u00ad",
    "byte order mark": "\ufeff",
    "right-to-left override": "\u202e",
    "right-to-left isolate": "\u2067",
    "right-to-left mark": "\u200f",
    "line separator": "\u2028",
    "lone surrogate": "\ud800",
}


@pytest.mark.parametrize("char", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_name_with_an_invisible_or_format_character_is_refused(char: str) -> None:
    assert only_detail(schema_error(name=f"王{char}五"))["field"] == "name"


@pytest.mark.parametrize("char", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_institution_name_with_an_invisible_or_format_character_is_refused(char: str) -> None:
    inst = PRIMARY_INSTITUTION.model_dump() | {"name": f"重庆医科大学{char}附属第一医院"}
    assert only_detail(schema_error(primary_institution=inst))["field"] == (
        "primary_institution.name"
    )


def test_issuing_authority_name_with_a_bidi_override_is_refused() -> None:
    authority = {"name": "重庆市\u202e渝中区卫生健康委员会", "region_code": "500103"}
    assert only_detail(schema_error(issuing_authority=authority))["field"] == (
        "issuing_authority.name"
    )


def test_name_with_three_stacked_combining_marks_is_refused() -> None:
    detail = only_detail(schema_error(name="王\u0301\u0301\u0301五"))
    assert detail == {
        "field": "name",
        "message": "must not stack more than 2 combining marks on one character",
    }


def test_name_with_two_combining_marks_is_kept() -> None:
    # Vietnamese and pinyin-with-tones names written decomposed carry up to two marks.
    assert sample_record(name="Nguyê\u0303n").name == "Nguyê\u0303n"


@pytest.mark.parametrize("name", ["王<b>五</b>", "<script>", "王>五"])
def test_name_with_angle_brackets_is_refused(name: str) -> None:
    assert only_detail(schema_error(name=name))["field"] == "name"


@pytest.mark.parametrize("name", ["阿依古丽·买买提", "扎西·多吉", "王　五", "王𬱖", "䶮"])
def test_real_names_stay_valid(name: str) -> None:
    assert sample_record(name=name).name == name


def test_cert_no_of_14_digits_names_the_field() -> None:
    detail = only_detail(schema_error(cert_no="11050000001234"))
    assert detail == {"field": "cert_no", "message": "must be 15 digits"}


def test_full_width_digits_are_not_a_cert_no() -> None:
    assert only_detail(schema_error(cert_no="１１０５００００００１２３４５"))["field"] == "cert_no"


def test_wrong_credit_code_checksum_names_the_nested_field() -> None:
    bad = PRIMARY_INSTITUTION.model_dump() | {"org_code": "91110000101623741A"}
    detail = only_detail(schema_error(primary_institution=bad))
    assert detail == {
        "field": "primary_institution.org_code",
        "message": "credit code check character is wrong",
    }


def test_lower_case_credit_code_is_normalised() -> None:
    inst = PRIMARY_INSTITUTION.model_dump() | {"org_code": "91350100m000100y43"}
    assert sample_record(primary_institution=inst).primary_institution.org_code == (
        "91350100M000100Y43"
    )


def test_scope_from_another_category_names_scope_and_category() -> None:
    detail = only_detail(schema_error(category="dental", scopes=("内科专业",)))
    assert detail == {
        "field": "scopes",
        "message": "scope 内科专业 is not registrable under category dental (口腔)",
    }


def test_four_scopes_are_refused() -> None:
    scopes = ("内科专业", "外科专业", "儿科专业", "妇产科专业")
    detail = only_detail(schema_error(scopes=scopes))
    assert detail == {"field": "scopes", "message": "at most 3 scopes are allowed, got 4"}


def test_duplicate_scope_is_refused() -> None:
    detail = only_detail(schema_error(scopes=("内科专业", "内科专业")))
    assert detail["message"] == "scope 内科专业 is listed twice"


def test_no_scope_is_refused() -> None:
    assert only_detail(schema_error(scopes=()))["message"] == "at least one scope is required"


def test_general_practice_is_registrable_under_tcm() -> None:
    assert sample_record(category="tcm", scopes=("全科医学专业",)).category is Category.TCM


@pytest.mark.parametrize("category", list(Category))
def test_other_scope_is_registrable_under_every_category(category: Category) -> None:
    assert validate_scopes(category, [vocab.OTHER_SCOPE]) == (vocab.OTHER_SCOPE,)


def test_validate_scopes_without_category_refuses_unknown_scope() -> None:
    with pytest.raises(ValueError, match="unknown scope '牙科'"):
        validate_scopes(None, ["牙科"])


def test_pending_scope_change_must_fit_current_category() -> None:
    change = PendingChange(scopes=("口腔专业",))
    assert only_detail(schema_error(pending_change=change))["field"] == "pending_change"


def test_empty_pending_change_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least one of primary_institution"):
        PendingChange(requested_at=date(2026, 1, 1))


def test_practice_site_ending_before_it_starts_names_the_field() -> None:
    site = PRIMARY_INSTITUTION.model_dump() | {
        "start_date": date(2026, 5, 1),
        "end_date": date(2026, 4, 1),
    }
    detail = only_detail(schema_error(practice_sites=(site,)))
    assert detail["field"] == "practice_sites.0.end_date"


def test_open_ended_practice_site_is_valid() -> None:
    site = PracticeSite(**PRIMARY_INSTITUTION.model_dump(), start_date=date(2026, 5, 1))
    assert site.end_date is None


def test_unknown_field_is_refused() -> None:
    assert only_detail(schema_error(id_number="11010519491231002X"))["field"] == "id_number"


def test_record_is_immutable() -> None:
    record = sample_record()
    with pytest.raises(ValidationError):
        record.name = "李四"


def test_person_ref_must_be_lower_hex() -> None:
    assert only_detail(schema_error(person_ref="A" * 64))["field"] == "person_ref"


def test_unknown_province_names_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        ProvinceCert(province="99", cert_no="110500000012345")
    assert SchemaError.from_validation_error(info.value).details == [
        {"field": "province", "message": "unknown province code '99'"}
    ]


def test_corps_is_a_province_node() -> None:
    assert ProvinceCert(province="66", cert_no="110500000012345").province == "66"


def test_transfer_needs_both_origin_fields() -> None:
    with pytest.raises(ValidationError, match="must be set together"):
        Transfer(from_province="50")


def test_id_number_with_wrong_checksum_says_so() -> None:
    with pytest.raises(ValidationError, match="check character is wrong"):
        TypeAdapter(IdNumber).validate_python("110105194912310021")


def test_id_number_with_impossible_date_says_so() -> None:
    with pytest.raises(ValidationError, match="impossible birth date"):
        TypeAdapter(IdNumber).validate_python("110105194902300020")


def test_id_number_lower_case_x_is_normalised() -> None:
    assert TypeAdapter(IdNumber).validate_python("11010519491231002x") == "11010519491231002X"


def test_scope_counts_per_category_match_domain() -> None:
    sizes = {c: len(s) for c, s in vocab.SCOPES_BY_CATEGORY.items()}
    assert sizes == {
        Category.CLINICAL: 18,
        Category.TCM: 8,
        Category.DENTAL: 2,
        Category.PUBLIC_HEALTH: 2,
    }


def test_there_are_32_province_nodes() -> None:
    assert len(vocab.PROVINCES) == 32


@pytest.mark.parametrize(
    ("enum", "labels"),
    [
        (vocab.Level, vocab.LEVEL_LABELS),
        (vocab.Category, vocab.CATEGORY_LABELS),
        (vocab.Status, vocab.STATUS_LABELS),
        (vocab.Gender, vocab.GENDER_LABELS),
        (vocab.CancelReason, vocab.CANCEL_REASON_LABELS),
        (vocab.EventType, vocab.EVENT_TYPE_LABELS),
    ],
)
def test_every_code_has_a_chinese_label(enum: type[Enum], labels: dict[Any, str]) -> None:
    assert set(labels) == set(enum)
