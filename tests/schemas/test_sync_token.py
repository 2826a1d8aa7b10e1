"""The sync token "<province>:<seq>": one form for the node that builds it and the hub."""

from __future__ import annotations

import re

import pytest

from schemas.sync_token import PATTERN, SyncToken


def test_parse_reads_province_and_seq() -> None:
    assert SyncToken.parse("50:1234") == SyncToken("50", 1234)


def test_str_is_the_wire_form() -> None:
    assert str(SyncToken("50", 1234)) == "50:1234"


def test_parse_reads_back_what_str_wrote() -> None:
    token = SyncToken("66", 999_999_999_999_999_999)
    assert SyncToken.parse(str(token)) == token


@pytest.mark.parametrize(
    "text",
    [
        "50:1\n",  # `$` would let a trailing newline through
        " 50:1",
        "50-1",
        "5:1",
        "500:1",
        "50:",
        ":1",
        "50:1234567890123456789",  # 19 digits: beyond a signed 64-bit seq's safe range
        "５０:1",  # full-width digits
        "50:١٢",  # Arabic-Indic digits, which `\d` would take
        "50:-1",
        "",
    ],
)
def test_parse_refuses_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="sync token"):
        SyncToken.parse(text)


@pytest.mark.parametrize("text", ["50:1", "11:000123", "66:999999999999999999"])
def test_the_documented_pattern_takes_what_parse_takes(text: str) -> None:
    SyncToken.parse(text)
    assert re.search(PATTERN, text)


@pytest.mark.parametrize("text", ["50-1", "500:1", "50:1234567890123456789", "50:"])
def test_the_documented_pattern_refuses_what_parse_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        SyncToken.parse(text)
    assert not re.search(PATTERN, text)


def test_a_token_is_frozen() -> None:
    token = SyncToken("50", 1)
    with pytest.raises(AttributeError):
        token.seq = 2  # type: ignore[misc]
