"""Suggestions from the serving index: names by hanzi or pinyin prefix, institutions by
prefix, with counts capped; each a few index seeks."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator

import pytest

from national_hub.index import suggest
from national_hub.index.apply import UPSERT
from national_hub.index.schema import DDL
from national_hub.index.suggest import Suggestion, institution_suggestions, name_suggestions
from national_hub.ingest.names import normalise_name, pinyin_key

HOSPITAL = "重庆医科大学附属第一医院"
CLINIC = "重庆市渝中区人民医院"
_certs = iter(range(1, 10_000))


def add(con: sqlite3.Connection, name: str, institution: str = HOSPITAL) -> None:
    cert = f"50{next(_certs):013d}"
    record = json.dumps({"cert_no": cert, "name": name}, ensure_ascii=False)
    org = "12500000450400476Y" if institution == HOSPITAL else "12500103MB1234567X"
    con.execute(
        UPSERT,
        [
            cert, "50", 1, 1, "active", normalise_name(name), pinyin_key(name), "clinical",
            '["内科专业"]', org, institution, "[]", None, 0, None, None, record,
        ],
    )  # fmt: skip


@pytest.fixture
def con() -> Iterator[sqlite3.Connection]:
    con = sqlite3.connect(":memory:", isolation_level=None)
    for statement in DDL:
        con.execute(statement)
    for name in ["张伟", "张伟", "张伟", "章伟", "张三丰", "买买提·艾力", "王芳"]:
        add(con, name)
    add(con, "李娜", CLINIC)
    yield con
    con.close()


def test_a_hanzi_prefix_suggests_each_name_once_with_its_count(con: sqlite3.Connection) -> None:
    assert name_suggestions(con, "name_norm", "张", 8) == [
        Suggestion("name", "张三丰", 1, False),
        Suggestion("name", "张伟", 3, False),
    ]


def test_a_pinyin_prefix_suggests_the_hanzi_names_it_stands_for(con: sqlite3.Connection) -> None:
    texts = [(s.text, s.count) for s in name_suggestions(con, "name_pinyin", "zhangw", 8)]
    assert texts == [("张伟", 3), ("章伟", 1)]


def test_a_name_is_suggested_as_registered_with_its_middle_dot(con: sqlite3.Connection) -> None:
    assert [s.text for s in name_suggestions(con, "name_norm", "买买提", 8)] == ["买买提·艾力"]


def test_suggestions_stop_at_the_limit(con: sqlite3.Connection) -> None:
    assert len(name_suggestions(con, "name_pinyin", "z", 1)) == 1


def test_counts_stop_at_the_cap(con: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(suggest, "COUNT_CAP", 2)
    assert name_suggestions(con, "name_norm", "张伟", 8) == [Suggestion("name", "张伟", 2, True)]


def test_an_institution_prefix_suggests_full_names_with_counts(con: sqlite3.Connection) -> None:
    # In the index's order (code points: 医 U+533B before 市 U+5E02).
    assert institution_suggestions(con, "重庆", 8) == [
        Suggestion("institution", HOSPITAL, 7, False),
        Suggestion("institution", CLINIC, 1, False),
    ]


def test_only_name_columns_are_walked(con: sqlite3.Connection) -> None:
    with pytest.raises(ValueError, match="not a name column"):
        name_suggestions(con, "record", "x", 8)


def test_an_abbreviations_full_name_leads_once(con: sqlite3.Connection) -> None:
    assert institution_suggestions(con, "重庆", 8, first=CLINIC) == [
        Suggestion("institution", CLINIC, 1, False),
        Suggestion("institution", HOSPITAL, 7, False),
    ]
