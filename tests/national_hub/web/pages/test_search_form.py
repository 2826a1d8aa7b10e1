"""The search form's pure parts: values shown again, refused fields in Chinese, paging."""

from __future__ import annotations

from national_hub.web.pages.search_form import (
    NAME_TOO_SHORT,
    NEED_NAME_OR_INSTITUTION,
    field_errors,
    page_href,
    submitted,
)


def test_the_next_page_keeps_the_filled_in_fields() -> None:
    assert page_href({"name": "张伟", "province": "50", "scope": ""}, "abc") == (
        "/?name=%E5%BC%A0%E4%BC%9F&province=50&cursor=abc"
    )


def test_the_next_page_keeps_the_page_size() -> None:
    assert page_href({"name": "张伟", "limit": "2"}, "abc") == (
        "/?name=%E5%BC%A0%E4%BC%9F&limit=2&cursor=abc"
    )


def test_a_preset_province_alone_is_not_a_sent_form() -> None:
    assert not submitted({"province": "44"})


def test_a_short_name_is_told_its_minimum() -> None:
    assert field_errors([{"field": "name"}], {"name": "张"}) == {"name": NAME_TOO_SHORT}


def test_nothing_to_search_by_asks_for_name_or_institution() -> None:
    assert field_errors([{"field": "name"}], {"name": " "}) == {"name": NEED_NAME_OR_INSTITUTION}


def test_an_unknown_field_is_a_form_message() -> None:
    assert "form" in field_errors([{"field": "limit_x"}], {})
