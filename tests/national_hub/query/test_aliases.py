"""The institution abbreviation table: shipped entries, operator overrides, matching rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from national_hub.query.aliases import AliasEntry, AliasTable
from schemas.federation import ConfigError
from schemas.samples import credit_code

REQUIRED = {
    "重医附一院": "重庆医科大学附属第一医院",
    "重医附二院": "重庆医科大学附属第二医院",
    "重医儿童医院": "重庆医科大学附属儿童医院",
    "西南医院": "陆军军医大学第一附属医院",
    "新桥医院": "陆军军医大学第二附属医院",
    "协和": "北京协和医院",
    "北京协和": "北京协和医院",
    "北大医院": "北京大学第一医院",
    "北医三院": "北京大学第三医院",
    "中山一院": "中山大学附属第一医院",
    "省医": "广东省人民医院",
    "广东省医": "广东省人民医院",
    "华西": "四川大学华西医院",
    "华西医院": "四川大学华西医院",
    "湘雅": "中南大学湘雅医院",
    "瑞金": "上海交通大学医学院附属瑞金医院",
}


@pytest.fixture(scope="module")
def shipped() -> AliasTable:
    return AliasTable.load()


@pytest.mark.parametrize(("alias", "full_name"), sorted(REQUIRED.items()))
def test_shipped_table_resolves_common_abbreviation(
    shipped: AliasTable, alias: str, full_name: str
) -> None:
    entry = shipped.resolve(alias)
    assert entry is not None and entry.full_name == full_name


def test_shipped_table_covers_many_hospitals(shipped: AliasTable) -> None:
    assert len(shipped) >= 45


def test_resolve_ignores_spaces(shipped: AliasTable) -> None:
    entry = shipped.resolve(" 重医 附一院 ")
    assert entry is not None and entry.full_name == "重庆医科大学附属第一医院"


def test_resolve_ignores_width(shipped: AliasTable) -> None:
    entry = shipped.resolve("３０１医院")
    assert entry is not None and entry.full_name == "中国人民解放军总医院"


def test_unknown_text_resolves_to_none(shipped: AliasTable) -> None:
    assert shipped.resolve("不存在的医院") is None


def test_operator_file_overrides_shipped_entry(tmp_path: Path) -> None:
    code = credit_code("12500000450400012")
    path = tmp_path / "aliases.csv"
    path.write_text(f"alias,full_name,org_code\n省医,四川省人民医院,{code}\n", encoding="utf-8")
    assert AliasTable.load(path).resolve("省医") == AliasEntry("省医", "四川省人民医院", code)


def test_operator_file_extends_shipped_table(tmp_path: Path) -> None:
    path = tmp_path / "aliases.csv"
    path.write_text("alias,full_name\n渝中人医,重庆市渝中区人民医院\n", encoding="utf-8")
    table = AliasTable.load(path)
    assert table.resolve("渝中人医") is not None and table.resolve("华西") is not None


def test_operator_file_with_byte_order_mark_loads(tmp_path: Path) -> None:
    path = tmp_path / "aliases.csv"
    path.write_bytes("alias,full_name\n渝中人医,重庆市渝中区人民医院\n".encode("utf-8-sig"))
    assert AliasTable.load(path).resolve("渝中人医") is not None


def test_operator_file_bad_org_code_names_line(tmp_path: Path) -> None:
    path = tmp_path / "aliases.csv"
    path.write_text("alias,full_name,org_code\nx院,某医院,123\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"aliases\.csv:2: org_code"):
        AliasTable.load(path)


def test_operator_file_bad_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "aliases.csv"
    path.write_text("short,long\nx,y\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="header"):
        AliasTable.load(path)


def test_missing_operator_file_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"hub\.aliases_file"):
        AliasTable.load(tmp_path / "absent.csv")
