"""GB 11643 resident ID and GB 32100 credit code check characters."""

from __future__ import annotations

import pytest

from schemas.checksums import (
    credit_code_check_char,
    credit_code_valid,
    resident_id_check_char,
    resident_id_gender,
    resident_id_valid,
)
from schemas.vocab import Gender

VALID_ID = "11010519491231002X"
VALID_CREDIT_CODES = ["91110000101623741K", "91350100M000100Y43"]


def test_sample_resident_id_is_valid() -> None:
    assert resident_id_valid(VALID_ID)


def test_resident_id_check_char_reproduces_sample() -> None:
    assert resident_id_check_char(VALID_ID[:17]) == "X"


def test_resident_id_with_lower_case_x_is_valid() -> None:
    assert resident_id_valid(VALID_ID.lower())


@pytest.mark.parametrize(
    "corrupt",
    [
        "110105194912310021",  # wrong check character
        "11010519491231003X",  # one sequence digit changed
        "11010519941231002X",  # two digits transposed
        "11010519491231002",  # 17 characters
        "11010519491231002XX",  # 19 characters
        "1101051949123100AX",  # letter in the body
    ],
)
def test_corrupted_resident_id_is_invalid(corrupt: str) -> None:
    assert not resident_id_valid(corrupt)


def test_resident_id_with_impossible_birth_date_is_invalid() -> None:
    body = "11010519490230002"  # 30 February
    assert not resident_id_valid(body + resident_id_check_char(body))


def test_resident_id_even_sequence_is_female() -> None:
    assert resident_id_gender(VALID_ID) is Gender.FEMALE


def test_resident_id_odd_sequence_is_male() -> None:
    body = "11010519491231001"
    assert resident_id_gender(body + resident_id_check_char(body)) is Gender.MALE


def test_resident_id_gender_refuses_invalid_id() -> None:
    with pytest.raises(ValueError, match="not a valid resident ID"):
        resident_id_gender("110105194912310021")


def test_resident_id_check_char_refuses_short_body() -> None:
    with pytest.raises(ValueError, match="17 digits"):
        resident_id_check_char("1101051949")


@pytest.mark.parametrize("code", VALID_CREDIT_CODES)
def test_sample_credit_codes_are_valid(code: str) -> None:
    assert credit_code_valid(code)


@pytest.mark.parametrize("code", VALID_CREDIT_CODES)
def test_credit_code_check_char_reproduces_samples(code: str) -> None:
    assert credit_code_check_char(code[:17]) == code[17]


def test_credit_code_check_of_31_becomes_0() -> None:
    # A zero body sums to 0, so 31 - 0 = 31 must wrap to "0".
    assert credit_code_check_char("0" * 17) == "0"


@pytest.mark.parametrize(
    "corrupt",
    [
        "91110000101623741L",  # wrong check character
        "91110000101623742K",  # one body character changed
        "91110000101623714K",  # two characters transposed
        "91350100m000100Y43",  # lower case is not in the alphabet
        "9111000010162374IK",  # I is excluded from the alphabet
        "91110000101623741",  # 17 characters
    ],
)
def test_corrupted_credit_code_is_invalid(corrupt: str) -> None:
    assert not credit_code_valid(corrupt)


def test_credit_code_check_char_names_a_foreign_character() -> None:
    with pytest.raises(ValueError, match="'O' is not in the GB 32100 alphabet"):
        credit_code_check_char("9111000010162374O")
