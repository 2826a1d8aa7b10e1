"""National search: parameter validation, matching rules, ranking and cursor paging on DuckDB."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from national_hub.errors import BadRequest
from national_hub.query.aliases import AliasTable
from national_hub.query.search import SearchParams, public_item, run_search
from national_hub.store.schema import RECORDS_DDL
from national_hub.store.store import Store
from schemas.record import Institution, PracticeSite, Record
from schemas.samples import PRIMARY_INSTITUTION, SECOND_INSTITUTION, credit_code, sample_record
from schemas.vocab import Category, Status
from tests.national_hub.records import insert_record

PUMCH = Institution(
    org_code=credit_code("12100000400000011"), name="北京协和医院", region_code="110101"
)
WUHAN_UNION = Institution(
    org_code=credit_code("12420000441300011"),
    name="华中科技大学同济医学院附属协和医院",
    region_code="420103",
)
SITE_CQMU1 = PracticeSite(**PRIMARY_INSTITUTION.model_dump(), start_date=date(2026, 1, 1))

# (province, record): cert_nos chosen so that ranking, not cert_no order, decides the tests.
ROWS: list[tuple[str, Record]] = [
    ("50", sample_record(cert_no="500000000000001", name="张伟")),
    ("11", sample_record(cert_no="110000000000002", name="张伟", primary_institution=PUMCH)),
    ("50", sample_record(cert_no="100000000000003", name="张伟华")),
    ("50", sample_record(cert_no="500000000000004", name="张为")),
    ("65", sample_record(cert_no="650000000000005", name="买买提·艾力")),
    (
        "50",
        sample_record(
            cert_no="500000000000006",
            name="王小明",
            primary_institution=SECOND_INSTITUTION,
            practice_sites=(SITE_CQMU1,),
        ),
    ),
    (
        "50",
        sample_record(
            cert_no="500000000000007",
            name="李娜",
            status=Status.CANCELLED,
            status_reason="本人主动申请",
            category=Category.TCM,
            scopes=("中医专业",),
        ),
    ),
    ("42", sample_record(cert_no="100000000000008", name="刘洋", primary_institution=WUHAN_UNION)),
]


def insert(con: duckdb.DuckDBPyConnection, province: str, record: Record) -> None:
    insert_record(
        con,
        province,
        record,
        version=1,
        synced_at=datetime(2026, 11, 22, 4, 0, 1, 500000, tzinfo=UTC),
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """The hub's Store over a DuckDB file holding ROWS."""
    path: Path = tmp_path_factory.mktemp("search") / "national.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute(RECORDS_DDL)
        for province, record in ROWS:
            insert(connection, province, record)
    store = Store.open(path)
    yield store
    store.close()


class Hub:
    """Runs searches the way the API does: run_search over the hub's Store."""

    def __init__(self, store: Store, aliases: AliasTable) -> None:
        self.store, self.aliases = store, aliases

    async def page(self, **query: str) -> tuple[list[dict[str, Any]], str | None]:
        return await run_search(self.store, SearchParams.from_query(query), self.aliases)

    async def search(self, **query: str) -> list[str]:
        """cert_nos of the first page, in order."""
        return [row["cert_no"] for row in (await self.page(**query))[0]]

    async def all_pages(self, **query: str) -> list[str]:
        seen: list[str] = []
        cursor: dict[str, str] = {}
        while True:
            rows, next_cursor = await self.page(**query, **cursor)
            seen += [row["cert_no"] for row in rows]
            if next_cursor is None:
                return seen
            cursor = {"cursor": next_cursor}


@pytest.fixture(scope="module")
def hub(store: Store) -> Hub:
    return Hub(store, AliasTable.load())


def field_of(exc: pytest.ExceptionInfo[BadRequest]) -> str:
    return exc.value.details[0]["field"]


ZHANG_WEI = ["110000000000002", "500000000000001"]


async def test_pinyin_with_space_finds_chinese_name(hub: Hub) -> None:
    assert set(ZHANG_WEI) <= set(await hub.search(name="zhang wei"))


async def test_chinese_name_with_space_matches(hub: Hub) -> None:
    assert await hub.search(name="张 伟") == ZHANG_WEI


async def test_full_width_pinyin_matches_like_half_width(hub: Hub) -> None:
    assert await hub.search(name="ＺＨＡＮＧ　ＷＥＩ") == await hub.search(name="zhangwei")


async def test_chinese_name_with_ideographic_space_matches(hub: Hub) -> None:
    assert await hub.search(name="张　伟") == ZHANG_WEI


async def test_minority_name_found_without_middle_dot(hub: Hub) -> None:
    assert await hub.search(name="买买提艾力") == ["650000000000005"]


async def test_minority_name_found_with_other_dot_form(hub: Hub) -> None:
    assert await hub.search(name="买买提•艾力") == ["650000000000005"]


async def test_exact_pinyin_ranked_before_prefix(hub: Hub) -> None:
    # 张为 is a homophone (exact pinyin); 张伟华 only shares the prefix, despite its low cert_no.
    expected = [*ZHANG_WEI, "500000000000004", "100000000000003"]
    assert await hub.search(name="zhangwei") == expected


async def test_pinyin_prefix_matches(hub: Hub) -> None:
    assert "100000000000003" in await hub.search(name="zhangweih")


async def test_chinese_name_is_not_prefix_matched(hub: Hub) -> None:
    assert "100000000000003" not in await hub.search(name="张伟")


async def test_institution_abbreviation_finds_primary_and_site(hub: Hub) -> None:
    found = await hub.search(institution="重医附一院")
    assert {"500000000000001", "500000000000006"} <= set(found)


async def test_institution_full_name_finds_filed_site(hub: Hub) -> None:
    assert "500000000000006" in await hub.search(institution="重庆医科大学附属第一医院")


async def test_institution_credit_code_ranks_primary_before_site(hub: Hub) -> None:
    found = await hub.search(institution=PRIMARY_INSTITUTION.org_code.lower())
    assert found[-1] == "500000000000006" and len(found) == 6


async def test_institution_abbreviation_ranked_before_substring(hub: Hub) -> None:
    # 协和 is 北京协和医院; 武汉协和 only contains the text, and has the lower cert_no.
    assert await hub.search(institution="协和") == ["110000000000002", "100000000000008"]


async def test_name_and_institution_combine(hub: Hub) -> None:
    assert await hub.search(name="zhangwei", institution="北京协和") == ["110000000000002"]


async def test_province_filter(hub: Hub) -> None:
    assert await hub.search(name="张伟", province="11") == ["110000000000002"]


async def test_status_filter_accepts_chinese_label(hub: Hub) -> None:
    assert await hub.search(institution="重医附一院", status="注销") == ["500000000000007"]


async def test_category_and_scope_filters(hub: Hub) -> None:
    found = await hub.search(institution="重医附一院", category="中医", scope="中医专业")
    assert found == ["500000000000007"]


async def test_cursor_paging_returns_every_row_once(hub: Hub) -> None:
    one_page = await hub.search(institution="重医附一院", limit="100")
    assert await hub.all_pages(institution="重医附一院", limit="1") == one_page


async def test_last_page_has_no_cursor(hub: Hub) -> None:
    assert (await hub.page(name="张伟", limit="2"))[1] is None


async def test_tampered_cursor_is_refused(hub: Hub) -> None:
    cursor = (await hub.page(name="zhangwei", limit="1"))[1]
    assert cursor is not None
    tampered = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]
    with pytest.raises(BadRequest) as exc:
        SearchParams.from_query({"name": "zhangwei", "limit": "1", "cursor": tampered})
    assert field_of(exc) == "cursor"


async def test_cursor_of_another_query_is_refused(hub: Hub) -> None:
    cursor = (await hub.page(name="zhangwei", limit="1"))[1]
    assert cursor is not None
    with pytest.raises(BadRequest) as exc:
        SearchParams.from_query({"name": "zhangwei", "province": "50", "cursor": cursor})
    assert field_of(exc) == "cursor"


def test_garbage_cursor_is_refused() -> None:
    with pytest.raises(BadRequest) as exc:
        SearchParams.from_query({"name": "zhangwei", "cursor": "!!not-base64!!"})
    assert field_of(exc) == "cursor"


def test_no_name_nor_institution_is_refused() -> None:
    with pytest.raises(BadRequest) as exc:
        SearchParams.from_query({"province": "50"})
    assert field_of(exc) == "name"


def test_one_character_name_is_refused() -> None:
    with pytest.raises(BadRequest) as exc:
        SearchParams.from_query({"name": "张 ·"})
    assert field_of(exc) == "name"


@pytest.mark.parametrize("limit", ["0", "101", "ten"])
def test_bad_limit_is_refused(limit: str) -> None:
    with pytest.raises(BadRequest) as exc:
        SearchParams.from_query({"name": "zhangwei", "limit": limit})
    assert field_of(exc) == "limit"


@pytest.mark.parametrize(
    ("field", "value"),
    [("province", "99"), ("category", "surgery"), ("scope", "不存在专业"), ("status", "x")],
)
def test_unknown_filter_value_is_refused(field: str, value: str) -> None:
    with pytest.raises(BadRequest) as exc:
        SearchParams.from_query({"name": "zhangwei", field: value})
    assert field_of(exc) == field


def test_blank_parameters_mean_no_filter() -> None:
    params = SearchParams.from_query({"name": "zhangwei", "province": "", "status": " "})
    assert (params.province, params.status) == (None, None)


async def test_public_item_drops_person_ref_and_adds_sync_facts(hub: Hub) -> None:
    item = public_item((await hub.page(name="买买提艾力"))[0][0])
    assert "person_ref" not in item
    assert (item["province"], item["record_version"], item["synced_at"]) == (
        "65",
        1,
        "2026-11-22T04:00:01.500Z",
    )
