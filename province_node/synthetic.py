"""Synthetic physician registrations: realistic, deterministic by seed, fast enough for 5 million.

Used by `./dev up --records N` (demo data), `province-node generate` and the benchmarks.

Public API
----------
- `registrations(province, count, seed=0, start=0)` yields POST /v1/registrations bodies.
  Record i depends only on (province, seed, i): generating 0..999 in one call or in ten
  calls of 100 gives the same rows.
- `institutions(province)` lists the province's institutions (real major hospitals with their
  common abbreviations for 50, 11, 44; generated county, city and province ones everywhere).
- `issuing_authority_for(province, org_code)` is the health commission that registers
  physicians of that institution.
- `write_jsonl(path, rows)` and `write_csv(path, rows)` write rows in the import formats.

Identifier layouts (ours, built here; the contract forbids *parsing* cert_no, not building it)
----------------------------------------------------------------------------------------
- cert_no = PP SSS IIIIIIIIII: 2-digit province node code, seed mod 1000 (3 digits), record
  index (10 digits). Unique across provinces, indexes and seeds 0..999.
- id_number = address (a county code of the province) + birth date (1950..2000) + sequence
  + check. The (address, date, sequence pair) triple is an affine permutation of the index,
  so it is unique per (province, seed, index) with no bookkeeping; the sequence's parity
  then encodes the gender (odd = male). Address sets of provinces are disjoint, so ID numbers
  never collide across provinces for the same seed either.

Speed: everything that can be precomputed per province is (weighted pools with cumulative
weights for `bisect`, date strings, partial checksums), and each record costs ~15
`random()` draws, which keeps generation well above 100,000 records/s.
Only `Random(str)` seeding and `Random.random()` are used: both are stable across Python
versions, unlike `choice`/`randrange`, whose algorithms have changed before.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
import random
from bisect import bisect
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import IO, Any, Literal, TypedDict

import orjson

from province_node.data.regions import REGIONS
from province_node.requests import CSV_COLUMNS
from schemas.checksums import credit_code_check_char
from schemas.vocab import OTHER_SCOPE, PROVINCES, SCOPES_BY_CATEGORY, Category

__all__ = [
    "BIRTH_FIRST",
    "BIRTH_LAST",
    "CSV_HEADER",
    "RARE_CHARS",
    "REGISTERED_FIRST",
    "REGISTERED_LAST",
    "AuthorityInfo",
    "InstitutionInfo",
    "capacity",
    "institutions",
    "issuing_authority_for",
    "registrations",
    "write_csv",
    "write_jsonl",
]

InstitutionLevel = Literal["county", "city", "province"]


class InstitutionInfo(TypedDict):
    """An institution as `institutions()` lists it; the first three keys form the wire shape."""

    org_code: str
    name: str
    region_code: str
    abbreviation: str | None
    level: InstitutionLevel


class AuthorityInfo(TypedDict):
    """An issuing authority (发证机关) in the wire shape."""

    name: str
    region_code: str


# The import format's columns, so generated CSV always imports.
CSV_HEADER = CSV_COLUMNS

BIRTH_FIRST = date(1950, 1, 1)
BIRTH_LAST = date(2000, 12, 31)
REGISTERED_FIRST = date(2000, 1, 1)
REGISTERED_LAST = date(2026, 10, 31)
# Medical school (5 years) plus the year of practice before the licence exam: nobody is
# registered before about 22.
_MIN_AGE_DAYS = 22 * 365 + 5

_CERT_INDEX_DIGITS = 10
# Records share one Random per block: seeding costs microseconds, so per-record seeding would
# halve throughput, while a block lets `start` land anywhere by replaying < _BLOCK records.
_BLOCK = 512
# Sequence numbers 001..998: pair p gives 2p+1 (male) and 2p+2 (female); 000 and 999 are
# avoided because some validators treat them as suspicious.
_SEQ_PAIRS = 499

_MUNICIPALITIES = frozenset({"11", "12", "31", "50"})
_CORPS = "66"

# --------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------

# Approximate shares per 10,000 people (2020 census order); the long tail is lumped into what
# is listed, which only makes common names a little more common than in life.
_SURNAMES = """
王 712 李 709 张 631 刘 538 陈 453 杨 308 黄 223 赵 229 吴 205 周 195 徐 145 孙 138 马 129
朱 126 胡 116 郭 115 何 106 林 101 高 100 罗 86 郑 83 梁 83 谢 72 宋 70 唐 69 许 66 韩 65
冯 64 邓 63 曹 61 彭 59 曾 58 肖 57 田 56 董 53 袁 52 潘 52 于 51 蒋 50 蔡 49 余 48 杜 47
叶 46 程 45 苏 44 魏 43 吕 42 丁 41 任 40 沈 39 姚 38 卢 37 姜 36 崔 35 钟 34 谭 33 陆 32
汪 31 范 30 金 29 石 28 廖 27 贾 26 夏 25 韦 25 付 24 方 23 白 23 邹 22 孟 22 熊 21 秦 21
邱 20 江 20 尹 19 薛 19 闫 18 段 18 雷 17 侯 17 龙 16 史 16 陶 15 黎 15 贺 15 顾 14 毛 14
郝 14 龚 13 邵 13 万 12 钱 12 严 12 覃 11 武 11 戴 11 莫 10 孔 10 向 10 汤 10 常 9 温 9
康 9 施 8 文 8 牛 8 樊 8 葛 7 邢 7 安 7 齐 7 易 7 乔 6 伍 6 庞 6 颜 6 倪 6 庄 6 聂 6 章 5
鲁 5 岳 5 翟 5 殷 5 詹 5 申 5 欧 4 耿 4 关 4 兰 4 焦 4 俞 4 左 4 柳 4 甘 4 祝 4 包 4 宁 4
尚 4 符 4 舒 4 阮 4 柯 4 纪 4 梅 3 童 3 凌 3 毕 3 单 3 季 3 裴 3 霍 3 涂 3 成 3 苗 3 谷 3
盛 3 曲 3 翁 3 冉 3 骆 3 蓝 3 路 3 游 3 辛 3 靳 3 蒙 2 冼 1 邝 1 禤 0.3 亓 0.3 隗 0.2
欧阳 2 司徒 1 上官 0.3 司马 0.3 皇甫 0.2 诸葛 0.15 夏侯 0.1 令狐 0.1 东方 0.1 慕容 0.05
公孙 0.05 尉迟 0.05 端木 0.05 宇文 0.05 南宫 0.05
"""

# Regional shifts of the national shares (multipliers), so that 广东 has its 陈/黄/梁 and
# 广西 its 覃/韦/莫 rather than one national blend everywhere.
_NORTH = {"王": 1.4, "张": 1.3, "刘": 1.4, "李": 1.1, "赵": 1.5, "孙": 1.6, "高": 1.3, "马": 1.3}
_SOUTH = {"陈": 1.8, "黄": 1.9, "林": 2.0, "梁": 2.0, "何": 1.4, "罗": 1.4, "王": 0.6, "张": 0.7}
_SURNAME_SHIFT: dict[str, dict[str, float]] = {
    **dict.fromkeys(("11", "12", "13", "14", "15", "21", "22", "23", "37", "41"), _NORTH),
    **dict.fromkeys(("35", "36", "43", "46"), _SOUTH),
    "44": {**_SOUTH, "冼": 8, "邝": 8, "禤": 10, "司徒": 6, "欧阳": 2},
    "45": {**_SOUTH, "覃": 12, "韦": 10, "莫": 6, "蒙": 8, "蓝": 3},
    "50": {"杨": 1.3, "何": 1.3, "冉": 6, "向": 3, "谭": 2},
    "51": {"杨": 1.3, "何": 1.3, "冉": 3, "向": 2},
    "52": {"杨": 1.4, "龙": 3, "吴": 1.3},
    "53": {"杨": 1.5, "李": 1.3, "段": 2},
}

# Given names. Whole two-character names are the popular ones that make 张伟-style duplicates
# frequent; the first/second pools combine into the long tail.
_MALE_SINGLE = (
    "伟 30 强 18 磊 18 军 18 勇 22 杰 22 涛 20 斌 14 超 18 明 18 刚 16 平 12 辉 15 鹏 15 华 12 "
    "飞 12 鑫 12 波 12 宇 12 浩 11 凯 10 健 10 俊 10 帆 8 帅 8 旭 8 宁 8 龙 8 林 8 阳 8 亮 10 "
    "成 7 峰 10 建 7 东 7 博 7 毅 7 彬 7 坤 6 雷 6 晨 6 昊 6 宏 6 海 6 兵 6 松 5 锋 5 威 5 骏 4"
)
_FEMALE_SINGLE = (
    "芳 22 娜 20 敏 18 静 18 丽 18 艳 25 娟 22 霞 18 燕 18 玲 16 丹 16 萍 15 红 14 英 10 梅 12 "
    "琳 12 颖 12 倩 12 雪 10 琴 10 兰 8 蕾 8 薇 8 莉 8 雯 8 慧 10 佳 8 婷 14 洁 8 晶 8 璐 6 "
    "瑶 6 青 5 欣 6 悦 6 茜 5 露 5 媛 6 妍 5 菲 5 月 4 平 5 华 5"
)
_MALE_WHOLE = (
    "建华 10 建国 10 建军 10 志强 10 志刚 8 海涛 8 晓东 8 文博 5 子豪 4 浩然 5 俊杰 6 宇轩 4 "
    "明辉 5 国强 8 永强 6 建平 6 建明 5 志明 5 晓明 6 立新 5 卫东 5 红军 4 海军 4 小龙 5 "
    "家豪 4 天宇 4 振华 5 国庆 5 德明 3 文杰 5 志勇 5 建新 4 晓峰 5 海波 4"
)
_FEMALE_WHOLE = (
    "秀英 9 秀兰 7 桂英 7 玉兰 8 桂兰 6 秀珍 6 玉梅 5 丽娟 8 海燕 8 晓燕 7 红梅 7 婷婷 10 "
    "丽华 5 春梅 5 雪梅 5 晓丽 5 丽丽 5 静静 5 慧敏 4 欣怡 4 雨婷 4 梦瑶 3 思琪 3 佳怡 3 "
    "诗涵 3 秀梅 4 丽萍 4 美玲 4 淑珍 4 玉珍 4 晓红 5 小燕 4"
)
_MALE_FIRST = "志建国文明永海晓俊家子天浩宇振德立宏伟嘉世兴学春金光新长云鹏思博鸿泽正晨一"
_MALE_SECOND = (
    "强华明军伟平刚杰林峰涛辉东龙斌波鹏宇成亮勇飞超新生祥荣富春文武清远航轩然阳凯磊豪睿哲彬"
)
_FEMALE_FIRST = "秀玉丽晓海春美雪红桂淑静慧佳欣思雨梦诗婉紫若晨瑞小文雅晓嘉心"
_FEMALE_SECOND = "英兰珍芳梅华燕霞萍娟丽红玲琴云凤敏静婷怡琪涵妍瑶颖璐倩悦洁蓉莉薇雯"

# 生僻字 seen on real registries; they break naive search and old GBK-only systems, which is
# exactly what the demo data must exercise. 䶮 is CJK Extension A, 𠮷 and 𪚥 Extension B
# (outside the BMP: two UTF-16 units, four UTF-8 bytes).
RARE_CHARS: tuple[str, ...] = (
    "\u4dae",  # 䶮
    "\U00020bb7",  # 𠮷
    "\U0002a6a5",  # 𪚥
    "\u36c3",  # 㛃
    "堃",
    "昇",
    "喆",
    "犇",
    "淼",
    "燚",
    "珺",
    "玥",
    "瑄",
    "垚",
    "骉",
    "赟",
    "昶",
    "祎",
    "玙",
    "頔",
    "彧",
    "翀",
    "晞",
)

_P_SINGLE_GIVEN = 0.25  # one-character given names, common for people born 1950..2000
_P_WHOLE_GIVEN = 0.22  # a popular two-character given name
_P_RARE = 0.006  # the last given-name character is a 生僻字

# Minority names. The middle dot (U+00B7) is how 公安 and health registries write them.
_UYGHUR_MALE = (
    "买买提 艾力 阿不都 艾买提 吐尔逊 热合曼 阿卜杜拉 努尔 依明 阿力木 亚森 玉素甫 伊力哈木 "
    "麦麦提 艾尔肯 帕尔哈提 阿布来提 卡德尔 吾斯曼 肉孜 托合提 塔依尔 阿迪力 木合塔尔 叶尔兰 努尔兰"
).split()
_UYGHUR_FEMALE = (
    "阿依古丽 古丽 迪丽娜尔 热依拉 帕提古丽 米热古丽 努尔古丽 阿依努尔 古丽娜尔 祖丽胡玛尔 "
    "热比亚 阿曼古丽 玛依拉 加米拉 茹仙古丽 巴哈古丽 麦尔哈巴 迪丽拜尔 阿依达娜 古丽米拉"
).split()
_UYGHUR_FATHER = (
    "吐尔逊 艾力 买买提 阿不都拉 热合曼 依明 卡德尔 司马义 玉素甫 吾布力 肉孜 艾则孜 亚森 "
    "托乎提 阿布都热依木 哈力木 别克"
).split()
_TIBETAN_FIRST = (
    "扎西 次仁 格桑 尼玛 达瓦 边巴 普布 索朗 白玛 洛桑 旦增 巴桑 强巴 米玛 次旦 益西".split()
)
_TIBETAN_MALE = "多吉 顿珠 平措 旺堆 次仁 罗布 扎西 加措 朗杰 坚参".split()
_TIBETAN_FEMALE = "卓玛 拉姆 央金 曲珍 德吉 央宗 措姆 白珍 仓决 玉珍".split()
_MONGOL_MALE = "巴特尔 朝鲁 苏和 额尔敦 巴雅尔 宝音 满都拉 布和 孟和 阿拉坦 特木尔 那日苏".split()
_MONGOL_FEMALE = "其其格 乌云 萨仁 娜仁 高娃 图雅 塔娜 斯琴 乌兰 托娅 乌云其其格 斯琴高娃".split()

_MinorityStyle = Literal["uyghur_dot", "tibetan_dot", "tibetan_plain", "mongol_plain"]
# Share of records per style. Outside the autonomous regions a few Uyghur and Tibetan doctors
# practise everywhere, which keeps dotted names near 1% nationally.
_MINORITY_DEFAULT: tuple[tuple[_MinorityStyle, float], ...] = (
    ("uyghur_dot", 0.004),
    ("tibetan_dot", 0.001),
)
_MINORITY: dict[str, tuple[tuple[_MinorityStyle, float], ...]] = {
    "65": (("uyghur_dot", 0.32), ("mongol_plain", 0.005)),
    "66": (("uyghur_dot", 0.06),),
    "54": (("tibetan_dot", 0.20), ("tibetan_plain", 0.50)),
    "63": (("tibetan_dot", 0.03), ("tibetan_plain", 0.12), ("uyghur_dot", 0.002)),
    "51": (("tibetan_dot", 0.004), ("tibetan_plain", 0.01), ("uyghur_dot", 0.002)),
    "62": (("tibetan_dot", 0.003), ("tibetan_plain", 0.01), ("uyghur_dot", 0.003)),
    "15": (("mongol_plain", 0.08), ("uyghur_dot", 0.002)),
}


@dataclass(frozen=True, slots=True)
class _Weighted:
    """Items with cumulative weights: `items[bisect(cum, u * total)]` is a weighted draw."""

    items: tuple[str, ...]
    cum: tuple[float, ...]
    total: float

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, float]]) -> _Weighted:
        items: list[str] = []
        cum: list[float] = []
        total = 0.0
        for item, weight in pairs:
            if weight <= 0:
                continue
            total += weight
            items.append(item)
            cum.append(total)
        return cls(tuple(items), tuple(cum), total)

    @classmethod
    def parse(cls, text: str) -> _Weighted:
        """Parse "item weight item weight ..."."""
        tokens = text.split()
        return cls.of((tokens[k], float(tokens[k + 1])) for k in range(0, len(tokens), 2))

    def draw(self, rnd: Callable[[], float]) -> str:
        # min() guards the one-in-2**53 case where rounding puts u*total on the last bound.
        return self.items[min(bisect(self.cum, rnd() * self.total), len(self.items) - 1)]


def _uniform(chars: str | Sequence[str]) -> _Weighted:
    return _Weighted.of((c, 1.0) for c in chars)


class _Names:
    """Name generator for one province (surname mix and minority shares differ by region)."""

    def __init__(self, province: str) -> None:
        shift = _SURNAME_SHIFT.get(province, {})
        base = _SURNAMES.split()
        self.surnames = _Weighted.of(
            (base[k], float(base[k + 1]) * shift.get(base[k], 1.0)) for k in range(0, len(base), 2)
        )
        self.male = (
            _Weighted.parse(_MALE_SINGLE),
            _Weighted.parse(_MALE_WHOLE),
            _uniform(_MALE_FIRST),
            _uniform(_MALE_SECOND),
        )
        self.female = (
            _Weighted.parse(_FEMALE_SINGLE),
            _Weighted.parse(_FEMALE_WHOLE),
            _uniform(_FEMALE_FIRST),
            _uniform(_FEMALE_SECOND),
        )
        self.rare = _uniform(RARE_CHARS)
        # Cumulative thresholds: the first draw picks a minority style or falls through to Han.
        bound = 0.0
        styles: list[tuple[float, _MinorityStyle]] = []
        for style, share in _MINORITY.get(province, _MINORITY_DEFAULT):
            bound += share
            styles.append((bound, style))
        self.minority = tuple(styles)
        self.minority_total = bound
        self.uyghur = (_uniform(_UYGHUR_MALE), _uniform(_UYGHUR_FEMALE), _uniform(_UYGHUR_FATHER))
        self.tibetan = (
            _uniform(_TIBETAN_FIRST),
            _uniform(_TIBETAN_MALE),
            _uniform(_TIBETAN_FEMALE),
        )
        self.mongol = (_uniform(_MONGOL_MALE), _uniform(_MONGOL_FEMALE))

    def draw(self, rnd: Callable[[], float], male: bool) -> str:
        u = rnd()
        if u < self.minority_total:
            for bound, style in self.minority:
                if u < bound:
                    return self._minority(rnd, male, style)
        surname = self.surnames.draw(rnd)
        single, whole, first, second = self.male if male else self.female
        v = rnd()
        if v < _P_SINGLE_GIVEN:
            given = single.draw(rnd)
        elif v < _P_SINGLE_GIVEN + _P_WHOLE_GIVEN:
            given = whole.draw(rnd)
        else:
            given = first.draw(rnd) + second.draw(rnd)
        if rnd() < _P_RARE:
            given = given[:-1] + self.rare.draw(rnd)
        return surname + given

    def _minority(self, rnd: Callable[[], float], male: bool, style: _MinorityStyle) -> str:
        if style == "uyghur_dot":
            own = self.uyghur[0] if male else self.uyghur[1]
            return own.draw(rnd) + "·" + self.uyghur[2].draw(rnd)
        if style == "mongol_plain":
            return (self.mongol[0] if male else self.mongol[1]).draw(rnd)
        first = self.tibetan[0].draw(rnd)
        second = (self.tibetan[1] if male else self.tibetan[2]).draw(rnd)
        # Tibetan names are usually written as one word; some registries split them with the dot.
        return first + ("·" if style == "tibetan_dot" else "") + second


# --------------------------------------------------------------------------------------------
# Regions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Region:
    code: str
    name: str
    parent: _Region | None  # the prefecture of a county; None for prefectures and direct units


@dataclass(frozen=True, slots=True)
class _ProvinceRegions:
    prefectures: tuple[_Region, ...]
    counties: tuple[_Region, ...]


def _province_of(code: str) -> str:
    # GB/T 2260 files the Corps' cities (6590xx) under 新疆; their registry is the Corps' own.
    return _CORPS if code.startswith("6590") else code[:2]


@cache
def _all_regions() -> dict[str, _ProvinceRegions]:
    prefectures: dict[str, _Region] = {}
    rows = [line.split(" ", 1) for line in REGIONS.splitlines() if line]
    for code, name in rows:
        if code.endswith("00"):
            prefectures[code] = _Region(code, name, None)
    by_province: dict[str, tuple[list[_Region], list[_Region]]] = {}
    for code, name in rows:
        pref_list, county_list = by_province.setdefault(_province_of(code), ([], []))
        if code in prefectures:
            pref_list.append(prefectures[code])
        else:
            county_list.append(_Region(code, name, prefectures.get(code[:4] + "00")))
    return {p: _ProvinceRegions(tuple(ps), tuple(cs)) for p, (ps, cs) in by_province.items()}


def _regions(province: str) -> _ProvinceRegions:
    if province not in PROVINCES:
        raise ValueError(f"unknown province code {province!r}")
    return _all_regions()[province]


def _is_district(region: _Region) -> bool:
    # 区 of a city (but 神农架林区 is a county in all but name).
    return region.name.endswith("区") and not region.name.endswith("林区")


# --------------------------------------------------------------------------------------------
# Institutions
# --------------------------------------------------------------------------------------------

_Kind = Literal[
    "general",
    "tcm",
    "mch",
    "children",
    "cancer",
    "psych",
    "dental",
    "dental_clinic",
    "cdc",
    "community",
    "township",
    "private",
]

# Share of each category's physicians an institution of a kind employs, per unit of its size.
# General hospitals employ some TCM and dental physicians; TCM hospitals many clinical ones.
_CATEGORY_MIX: dict[_Kind, dict[Category, float]] = {
    "general": {Category.CLINICAL: 1.0, Category.TCM: 0.06, Category.DENTAL: 0.03},
    "tcm": {Category.TCM: 1.0, Category.CLINICAL: 0.35, Category.DENTAL: 0.02},
    "mch": {Category.CLINICAL: 1.0, Category.TCM: 0.03, Category.DENTAL: 0.02},
    "children": {Category.CLINICAL: 1.0, Category.DENTAL: 0.01},
    "cancer": {Category.CLINICAL: 1.0, Category.TCM: 0.03},
    "psych": {Category.CLINICAL: 1.0},
    "dental": {Category.DENTAL: 1.0},
    "dental_clinic": {Category.DENTAL: 1.0},
    "cdc": {Category.PUBLIC_HEALTH: 1.0},
    "community": {Category.CLINICAL: 1.0, Category.TCM: 0.3, Category.DENTAL: 0.05},
    "township": {Category.CLINICAL: 1.0, Category.TCM: 0.25},
    "private": {Category.CLINICAL: 1.0, Category.TCM: 0.05, Category.DENTAL: 0.05},
}

# Chance that a physician there is an assistant (执业助理医师): rare in provincial hospitals,
# common in township health centres. Tuned so that the overall share is about 20%.
_ASSISTANT_SHARE: dict[tuple[InstitutionLevel, bool], float] = {
    ("province", False): 0.05,
    ("city", False): 0.13,
    ("county", False): 0.22,
    ("county", True): 0.46,  # community and township centres
}

_CLINICAL_SCOPES = {
    "内科专业": 30,
    "外科专业": 18,
    "妇产科专业": 8,
    "儿科专业": 6,
    "眼耳鼻咽喉科专业": 5,
    "皮肤病与性病专业": 2,
    "精神卫生专业": 2,
    "职业病专业": 0.3,
    "医学影像和放射治疗专业": 8,
    "医学检验、病理专业": 3,
    "全科医学专业": 7,
    "急救医学专业": 2,
    "康复医学专业": 2,
    "预防保健专业": 1.5,
    "特种医学与军事医学专业": 0.2,
    "计划生育技术服务专业": 0.5,
    "重症医学专业": 2,
    OTHER_SCOPE: 0.3,
}
_CLINICAL_BY_KIND: dict[_Kind, dict[str, float]] = {
    "mch": {
        "妇产科专业": 45,
        "儿科专业": 35,
        "医学影像和放射治疗专业": 8,
        "医学检验、病理专业": 5,
        "计划生育技术服务专业": 4,
        "内科专业": 3,
    },
    "children": {
        "儿科专业": 80,
        "外科专业": 8,
        "医学影像和放射治疗专业": 6,
        "医学检验、病理专业": 3,
        "重症医学专业": 3,
    },
    "cancer": {
        "内科专业": 40,
        "外科专业": 35,
        "医学影像和放射治疗专业": 20,
        "医学检验、病理专业": 5,
    },
    "psych": {"精神卫生专业": 90, "内科专业": 10},
    "community": {
        "全科医学专业": 40,
        "内科专业": 30,
        "预防保健专业": 8,
        "外科专业": 8,
        "妇产科专业": 6,
        "儿科专业": 4,
        "医学影像和放射治疗专业": 4,
    },
    "private": {
        "内科专业": 25,
        "外科专业": 25,
        "妇产科专业": 20,
        "皮肤病与性病专业": 10,
        "眼耳鼻咽喉科专业": 10,
        "医学影像和放射治疗专业": 10,
        OTHER_SCOPE: 2,
    },
}
_CLINICAL_BY_KIND["township"] = _CLINICAL_BY_KIND["community"]

_TCM_SCOPES = {"中医专业": 75, "中西医结合专业": 20, "全科医学专业": 4, OTHER_SCOPE: 0.5}
# Ethnic medicine where it is practised: 蒙医 in 内蒙古, 藏医 on the plateau, 维医 in 新疆, 傣医
# in 云南 (西双版纳, 德宏).
_TCM_ETHNIC: dict[str, dict[str, float]] = {
    "15": {"蒙医专业": 15},
    "54": {"藏医专业": 60},
    "63": {"藏医专业": 12},
    "51": {"藏医专业": 1.5},
    "62": {"藏医专业": 2},
    "65": {"维医专业": 12},
    "66": {"维医专业": 2},
    "53": {"傣医专业": 1.5},
}
# Multi-scope registrations (up to 3, one category) are only allowed at county level or below.
_P_THREE_SCOPES = 0.02
_P_TWO_SCOPES = 0.10

# Physicians per institution, roughly: it weights where generated physicians work.
_SIZE: dict[tuple[InstitutionLevel, _Kind], float] = {
    ("province", "general"): 60,
    ("province", "tcm"): 30,
    ("province", "mch"): 20,
    ("province", "children"): 20,
    ("province", "cancer"): 20,
    ("province", "psych"): 8,
    ("province", "dental"): 10,
    ("province", "cdc"): 12,
    ("city", "general"): 25,
    ("city", "tcm"): 12,
    ("city", "mch"): 8,
    ("city", "psych"): 4,
    ("city", "dental"): 4,
    ("city", "cdc"): 6,
    ("city", "private"): 4,
    ("county", "general"): 14,
    ("county", "tcm"): 6,
    ("county", "mch"): 4,
    ("county", "cdc"): 3,
    ("county", "community"): 2,
    ("county", "township"): 1.5,
    ("county", "dental_clinic"): 0.6,
}

# Real major hospitals (name, abbreviation people search with, region code, kind, level).
# Their credit codes here are generated, not the real ones.
_FAMOUS: dict[str, tuple[tuple[str, str, str, _Kind, InstitutionLevel], ...]] = {
    "50": (
        ("重庆医科大学附属第一医院", "重医附一院", "500103", "general", "province"),
        ("重庆医科大学附属第二医院", "重医附二院", "500103", "general", "province"),
        ("重庆医科大学附属儿童医院", "重医儿院", "500103", "children", "province"),
        ("重庆医科大学附属口腔医院", "重医口腔", "500103", "dental", "province"),
        ("陆军军医大学第一附属医院", "西南医院", "500106", "general", "province"),
        ("陆军军医大学第二附属医院", "新桥医院", "500106", "general", "province"),
        ("陆军特色医学中心", "大坪医院", "500103", "general", "province"),
        ("重庆市人民医院", "市人民医院", "500103", "general", "province"),
        ("重庆市中医院", "市中医院", "500105", "tcm", "province"),
        ("重庆大学附属肿瘤医院", "重庆肿瘤医院", "500106", "cancer", "province"),
        ("重庆市急救医疗中心", "市急救中心", "500103", "general", "province"),
        ("重庆市妇幼保健院", "市妇幼", "500112", "mch", "province"),
        ("重庆市精神卫生中心", "市精卫中心", "500112", "psych", "province"),
        ("重庆市疾病预防控制中心", "重庆疾控", "500103", "cdc", "province"),
        ("重庆大学附属三峡医院", "三峡中心医院", "500101", "general", "province"),
        ("重庆医科大学附属永川医院", "永川医院", "500118", "general", "province"),
    ),
    "11": (
        ("北京协和医院", "协和", "110101", "general", "province"),
        ("北京大学第一医院", "北大医院", "110102", "general", "province"),
        ("北京大学人民医院", "北大人民医院", "110102", "general", "province"),
        ("北京大学第三医院", "北医三院", "110108", "general", "province"),
        ("中国人民解放军总医院", "301医院", "110108", "general", "province"),
        ("首都医科大学宣武医院", "宣武医院", "110102", "general", "province"),
        ("首都医科大学附属北京天坛医院", "天坛医院", "110106", "general", "province"),
        ("首都医科大学附属北京同仁医院", "同仁医院", "110101", "general", "province"),
        ("首都医科大学附属北京安贞医院", "安贞医院", "110105", "general", "province"),
        ("首都医科大学附属北京朝阳医院", "朝阳医院", "110105", "general", "province"),
        ("中日友好医院", "中日医院", "110105", "general", "province"),
        ("北京积水潭医院", "积水潭", "110102", "general", "province"),
        ("中国医学科学院阜外医院", "阜外医院", "110102", "general", "province"),
        ("中国医学科学院肿瘤医院", "医科院肿瘤医院", "110105", "cancer", "province"),
        ("首都医科大学附属北京儿童医院", "北京儿童医院", "110102", "children", "province"),
        ("北京中医药大学东直门医院", "东直门医院", "110101", "tcm", "province"),
        ("中国中医科学院广安门医院", "广安门医院", "110102", "tcm", "province"),
        ("北京大学口腔医院", "北大口腔", "110108", "dental", "province"),
        ("北京大学第六医院", "北医六院", "110108", "psych", "province"),
        ("北京市疾病预防控制中心", "北京疾控", "110101", "cdc", "province"),
    ),
    "44": (
        ("中山大学附属第一医院", "中山一院", "440104", "general", "province"),
        ("中山大学孙逸仙纪念医院", "中山二院", "440104", "general", "province"),
        ("中山大学附属第三医院", "中山三院", "440106", "general", "province"),
        ("广东省人民医院", "省医", "440104", "general", "province"),
        ("南方医科大学南方医院", "南方医院", "440111", "general", "province"),
        ("南方医科大学珠江医院", "珠江医院", "440105", "general", "province"),
        ("广州医科大学附属第一医院", "广医一院", "440104", "general", "province"),
        ("广东省中医院", "省中医", "440104", "tcm", "province"),
        ("广州中医药大学第一附属医院", "广中医一附院", "440111", "tcm", "province"),
        ("中山大学肿瘤防治中心", "中山肿瘤", "440104", "cancer", "province"),
        ("中山大学附属口腔医院", "光华口腔", "440104", "dental", "province"),
        ("广东省妇幼保健院", "省妇幼", "440113", "mch", "province"),
        ("广东省疾病预防控制中心", "广东疾控", "440113", "cdc", "province"),
        ("广州市第一人民医院", "市一", "440104", "general", "city"),
        ("广州市妇女儿童医疗中心", "广州妇儿", "440106", "children", "city"),
        ("深圳市人民医院", "深圳人民医院", "440303", "general", "city"),
        ("北京大学深圳医院", "北大深圳医院", "440304", "general", "city"),
    ),
    _CORPS: (
        ("新疆生产建设兵团医院", "兵团医院", "650102", "general", "province"),
        ("石河子大学医学院第一附属医院", "石大一附院", "659001", "general", "province"),
        ("新疆生产建设兵团疾病预防控制中心", "兵团疾控", "650102", "cdc", "province"),
    ),
}

# What a province without listed famous hospitals gets at province level (河北省人民医院 ...).
_PROVINCIAL_SET: tuple[tuple[str, _Kind], ...] = (
    ("人民医院", "general"),
    ("第二人民医院", "general"),
    ("中医院", "tcm"),
    ("中西医结合医院", "tcm"),
    ("妇幼保健院", "mch"),
    ("儿童医院", "children"),
    ("肿瘤医院", "cancer"),
    ("精神卫生中心", "psych"),
    ("口腔医院", "dental"),
    ("疾病预防控制中心", "cdc"),
)

# The Corps' divisions (师) and their cities (师市合一), with a few regiments (团场) each.
_CORPS_DIVISIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("659001", "第八师", ("一二一团", "一三三团", "一四三团")),
    ("659002", "第一师", ("一团", "八团", "十团")),
    ("659003", "第三师", ("四十四团", "四十五团", "五十一团")),
    ("659004", "第六师", ("一〇一团", "一〇二团", "一〇三团")),
    ("659005", "第十师", ("一八一团", "一八三团", "一八七团")),
    ("659006", "第二师", ("二十一团", "二十二团", "二十九团")),
    ("659007", "第五师", ("八十一团", "八十三团", "八十九团")),
    ("659008", "第四师", ("六十二团", "六十三团", "六十八团")),
    ("659009", "第十四师", ("四十七团", "一牧场", "皮山农场")),
    ("659010", "第七师", ("一二三团", "一二五团", "一三〇团")),
    ("659011", "第十三师", ("红星一场", "红星二场", "黄田农场")),
    ("659012", "第九师", ("一六一团", "一六三团", "一七〇团")),
)
# GB/T 2260's group code of the Corps-administered cities: the nearest thing the standard has
# to a Corps-wide jurisdiction code.
_CORPS_REGION = "659000"

_STREETS = (
    "城关 东城 西城 南城 北城 新华 解放 人民 朝阳 和平 建设 胜利 "
    "文化 长安 东风 红旗 滨江 新城 北关 南关 城南 城北 城东 城西"
).split()
_TOWNS = (
    "新店 石桥 马坊 柳林 黄庄 白沙 大坪 龙泉 青山 高桥 河口 三合 太平 永兴 长乐 "
    "新安 双河 桥头 兴隆 龙门 清水 河西 石门 金山 沙河 安乐 新民 东山 西山 古城"
).split()
_BRANDS = "仁爱 博爱 康华 华康 仁和 康宁 济民 瑞康 德济 安康 雅齿 皓齿 康贝 博美 美齿 优齿".split()

_ORG_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100: no I, O, S, V, Z
_GB11714_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def _gb11714_check(body: str) -> str:
    """Check character of a 9-character organisation code (GB 11714), which sits inside
    positions 9..17 of a credit code."""
    total = sum(int(c, 36) * w for c, w in zip(body, _GB11714_WEIGHTS, strict=True))
    c9 = 11 - total % 11
    return "X" if c9 == 10 else "0" if c9 == 11 else str(c9)


@dataclass(frozen=True, slots=True)
class _Inst:
    info: InstitutionInfo
    authority: AuthorityInfo
    kind: _Kind
    size: float


class _InstitutionBuilder:
    """Builds one province's institutions deterministically (its own Random)."""

    def __init__(self, province: str) -> None:
        self.rng = random.Random(f"regsync-synthetic/institutions/{province}")
        self.codes: set[str] = set()
        self.names: set[str] = set()
        self.out: list[_Inst] = []

    def org_code(self, region: str, kind: _Kind) -> str:
        rnd = self.rng.random
        while True:
            if kind == "dental_clinic":
                # A company (工商, 91) registered after 2015: organisation code MA + 6.
                head = "91"
                body = "MA" + "".join(_ORG_ALPHABET[int(rnd() * 31)] for _ in range(6))
            elif kind == "private":
                # A private non-profit hospital (民政 民办非企业单位, 52): organisation code MJ + 6.
                head = "52"
                body = "MJ" + "".join(_ORG_ALPHABET[int(rnd() * 31)] for _ in range(6))
            else:
                # Public institution (机构编制 事业单位, 12), old-style numeric organisation code.
                head = "12"
                body = "4" + "".join(str(int(rnd() * 10)) for _ in range(7))
            first17 = head + region + body + _gb11714_check(body)
            code = first17 + credit_code_check_char(first17)
            if code not in self.codes:
                self.codes.add(code)
                return code

    def add(
        self,
        name: str,
        region: str,
        kind: _Kind,
        level: InstitutionLevel,
        authority: AuthorityInfo,
        abbreviation: str | None = None,
        size: float | None = None,
    ) -> None:
        if name in self.names:
            return  # e.g. two counties' generated names clash: keep names unique per province
        self.names.add(name)
        info: InstitutionInfo = {
            "org_code": self.org_code(region, kind),
            "name": name,
            "region_code": region,
            "abbreviation": abbreviation,
            "level": level,
        }
        weight = _SIZE.get((level, kind), 10.0) if size is None else size
        self.out.append(_Inst(info, authority, kind, weight))

    def pick(self, items: Sequence[str]) -> str:
        return items[int(self.rng.random() * len(items))]


def _commission(name: str, region: str) -> AuthorityInfo:
    return {"name": name + "卫生健康委员会", "region_code": region}


def _build_institutions(province: str) -> tuple[_Inst, ...]:
    regions = _regions(province)
    b = _InstitutionBuilder(province)
    pname = PROVINCES[province]
    provincial = _commission(pname, _CORPS_REGION if province == _CORPS else province + "0000")

    # Province level: the famous hospitals where we know them, otherwise the usual set.
    famous = _FAMOUS.get(province, ())
    for name, abbreviation, region, kind, level in famous:
        if level == "province":
            authority = provincial
        else:
            city = next(p for p in regions.prefectures if p.code[:4] == region[:4])
            authority = _commission(city.name, city.code)
        b.add(name, region, kind, level, authority, abbreviation)

    if province == _CORPS:
        _build_corps(b)
        return tuple(b.out)

    capital = regions.counties[0].code[:4]  # GB/T 2260 numbers the capital first (PP01)
    capital_districts = [
        c for c in regions.counties if c.code[:4] == capital and _is_district(c)
    ] or list(regions.counties[:1])
    if not famous:
        for suffix, kind in _PROVINCIAL_SET:
            region = b.pick([c.code for c in capital_districts[:4]])
            b.add(pname + suffix, region, kind, "province", provincial)

    # City level: every prefecture's hospitals, registered by the city's commission.
    counties_of: dict[str, list[_Region]] = {}
    for county in regions.counties:
        if county.parent is not None:
            counties_of.setdefault(county.parent.code, []).append(county)
    for city in regions.prefectures:
        authority = _commission(city.name, city.code)
        own = counties_of.get(city.code, [])
        seat = next((c.code for c in own if _is_district(c)), own[0].code if own else city.code)
        main = "人民医院" if b.rng.random() < 0.6 else "中心医院"
        b.add(city.name + main, seat, "general", "city", authority)
        b.add(city.name + "第二人民医院", seat, "general", "city", authority, size=15)
        tcm_name = "中医院" if b.rng.random() < 0.5 else "中医医院"
        b.add(city.name + tcm_name, seat, "tcm", "city", authority)
        b.add(city.name + "妇幼保健院", seat, "mch", "city", authority)
        b.add(city.name + "疾病预防控制中心", seat, "cdc", "city", authority)
        b.add(city.name + "精神卫生中心", seat, "psych", "city", authority)
        if b.rng.random() < 0.5:
            b.add(city.name + "口腔医院", seat, "dental", "city", authority)
        b.add(city.name + b.pick(_BRANDS[:10]) + "医院", seat, "private", "city", authority)
        if not own:
            # Cities without districts (东莞, 中山, 儋州, 嘉峪关): towns report to the city.
            _build_county_unit(b, city.code, city.name, city.name, authority, district=False)

    # County level: every district, county and county-level city.
    names = [c.name for c in regions.counties]
    for county in regions.counties:
        if county.parent is not None:
            prefix = county.parent.name
        elif province in _MUNICIPALITIES:
            prefix = pname
        else:
            prefix = ""  # county-level cities directly under the province (仙桃市, 济源市)
        full = prefix + county.name
        district = _is_district(county)
        # People say 涞水县人民医院, but 越秀区人民医院 needs its city to be unambiguous.
        base = full if district or names.count(county.name) > 1 else county.name
        authority = _commission(full, county.code)
        _build_county_unit(b, county.code, base, full, authority, district=district)
    return tuple(b.out)


def _build_county_unit(
    b: _InstitutionBuilder,
    region: str,
    base: str,
    full: str,
    authority: AuthorityInfo,
    *,
    district: bool,
) -> None:
    b.add(base + "人民医院", region, "general", "county", authority)
    tcm_name = "中医院" if b.rng.random() < 0.6 else "中医医院"
    b.add(base + tcm_name, region, "tcm", "county", authority)
    b.add(base + "妇幼保健院", region, "mch", "county", authority)
    b.add(base + "疾病预防控制中心", region, "cdc", "county", authority)
    if district:
        for street in _distinct(b, _STREETS, 2):
            b.add(f"{full}{street}街道社区卫生服务中心", region, "community", "county", authority)
    else:
        for k, town in enumerate(_distinct(b, _TOWNS, 3)):
            suffix = "镇中心卫生院" if k == 0 else "镇卫生院" if k == 1 else "乡卫生院"
            b.add(base + town + suffix, region, "township", "county", authority)
    if b.rng.random() < 0.4:
        clinic = full + b.pick(_BRANDS[10:]) + "口腔门诊部"
        b.add(clinic, region, "dental_clinic", "county", authority)


def _build_corps(b: _InstitutionBuilder) -> None:
    """Division (师) hospitals and regiment (团场) hospitals; Corps-level ones are in _FAMOUS."""
    cities = {r.code: r.name for r in _regions(_CORPS).counties}
    for code, division, regiments in _CORPS_DIVISIONS:
        city = cities.get(code, "")
        authority = _commission(division + city, code)
        b.add(division + "医院", code, "general", "city", authority)
        b.add(division + city + "中医医院", code, "tcm", "city", authority)
        b.add(division + city + "妇幼保健院", code, "mch", "city", authority)
        b.add(division + city + "疾病预防控制中心", code, "cdc", "city", authority)
        for regiment in regiments:
            b.add(division + regiment + "医院", code, "township", "county", authority, size=3)


def _distinct(b: _InstitutionBuilder, pool: Sequence[str], n: int) -> list[str]:
    chosen: list[str] = []
    while len(chosen) < n:
        item = b.pick(pool)
        if item not in chosen:
            chosen.append(item)
    return chosen


# --------------------------------------------------------------------------------------------
# Per-province model: everything a record needs, precomputed once
# --------------------------------------------------------------------------------------------

_CATEGORY_SHARES = (
    (Category.CLINICAL, 0.70),
    (Category.TCM, 0.17),
    (Category.DENTAL, 0.07),
    (Category.PUBLIC_HEALTH, 0.06),
)


@dataclass(frozen=True, slots=True)
class _Slot:
    """One institution as seen by the generator for one category."""

    institution: dict[str, str]  # wire shape {org_code, name, region_code}
    authority: AuthorityInfo
    assistant_share: float
    scopes: _Weighted
    multi: bool  # county level or below: up to 3 scopes allowed


@dataclass(frozen=True, slots=True)
class _Pool:
    slots: tuple[_Slot, ...]
    cum: tuple[float, ...]
    total: float


@dataclass(frozen=True, slots=True)
class _Model:
    province: str
    institutions: tuple[_Inst, ...]
    pools: tuple[tuple[float, str, _Pool], ...]  # (cumulative share, category, pool)
    names: _Names
    address_codes: tuple[str, ...]
    address_sums: tuple[int, ...]  # GB 11643 weighted digit sums of the address codes


def _scope_table(province: str, category: Category, kind: _Kind) -> _Weighted:
    if category is Category.CLINICAL:
        weights = _CLINICAL_BY_KIND.get(kind, _CLINICAL_SCOPES)
    elif category is Category.TCM:
        weights = {**_TCM_SCOPES, **_TCM_ETHNIC.get(province, {})}
    elif category is Category.DENTAL:
        weights = {"口腔专业": 1.0}
    else:
        weights = {"公共卫生类别专业": 1.0}
    allowed = SCOPES_BY_CATEGORY[category]
    assert allowed.issuperset(weights), "scope tables must stay inside the vocabulary"
    return _Weighted.of(weights.items())


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def _weighted_sum(digits: str, offset: int) -> int:
    return sum(int(d) * w for d, w in zip(digits, _ID_WEIGHTS[offset:], strict=False))


@cache
def _model(province: str) -> _Model:
    regions = _regions(province)
    insts = _build_institutions(province)
    pools: list[tuple[float, str, _Pool]] = []
    bound = 0.0
    for category, share in _CATEGORY_SHARES:
        slots: list[_Slot] = []
        cum: list[float] = []
        total = 0.0
        for inst in insts:
            weight = inst.size * _CATEGORY_MIX[inst.kind].get(category, 0.0)
            if weight <= 0:
                continue
            level = inst.info["level"]
            grassroots = inst.kind in ("community", "township")
            table = _scope_table(province, category, inst.kind)
            slots.append(
                _Slot(
                    institution={
                        "org_code": inst.info["org_code"],
                        "name": inst.info["name"],
                        "region_code": inst.info["region_code"],
                    },
                    authority=inst.authority,
                    assistant_share=_ASSISTANT_SHARE[(level, grassroots and level == "county")],
                    scopes=table,
                    multi=level == "county" and len(table.items) >= 3,
                )
            )
            total += weight
            cum.append(total)
        bound += share
        pools.append((bound, category.value, _Pool(tuple(slots), tuple(cum), total)))
    # ID address codes: the province's counties (its districts, counties, county-level cities).
    addresses = tuple(c.code for c in regions.counties)
    return _Model(
        province=province,
        institutions=insts,
        pools=tuple(pools),
        names=_Names(province),
        address_codes=addresses,
        address_sums=tuple(_weighted_sum(a, 0) for a in addresses),
    )


@dataclass(frozen=True, slots=True)
class _Dates:
    birth: tuple[str, ...]  # YYYYMMDD, BIRTH_FIRST..BIRTH_LAST
    birth_sums: tuple[int, ...]  # GB 11643 weighted sums of those 8 digits
    registered: tuple[str, ...]  # YYYY-MM-DD, REGISTERED_FIRST..REGISTERED_LAST
    earliest_registration: tuple[int, ...]  # per birth day: first allowed index in `registered`
    seq: tuple[str, ...]  # "000".."999"
    seq_sums: tuple[int, ...]


@cache
def _dates() -> _Dates:
    birth_days = (BIRTH_LAST - BIRTH_FIRST).days + 1
    births = [(BIRTH_FIRST + timedelta(d)).strftime("%Y%m%d") for d in range(birth_days)]
    reg_days = (REGISTERED_LAST - REGISTERED_FIRST).days + 1
    registered = [(REGISTERED_FIRST + timedelta(d)).isoformat() for d in range(reg_days)]
    shift = (BIRTH_FIRST - REGISTERED_FIRST).days + _MIN_AGE_DAYS
    earliest = [min(max(0, d + shift), reg_days - 1) for d in range(birth_days)]
    seqs = [f"{n:03d}" for n in range(1000)]
    return _Dates(
        birth=tuple(births),
        birth_sums=tuple(_weighted_sum(b, 6) for b in births),
        registered=tuple(registered),
        earliest_registration=tuple(earliest),
        seq=tuple(seqs),
        seq_sums=tuple(_weighted_sum(s, 14) for s in seqs),
    )


def _id_permutation(province: str, seed: int, size: int) -> tuple[int, int]:
    """Multiplier and offset of an affine bijection on range(size), derived from the seed."""
    digest = hashlib.sha256(f"regsync-synthetic/id/{province}/{seed}".encode()).digest()
    # Start near size/phi so consecutive indexes land far apart (a low-discrepancy walk).
    a = int(size * 0.6180339887) + int.from_bytes(digest[:4], "big") % 1000
    while math.gcd(a, size) != 1:
        a += 1
    return a, int.from_bytes(digest[8:16], "big") % size


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def institutions(province: str) -> list[InstitutionInfo]:
    """The province's institutions, real major hospitals first; fresh copies on every call."""
    return [InstitutionInfo(**inst.info) for inst in _model(province).institutions]


def issuing_authority_for(province: str, org_code: str) -> AuthorityInfo:
    """The health commission that registers physicians of the institution `org_code`."""
    for inst in _model(province).institutions:
        if inst.info["org_code"] == org_code:
            return AuthorityInfo(**inst.authority)
    raise KeyError(f"no institution {org_code} in province {province}")


def capacity(province: str) -> int:
    """How many distinct records `registrations` can produce for the province."""
    return min(
        len(_model(province).address_codes) * len(_dates().birth) * _SEQ_PAIRS,
        10**_CERT_INDEX_DIGITS,
    )


def registrations(
    province: str, count: int, seed: int = 0, start: int = 0
) -> Iterator[dict[str, Any]]:
    """Yield `count` POST /v1/registrations bodies: records start..start+count-1 of the seed.

    Record i is a function of (province, seed, i) only, so batches can be generated
    independently (in parallel, or resumed) and still agree.
    """
    if count < 0 or start < 0:
        raise ValueError("count and start must not be negative")
    model = _model(province)  # raises ValueError for an unknown province
    limit = capacity(province)
    if start + count > limit:
        raise ValueError(f"province {province} can generate at most {limit} distinct records")
    return _generate(model, seed, start, count)


def _generate(model: _Model, seed: int, start: int, count: int) -> Iterator[dict[str, Any]]:
    dates = _dates()
    births, birth_sums = dates.birth, dates.birth_sums
    registered, earliest = dates.registered, dates.earliest_registration
    n_registered = len(registered)
    seqs, seq_sums = dates.seq, dates.seq_sums
    addresses, address_sums = model.address_codes, model.address_sums
    n_days = len(births)
    size = len(addresses) * n_days * _SEQ_PAIRS
    mul, add = _id_permutation(model.province, seed, size)
    pools = model.pools
    _, last_category, last_pool = pools[-1]
    draw_name = model.names.draw
    cert_prefix = f"{model.province}{seed % 1000:03d}"
    end = start + count

    for block in range(start // _BLOCK, (end + _BLOCK - 1) // _BLOCK):
        rng = random.Random(f"regsync-synthetic/{model.province}/{seed}/{block}")
        rnd = rng.random
        first = block * _BLOCK
        for i in range(first, min(first + _BLOCK, end)):
            # Category by the national mix, then an institution employing that category.
            u = rnd()
            category, pool = last_category, last_pool  # u beyond the last bound by rounding
            for bound, cat, pl in pools:
                if u < bound:
                    category, pool = cat, pl
                    break
            slot = pool.slots[min(bisect(pool.cum, rnd() * pool.total), len(pool.slots) - 1)]
            level = "assistant" if rnd() < slot.assistant_share else "physician"
            table = slot.scopes
            scopes = [table.draw(rnd)]
            if slot.multi:
                v = rnd()
                want = 3 if v < _P_THREE_SCOPES else 2 if v < _P_TWO_SCOPES else 1
                while len(scopes) < want:
                    extra = table.draw(rnd)
                    if extra not in scopes:
                        scopes.append(extra)
            male = rnd() < 0.5
            name = draw_name(rnd, male)

            # ID number from the index alone: unique by construction (see module docstring).
            j = (mul * i + add) % size
            rest, pair = divmod(j, _SEQ_PAIRS)
            addr, day = divmod(rest, n_days)
            seq = 2 * pair + (1 if male else 2)
            check = _ID_CHECK[(address_sums[addr] + birth_sums[day] + seq_sums[seq]) % 11]
            lo = earliest[day]
            reg = lo + int(rnd() * (n_registered - lo))

            if i < start:
                continue  # replaying the block up to `start`: same draws, nothing to yield
            yield {
                "cert_no": f"{cert_prefix}{i:010d}",
                "name": name,
                "gender": "male" if male else "female",
                "id_number": addresses[addr] + births[day] + seqs[seq] + check,
                "level": level,
                "category": category,
                "scopes": scopes,
                # Copies: callers may mutate rows; the cached pools must not change.
                "primary_institution": dict(slot.institution),
                "issuing_authority": dict(slot.authority),
                "registered_on": registered[reg],
            }


def _flat(row: Mapping[str, Any]) -> tuple[str, ...]:
    institution = row["primary_institution"]
    authority = row["issuing_authority"]
    return (
        row["cert_no"],
        row["name"],
        row["gender"],
        row["id_number"],
        row["level"],
        row["category"],
        ";".join(row["scopes"]),
        institution["org_code"],
        institution["name"],
        institution["region_code"],
        authority["name"],
        authority["region_code"],
        row["registered_on"],
    )


def _private(path: str | Path, mode: str, **kw: Any) -> IO[Any]:
    """Open path for writing, owner-only (0600) whatever the umask: the rows hold ID numbers."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    return open(fd, mode, **kw)


def write_jsonl(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write rows as JSON Lines (UTF-8, characters unescaped); return how many were written."""
    n = 0
    with _private(path, "wb") as f:
        for row in rows:
            f.write(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))
            n += 1
    return n


def write_csv(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write rows as CSV with `CSV_HEADER` (UTF-8, no BOM, scopes joined by ';')."""
    n = 0
    with _private(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_HEADER)
        for row in rows:
            writer.writerow(_flat(row))
            n += 1
    return n
