"""The API's refusals in Chinese (field_messages), as the parse words them today."""

from __future__ import annotations

from typing import Any

import pytest
from nodekit import id_number, registration

from province_node.errors import InvalidRequest
from province_node.lifecycle import register
from province_node.requests import parse_registration
from province_node.web.console.field_messages import chinese, conflict, csv_header, refusal
from schemas.checksums import credit_code_check_char, resident_id_check_char


def _refused(body: dict[str, Any]) -> dict[str, str]:
    """Each refused field of body → its Chinese sentence, from the real parse."""
    with pytest.raises(InvalidRequest) as caught:
        parse_registration(body)
    return {d["field"]: chinese(d["field"], d["message"], body) for d in caught.value.details}


def _wrong_last(text: str, good: str) -> str:
    return text[:17] + ("1" if good != "1" else "2")


def test_a_wrong_id_check_character_says_which_it_should_be() -> None:
    number = id_number(1)
    wrong = _wrong_last(number, number[17])
    expected = resident_id_check_char(number[:17])
    assert _refused(registration(1, id_number=wrong)) == {
        "id_number": f"身份证号码校验位不正确（按 GB 11643 计算应为 {expected}），请核对最后一位。"
    }


def test_a_wrong_credit_code_check_character_says_which_it_should_be() -> None:
    body = registration(1)
    code = body["primary_institution"]["org_code"]
    body["primary_institution"] = {
        **body["primary_institution"],
        "org_code": _wrong_last(code, code[17]),
    }
    expected = credit_code_check_char(code[:17])
    assert _refused(body) == {
        "primary_institution.org_code": (
            f"统一社会信用代码校验位不正确（按 GB 32100 计算应为 {expected}），请核对最后一位。"
        )
    }


def test_a_short_id_number_asks_for_18_characters() -> None:
    assert _refused(registration(1, id_number="5001")) == {
        "id_number": "身份证号码应为 18 位，请核对位数。"
    }


def test_an_impossible_birth_date_is_named() -> None:
    assert _refused(registration(1, id_number="500103" + "19991332" + "0011"))["id_number"] == (
        "身份证号码中的出生日期（第 7–14 位）不是有效日期，请核对。"
    )


def test_a_gender_against_the_id_number_says_what_it_should_be() -> None:
    assert _refused(registration(1, gender="female")) == {
        "gender": "性别与身份证号码不符：身份证号码第 17 位为奇数，应为男。请核对性别或身份证号码。"
    }


def test_a_scope_of_another_category_names_the_category() -> None:
    assert _refused(registration(1, scopes=["口腔专业"])) == {
        "scopes": "“口腔专业”不属于临床类别的执业范围，请在该类别的范围中选择。"
    }


def test_four_scopes_are_too_many() -> None:
    body = registration(1, scopes=["内科专业", "外科专业", "儿科专业", "急救医学专业"])
    assert _refused(body) == {"scopes": "执业范围最多选择 3 项，您选择了 4 项。"}


def test_no_scope_asks_for_one() -> None:
    assert _refused(registration(1, scopes=[])) == {"scopes": "请至少选择一项执业范围。"}


def test_a_region_code_of_five_digits_asks_for_six() -> None:
    body = registration(1, issuing_authority={"name": "渝中区卫健委", "region_code": "50010"})
    assert _refused(body) == {
        "issuing_authority.region_code": (
            "发证机关所在地区划代码应为 6 位数字（GB/T 2260 行政区划代码）。"
        )
    }


def test_a_date_in_another_format_asks_for_year_month_day() -> None:
    assert _refused(registration(1, registered_on="20200315")) == {
        "registered_on": "注册日期请按“年-月-日”填写，例如 2020-03-15。"
    }


def test_a_future_date_is_refused() -> None:
    assert _refused(registration(1, registered_on="2999-01-01")) == {
        "registered_on": "注册日期不能晚于今天。"
    }


def test_a_missing_field_asks_for_it() -> None:
    body = registration(1)
    del body["name"]
    assert _refused(body) == {"name": "请填写姓名。"}


def test_a_wrong_choice_asks_to_choose_from_the_list() -> None:
    assert _refused(registration(1, level="chief")) == {"level": "请从列表中选择执业级别。"}


def test_a_transfer_from_this_province_says_to_register_here() -> None:
    body = registration(1, transfer_from={"province": "50", "cert_no": "500000000000001"})
    # The rule is the lifecycle's, not the parse's.
    req = parse_registration(body)
    with pytest.raises(InvalidRequest) as caught:
        register(None, None, req, province="50", person_ref="0" * 64)
    detail = caught.value.details[0]
    assert chinese(detail["field"], detail["message"]).startswith("转出省份不能是本省")


def test_an_unknown_message_never_shows_english() -> None:
    assert chinese("name", "some new rule") == "姓名填写有误，请核对。"


def test_a_person_holding_a_registration_is_the_id_numbers_conflict() -> None:
    message = (
        "this ID number already holds registration 500000000000001 in province 50 (status "
        "active); a person holds one registration per province"
    )
    assert conflict("duplicate_person", message)[0] == "id_number"


def test_an_existing_certificate_is_the_cert_nos_conflict() -> None:
    message = "certificate 500000000000001 is already registered here (status active); only"
    assert conflict("conflict", message)[0] == "cert_no"


def test_a_short_csv_row_is_named_in_chinese() -> None:
    assert refusal("14 cells but the header has 13", []) == "此行有 14 列，表头只有 13 列。"


def test_a_refusal_with_details_joins_their_sentences() -> None:
    details = [{"field": "name", "message": "Field required"}]
    assert refusal("name: Field required", details) == "请填写姓名。"


def test_a_header_missing_a_column_names_it() -> None:
    assert csv_header(["name"], []) == "文件第一行（表头）缺少列 name。请使用下方说明的表头。"


def test_a_right_header_has_nothing_to_say() -> None:
    assert csv_header([], []) is None
