"""Each province's freshness line, and a plain warning for every state that is not ok."""

from __future__ import annotations

import pytest

from national_hub.web.pages.freshness_text import (
    ago,
    freshness_line,
    freshness_lines,
    site_summary,
)


def test_an_ok_province_reads_as_the_issue_writes_it() -> None:
    line = freshness_line("50", 0.42, "ok")
    assert (line.text, line.warning) == ("重庆市：数据同步至 0.4 秒前", None)


@pytest.mark.parametrize(
    ("status", "words"),
    [
        ("lagging", "广东省的数据同步有延迟"),
        ("stalled", "广东省的数据同步已停滞"),
        ("publishing_blocked", "广东省平台暂时无法向全国发送数据"),
        ("offline", "广东省平台目前离线"),
        ("unknown", "尚未收到广东省的同步状态"),
    ],
)
def test_each_state_that_is_not_ok_warns_plainly(status: str, words: str) -> None:
    warning = freshness_line("44", 30.0, status).warning
    assert warning is not None and words in warning


def test_the_state_is_written_out_not_only_coloured() -> None:
    assert freshness_line("44", 300.0, "offline").state_label == "离线"


def test_an_unknown_lag_says_so() -> None:
    assert freshness_line("11", None, None).text == "北京市：同步时间未知"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.04, "0.0 秒前"), (12.7, "12 秒前"), (300, "5 分钟前"), (7200, "2 小时前"), (2e5, "2 天前")],
)
def test_lags_read_in_the_unit_a_person_expects(seconds: float, text: str) -> None:
    assert ago(seconds) == text


def test_lines_follow_the_results_order_each_province_once() -> None:
    fresh = {"50": {"lag_seconds": 0.1, "status": "ok"}, "44": {"lag_seconds": 2, "status": "ok"}}
    assert [line.province for line in freshness_lines(fresh, ["44", "50", "44"])] == ["44", "50"]


def test_the_footer_names_the_provinces_that_need_attention() -> None:
    fresh = {
        "50": {"lag_seconds": 0.1, "status": "ok"},
        "44": {"lag_seconds": 90, "status": "lagging"},
    }
    assert site_summary(fresh) == "2 个省级平台中 1 个同步正常；需注意：广东省（同步延迟）。"
