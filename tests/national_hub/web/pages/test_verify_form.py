"""The verify form: read as POST /v1/verify's body, refused fields in Chinese."""

from __future__ import annotations

from typing import Any

import pytest
from multidict import MultiDict
from pydantic import ValidationError

from national_hub.query.verify import VerifyRequest
from national_hub.web.pages.verify_form import field_errors, form_values, request_data

CERT = "500000000000001"


def values(**fields: Any) -> dict[str, Any]:
    form: MultiDict[str] = MultiDict()
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            form.add(name, item)
    return form_values(form)


def refused(**fields: Any) -> dict[str, str]:
    typed = values(**fields)
    with pytest.raises(ValidationError) as caught:
        VerifyRequest.model_validate(request_data(typed))
    return field_errors(caught.value, typed)


def test_blank_optional_fields_are_not_presented() -> None:
    typed = values(cert_no=CERT, name="张伟", institution=" ", category="", province="")
    assert request_data(typed) == {"cert_no": CERT, "name": "张伟"}


def test_ticked_scopes_are_sent_as_a_list() -> None:
    typed = values(cert_no=CERT, name="张伟", scopes=["内科专业", "外科专业"])
    assert request_data(typed)["scopes"] == ["内科专业", "外科专业"]


def test_missing_cert_no_is_named_in_chinese() -> None:
    assert refused(cert_no="", name="张伟") == {
        "cert_no": "请填写执业证书编码（证书上的 15 位数字）。"
    }


def test_malformed_cert_no_says_fifteen_digits() -> None:
    assert "15 位数字" in refused(cert_no="12345", name="张伟")["cert_no"]


def test_missing_name_is_named() -> None:
    assert refused(cert_no=CERT, name="  ") == {"name": "请填写姓名。"}


def test_more_than_three_scopes_is_named() -> None:
    scopes = ["内科专业", "外科专业", "儿科专业", "妇产科专业"]
    assert "最多选择 3 项" in refused(cert_no=CERT, name="张伟", scopes=scopes)["scopes"]


def test_unknown_scope_is_named() -> None:
    assert refused(cert_no=CERT, name="张伟", scopes=["火星医学"]) == {
        "scopes": "请从列表中选择执业范围。"
    }


def test_unknown_category_is_named() -> None:
    assert refused(cert_no=CERT, name="张伟", category="兽医") == {
        "category": "请从列表中选择执业类别。"
    }


def test_unknown_province_is_named() -> None:
    assert refused(cert_no=CERT, name="张伟", province="99") == {"province": "请从列表中选择省份。"}


def test_each_refused_field_has_its_message() -> None:
    assert set(refused(cert_no="", name="", category="x")) == {"cert_no", "name", "category"}
