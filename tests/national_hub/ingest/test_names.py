"""The per-character pinyin shortcut reads names exactly as pypinyin's segmenter does."""

from __future__ import annotations

from pypinyin import Style, lazy_pinyin

from national_hub.ingest.names import normalise_name, pinyin_key
from province_node import synthetic


def _reference(name: str) -> str:
    return "".join(lazy_pinyin(normalise_name(name), style=Style.NORMAL, errors="default")).lower()


def test_pinyin_key_matches_pypinyin_on_synthetic_names() -> None:
    names = {b["name"] for b in synthetic.registrations("65", 20_000, 11, 0)}
    assert [n for n in names if pinyin_key(n) != _reference(n)] == []


def test_pinyin_key_uses_phrase_readings() -> None:
    # 重庆 is a phrase: 重 reads chong here, zhong on its own.
    assert pinyin_key("重庆") == "chongqing"
    assert pinyin_key("重") == "zhong"


def test_pinyin_key_keeps_non_han_characters() -> None:
    assert pinyin_key("Ａ张·b") == _reference("Ａ张·b") == "azhangb"
