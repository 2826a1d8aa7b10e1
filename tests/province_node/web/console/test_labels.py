"""The console's wording of values (labels): masking, Chinese labels, Beijing time, the
pending change's lines."""

from __future__ import annotations

from province_node.web.console import labels


def test_an_id_number_is_masked_to_its_region_and_last_four() -> None:
    assert labels.mask_id("50010319491231002X") == "500103********002X"


def test_a_short_value_is_masked_entirely() -> None:
    assert labels.mask_id("12345") == "*****"


def test_a_status_has_its_chinese_label() -> None:
    assert labels.status_label("suspended") == "暂停执业"


def test_an_unknown_status_is_shown_as_it_is() -> None:
    assert labels.status_label("bogus") == "bogus"


def test_the_badge_of_a_revoked_registration_is_the_bad_one() -> None:
    assert labels.status_badge("revoked") == "badge-bad"


def test_utc_is_shown_in_beijing_time() -> None:
    assert labels.beijing_time("2026-12-05T16:44:01.123Z") == "2026-12-06 00:44:01"


def test_an_event_type_has_its_chinese_label() -> None:
    assert labels.event_label("reinstated") == "恢复执业"


def test_a_pending_change_lists_old_and_new() -> None:
    record = {
        "category": "clinical",
        "scopes": ["内科专业"],
        "pending_change": {"category": "tcm", "scopes": ["中医专业"]},
    }
    lines = [(c.label, c.old, c.new) for c in labels.pending_changes(record)]
    assert lines == [("执业类别", "临床", "中医"), ("执业范围", "内科专业", "中医专业")]


def test_no_pending_change_has_no_lines() -> None:
    assert labels.pending_changes({"status": "active"}) == []
