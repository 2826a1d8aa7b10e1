"""The answer-model helpers of schemas.openapi: enums documented in place, members left out."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from schemas.openapi import Answer, absent, inline_enum


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


class Paint(Answer):
    colour: Annotated[Colour, inline_enum(Colour)]
    note: str | None = Field(default=None, exclude_if=absent)


def test_an_inline_enum_is_documented_in_place_with_the_field_title() -> None:
    schema = Paint.model_json_schema(mode="serialization")["properties"]["colour"]
    assert schema == {"enum": ["red", "blue"], "title": "Colour", "type": "string"}


def test_an_inline_enum_validates_to_the_member() -> None:
    assert Paint(colour="red").colour is Colour.RED  # type: ignore[arg-type]


def test_an_inline_enum_dumps_its_value() -> None:
    assert Paint(colour=Colour.BLUE).model_dump_json() == '{"colour":"blue"}'


def test_a_member_absent_when_none_is_left_out() -> None:
    assert "note" not in Paint(colour=Colour.RED).model_dump(mode="json")


def test_a_member_absent_when_none_is_sent_when_set() -> None:
    assert Paint(colour=Colour.RED, note="n").model_dump(mode="json")["note"] == "n"
